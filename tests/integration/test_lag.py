"""Consumer lag against Kafka's own ConsumerGroupCommand, lag in seconds against the real age
of records, and the lag status rules on real groups (issue: Prometheus exporter)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.schema import ClusterConfig, LagConfig
from kafka_watchdog.model.lag import GroupLag, LagStatus
from testcluster import RateConsumer, RateProducer
from tests.integration.watching import FAST, in_thread, until

pytestmark = pytest.mark.integration

# A short window so that a status settles within seconds: 1 s offsets cycles, 6 s window.
WINDOW = 6.0


@pytest.fixture(params=["zk", "kraft"])
def cluster(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_cluster")


@pytest.fixture
async def watcher(cluster: Any) -> AsyncIterator[ClusterWatcher]:
    config = ClusterConfig(name="lag", bootstrap_servers=cluster.bootstrap_servers.split(","))
    w = ClusterWatcher(config, FAST, LagConfig(window=WINDOW, min_samples=3))
    await w.start()
    try:
        await until(lambda: w.store.latest is not None, "a first view of the cluster", 60)
        yield w
    finally:
        await w.stop()


def new_topic(cluster: Any, partitions: int) -> str:
    name = f"lag-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(name, partitions=partitions, rf=3)
    return name


def produce(bootstrap: str, topic: str, per_partition: dict[int, int]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for partition, count in per_partition.items():
        for i in range(count):
            producer.produce(topic, value=b"x" * 50, partition=partition, key=str(i).encode())
    assert producer.flush(60) == 0


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit as a group without joining it: the group stays Empty (no members)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()


ROW = re.compile(r"^(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s|$)")


def consumer_group_command(cluster: Any, group: str) -> dict[tuple[str, int], tuple[str, str]]:
    """(topic, partition) -> (CURRENT-OFFSET, LAG) as the tool prints them ('-' if none)."""
    out = cluster.run_tool("ConsumerGroupCommand", "--describe", "--group", group)
    rows = {}
    for line in out.splitlines():
        m = ROW.match(line.strip())
        if m and m.group(1) == group:
            rows[(m.group(2), int(m.group(3)))] = (m.group(4), m.group(6))
    return rows


def group_lag(watcher: ClusterWatcher, group: str) -> GroupLag | None:
    return watcher.lag.latest.get(group)


async def test_lag_and_offsets_equal_consumer_group_command(
    cluster: Any, watcher: ClusterWatcher
) -> None:
    topic = new_topic(cluster, partitions=3)
    await in_thread(produce, cluster.bootstrap_servers, topic, {0: 120, 1: 80, 2: 40})
    ends = {(topic, 0): 120, (topic, 1): 80, (topic, 2): 40}
    # Empty (no members) with commits on every partition; Empty with a commit on partition 0
    # only (the tool lists that one); Stable, a member that read everything and holds on.
    empty, partial, live = (f"{k}-{uuid.uuid4().hex[:6]}" for k in ("empty", "partial", "live"))
    await in_thread(
        commit, cluster.bootstrap_servers, empty, {(topic, 0): 100, (topic, 1): 80, (topic, 2): 5}
    )
    await in_thread(commit, cluster.bootstrap_servers, partial, {(topic, 0): 7})
    with RateConsumer(cluster.bootstrap_servers, topic, live, commit_interval=0.2) as member:
        await in_thread(member.wait_consumed, 240, 60)
        member.set_rate(0)

        def quiesced(group: str, partitions: int, committed: int) -> bool:
            lag = group_lag(watcher, group)
            return (
                lag is not None
                and len(lag.partitions) == partitions
                and sum(p.committed for p in lag.partitions) == committed
                and all(p.log_end == ends[(p.topic, p.partition)] for p in lag.partitions)
            )

        for group, partitions, committed in ((empty, 3, 185), (partial, 1, 7), (live, 3, 240)):
            await until(
                lambda g=group, n=partitions, c=committed: quiesced(g, n, c),  # type: ignore[misc]
                f"{group}'s commits in the view",
                60,
            )
        for group in (empty, partial, live):
            tool = await in_thread(consumer_group_command, cluster, group)
            lag = group_lag(watcher, group)
            assert lag is not None
            ours = {(p.topic, p.partition): (str(p.committed), str(p.lag)) for p in lag.partitions}
            # Partitions the tool shows without an offset ("-") have none in the watchdog.
            expected = {tp: row for tp, row in tool.items() if row[0] != "-"}
            assert ours == expected, f"{group}: watchdog {ours} != ConsumerGroupCommand {tool}"
        assert group_lag(watcher, live).members == 1  # type: ignore[union-attr]
    assert {p.partition: p.lag for p in group_lag(watcher, empty).partitions} == {  # type: ignore[union-attr]
        0: 20,
        1: 0,
        2: 35,
    }


async def test_lag_seconds_is_the_age_of_the_next_unread_record(
    cluster: Any, watcher: ClusterWatcher
) -> None:
    """A producer at a known rate; a group committed at a known record: the estimate is
    within one offsets interval of the age of that record."""
    topic = new_topic(cluster, partitions=1)
    group = f"age-{uuid.uuid4().hex[:6]}"
    with RateProducer(cluster.bootstrap_servers, topic, rate=50, acks="all") as producer:
        await in_thread(producer.wait_acked, 100, 30)
        # The record the group will be stuck at, and when it was written (acked).
        stuck_at = await in_thread(_log_end, cluster, topic)
        written = time.time()
        await in_thread(commit, cluster.bootstrap_servers, group, {(topic, 0): stuck_at})
        await in_thread(producer.wait_acked, producer.acked + 400, 30)  # ~8 s more

        def estimate() -> tuple[float, float] | None:
            lag = group_lag(watcher, group)
            if lag is None or lag.partitions[0].lag_seconds is None:
                return None
            return lag.partitions[0].lag_seconds, time.time() - written

        got = await until(estimate, "a lag in seconds for the group", 30)
        await in_thread(time.sleep, 2)
        got = estimate()
    assert got is not None
    estimated, real = got
    # One offsets interval (1 s) of collection staleness, plus the log end/ack skew of
    # reading `stuck_at` (under one 50/s step).
    assert abs(estimated - real) <= FAST.offsets_interval + 0.5, (estimated, real)


def _log_end(cluster: Any, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "probe"})
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return int(high)
    finally:
        consumer.close()


async def wait_status(
    watcher: ClusterWatcher, group: str, status: LagStatus, within: float = 40.0
) -> None:
    await until(
        lambda: (lag := group_lag(watcher, group)) is not None and lag.status is status,
        lambda: (
            f"{group} to be {status.value}, is {getattr(group_lag(watcher, group), 'status', None)}"
        ),
        within,
    )


async def test_lag_status_ok_stall_stop_rewind(cluster: Any, watcher: ClusterWatcher) -> None:
    topic = new_topic(cluster, partitions=1)
    keeping_up = f"ok-{uuid.uuid4().hex[:6]}"
    stalled = f"stall-{uuid.uuid4().hex[:6]}"
    stopped = f"stop-{uuid.uuid4().hex[:6]}"
    with RateProducer(cluster.bootstrap_servers, topic, rate=40, acks="all") as producer:
        await in_thread(producer.wait_acked, 40, 30)
        with (
            RateConsumer(cluster.bootstrap_servers, topic, keeping_up) as ok,
            RateConsumer(cluster.bootstrap_servers, topic, stalled) as stall,
            RateConsumer(cluster.bootstrap_servers, topic, stopped) as stop,
        ):
            for c in (ok, stall, stop):
                await in_thread(c.wait_consumed, 20, 60)
            await wait_status(watcher, keeping_up, LagStatus.OK)
            # Still a member holding the partition, reading and committing nothing more.
            stall.set_rate(0)
            # Commits and leaves: nobody owns the partition any more.
            await in_thread(stop.stop)
            await wait_status(watcher, stalled, LagStatus.STALL)
            await wait_status(watcher, stopped, LagStatus.STOP)
            await wait_status(watcher, keeping_up, LagStatus.OK)
    # Rewound: an empty group moved back from a later commit to an earlier one.
    rewound = f"rewind-{uuid.uuid4().hex[:6]}"
    await in_thread(commit, cluster.bootstrap_servers, rewound, {(topic, 0): 30})
    await until(lambda: group_lag(watcher, rewound) is not None, f"{rewound} in the view", 30)
    await in_thread(time.sleep, 2.5)  # two more samples at 30
    await in_thread(commit, cluster.bootstrap_servers, rewound, {(topic, 0): 10})
    await wait_status(watcher, rewound, LagStatus.REWIND)
