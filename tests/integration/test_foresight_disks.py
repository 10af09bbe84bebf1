"""Lag foresight and broker disks on a real cluster (issue 14).

One private KRaft cluster for the module, made with two log dirs per broker (JBOD) and a
retention check every second, so that retention deletes within seconds and a disk can fail
for real while its broker runs on:
- a stopped group on a topic with a short retention.ms: the retention_risk rule fires while
  the log start (GetOffsetShell, Kafka's own) is still at or below the group's committed
  offset, and the offset_below_log_start event comes when it passes it; a group that consumes
  faster than the topic is produced to gets a finite time to catch up, the stopped one +Inf;
- a broker's second log dir removed under it: the broker reports it offline
  (KAFKA_STORAGE_ERROR, LogDirsCommand agrees), the watchdog's log_dir_offline event and rule
  name exactly the partitions that had a replica there, and its page comes before the
  under-replicated one could.
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from kafka_watchdog.alerting.evaluation import effective_rules, evaluate
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.alerting import RuleOverride
from kafka_watchdog.config.schema import ClusterConfig, CollectionConfig, LagConfig
from kafka_watchdog.model.events import CommitBelowStart, EventKind, LogDirChange
from kafka_watchdog.rules.finding import Finding
from testcluster import KraftCluster, RateConsumer, RateProducer
from tests.integration.watching import in_thread, until, wait_event

pytestmark = pytest.mark.integration

COLLECTION = CollectionConfig(
    metadata_interval=1.0,
    offsets_interval=1.0,
    configs_interval=5.0,
    log_dirs_interval=2.0,
    request_timeout=5.0,
)
RETENTION_MS = 60_000
# retention_risk fires when at most this much time is left: the record is then still there
# for at least as long (the time bound is a lower bound), long enough to ask Kafka.
RISK_THRESHOLD = 40.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KraftCluster]:
    made = KraftCluster(
        tmp_path_factory.mktemp("jbod-cluster"),
        broker_config={"log.retention.check.interval.ms": "1000"},
    ).with_log_dirs(2)
    made.start()
    try:
        yield made
    finally:
        made.stop()


@pytest.fixture
async def watcher(cluster: KraftCluster) -> AsyncIterator[ClusterWatcher]:
    config = ClusterConfig(name="jbod", bootstrap_servers=cluster.bootstrap_servers.split(","))
    w = ClusterWatcher(config, COLLECTION, LagConfig(window=10.0, min_samples=3))
    await w.start()
    try:
        await until(lambda: w.store.latest is not None, "a first view of the cluster", 60)
        yield w
    finally:
        await w.stop()


def findings(watcher: ClusterWatcher, rule: str, **overrides: Any) -> list[Finding]:
    rules = effective_rules({rule: RuleOverride(**overrides)} if overrides else {})
    return [f for f in evaluate(rules, [watcher.state], time.time())[0] if f.rule == rule]


def earliest(cluster: KraftCluster, topic: str) -> int:
    """Kafka's own answer: GetOffsetShell --time -2 (the log start offset)."""
    out = cluster.run_tool("GetOffsetShell", "--topic", topic, "--time", "-2")
    return int(out.strip().splitlines()[-1].rsplit(":", 1)[1])


def commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


async def test_retention_risk_fires_before_the_loss_and_the_loss_is_an_event(
    cluster: KraftCluster, watcher: ClusterWatcher
) -> None:
    topic = f"short-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(
        topic,
        partitions=1,
        rf=3,
        config={"retention.ms": str(RETENTION_MS), "segment.ms": "2000"},
    )
    stopped, keen = f"stopped-{uuid.uuid4().hex[:6]}", f"keen-{uuid.uuid4().hex[:6]}"
    with RateProducer(cluster.bootstrap_servers, topic, rate=20) as producer:
        await in_thread(producer.wait_acked, 40, 60)
        # The stopped group read 10 records and went away; the keen one reads 3x faster than
        # the topic grows, from the start.
        await in_thread(commit, cluster.bootstrap_servers, stopped, topic, 10)
        with RateConsumer(cluster.bootstrap_servers, topic, keen, rate=60) as consumer:
            risk = await until(
                lambda: [
                    f
                    for f in findings(watcher, "retention_risk", threshold=RISK_THRESHOLD)
                    if f.labels["group"] == stopped
                ],
                "retention_risk for the stopped group",
                90,
            )
            start = await in_thread(earliest, cluster, topic)
            assert start <= 10, f"the log start {start} already passed the committed offset 10"
            assert risk[0].labels == {
                "kafka_cluster": "jbod",
                "group": stopped,
                "topic": topic,
                "partition": "0",
            }
            assert 0 <= risk[0].value <= RISK_THRESHOLD

            def catchup(group: str) -> float | None:
                seen = watcher.state.foresight.get(group)
                t = seen.topics.get(topic) if seen is not None else None
                return t.catchup_seconds if t is not None else None

            await in_thread(consumer.wait_assigned, 60)
            assert catchup(stopped) == math.inf  # nobody consumes: never
            # keen is caught up (0) once its oldest unread record is young: before that a
            # finite time, never +Inf.
            await until(lambda: catchup(keen) is not None, "the keen group's time to catch up")
            assert catchup(keen) != math.inf

            lost = await wait_event(watcher, EventKind.OFFSET_BELOW_LOG_START, topic, 0, within=120)
            assert lost.group == stopped and isinstance(lost.change, CommitBelowStart)
            assert lost.change.before == 10
            assert await in_thread(earliest, cluster, topic) >= lost.change.after > 10
            assert watcher.state.records_skipped[(stopped, topic)] >= lost.change.skipped
            deleted = findings(watcher, "records_deleted_unread")
            assert [f.labels["group"] for f in deleted] == [stopped]
            # Lost is lost: the forecast is no longer about this partition.
            assert not [
                f
                for f in findings(watcher, "retention_risk", threshold=RISK_THRESHOLD)
                if f.labels["group"] == stopped
            ]


def log_dirs_command(cluster: KraftCluster, broker: int) -> dict[str, dict[str, Any]]:
    """Kafka's own LogDirsCommand: log dir -> {error, partitions}."""
    out = cluster.run_tool("LogDirsCommand", "--describe", "--broker-list", str(broker))
    doc = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    (entry,) = doc["brokers"]
    return {
        d["logDir"]: {
            "error": d.get("error"),
            "partitions": {p["partition"] for p in d.get("partitions", [])},
        }
        for d in entry["logDirs"]
    }


async def test_a_failed_log_dir_is_named_with_the_partitions_that_lost_a_replica(
    cluster: KraftCluster, watcher: ClusterWatcher
) -> None:
    topic = f"jbod-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, partitions=6, rf=3)
    broker = cluster.broker(2)
    doomed = str(broker.data_dirs[1])
    before = await in_thread(log_dirs_command, cluster, 2)
    on_doomed = {p for p in before[doomed]["partitions"] if p.startswith(topic)}
    assert on_doomed, f"no replica of {topic} on {doomed}: {before}"

    def seen_on_doomed() -> set[str]:
        b = watcher.state.log_dirs.get(2)
        d = b.dirs.get(doomed) if b is not None else None
        return {f"{t}-{p}" for t, p in d.replicas} if d is not None and d.online else set()

    await until(lambda: on_doomed <= seen_on_doomed(), f"the watchdog's view of {doomed}", 60)
    expected = seen_on_doomed()
    assert expected == before[doomed]["partitions"]  # the same as Kafka's own tool

    shutil.rmtree(doomed)  # the disk is gone under the running broker
    offline = await wait_event(
        watcher,
        EventKind.LOG_DIR_OFFLINE,
        within=90,
        where=lambda e: isinstance(e.change, LogDirChange) and e.change.path == doomed,
    )
    assert offline.broker == 2 and isinstance(offline.change, LogDirChange)
    # Kafka 4 answers a vanished mount point with UNKNOWN_SERVER_ERROR (it cannot read the
    # volume's size); offline either way.
    assert offline.change.after in ("UNKNOWN_SERVER_ERROR", "KAFKA_STORAGE_ERROR")
    assert {f"{t}-{p}" for t, p in offline.change.partitions} == expected
    assert (await in_thread(log_dirs_command, cluster, 2))[doomed]["error"] is not None
    assert cluster.broker(2).running  # the broker runs on with its other dir

    # Until the broker does I/O on the vanished dir it has not marked it offline itself (its
    # answer is UNKNOWN_SERVER_ERROR: it cannot stat the path), and recreating the path now
    # would make it answer as if nothing happened. On a busy machine that I/O may not have
    # come yet: write to the topic until Kafka's own tool says the dir failed.
    def kafka_marked_it_offline() -> bool:
        producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "1"})
        for partition in range(6):
            producer.produce(topic, b"x", partition=partition)
        producer.flush(10)
        error = log_dirs_command(cluster, 2)[doomed]["error"] or ""
        return "KafkaStorageException" in error

    deadline = time.monotonic() + 90
    while not await in_thread(kafka_marked_it_offline):
        assert time.monotonic() < deadline, f"LogDirsCommand never reported {doomed} failed"

    # The mount point is back, empty (a replaced disk not yet in use): the broker keeps the
    # dir offline, now as KAFKA_STORAGE_ERROR, and nothing is claimed to have come back.
    await in_thread(functools.partial(Path(doomed).mkdir, parents=True))
    after = await in_thread(log_dirs_command, cluster, 2)
    assert "KafkaStorageException" in (after[doomed]["error"] or ""), after[doomed]

    def state() -> str | None:
        return watcher.state.log_dirs[2].dirs[doomed].error

    await until(lambda: state() == "KAFKA_STORAGE_ERROR", "KAFKA_STORAGE_ERROR in the view", 30)
    assert [e for e in watcher.events if e.kind is EventKind.LOG_DIR_ONLINE and e.broker == 2] == []

    (alert,) = findings(watcher, "log_dir_offline")
    assert alert.labels == {"kafka_cluster": "jbod", "broker": "2", "log_dir": doomed}
    assert alert.severity == "critical" and alert.value == len(expected)
    # The page does not wait: log_dir_offline fires at once, under_replicated only after its
    # `for` (2 minutes by default) of ISRs that shrink as the broker drops the dir.
    shrinks = [e for e in watcher.events if e.kind is EventKind.ISR_SHRINK and e.topic == topic]
    first_shrink = min((e.observed_at for e in shrinks), default=None)
    print(
        "log dir offline seen",
        "before any ISR shrink"
        if first_shrink is None
        else f"{offline.observed_at - first_shrink:+.1f}s after the first ISR shrink",
    )
    under = effective_rules({})["under_replicated"].for_
    assert first_shrink is None or offline.observed_at < first_shrink + under
