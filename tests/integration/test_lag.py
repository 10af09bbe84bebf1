"""Consumer lag against Kafka's own ConsumerGroupCommand, lag in seconds against the real age
of records, and the lag status rules on real groups (issue: Prometheus exporter)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Consumer, Producer, TopicPartition

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


def new_topic(cluster: Any, partitions: int, **config: str) -> str:
    name = f"lag-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(name, partitions=partitions, rf=3, config=config)
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

        # One member holds on. On a busy machine its 6 s session can run out and it joins
        # again: Kafka then lists the old member and the new one until the rebalance ends.
        def one_member() -> bool:
            lag = group_lag(watcher, live)
            return lag is not None and lag.state == "STABLE" and lag.members == 1

        await until(one_member, f"{live} stable with its one member", 60)
    assert {p.partition: p.lag for p in group_lag(watcher, empty).partitions} == {  # type: ignore[union-attr]
        0: 20,
        1: 0,
        2: 35,
    }


async def test_lag_seconds_is_the_age_of_the_next_unread_record(
    cluster: Any, watcher: ClusterWatcher
) -> None:
    """A producer at a steady rate; a group committed at a known record: the estimate is the
    age of that record when the watchdog evaluated it. Kafka stamps the record with the time
    it was appended (LogAppendTime): that is the truth. The documented bound is the spacing
    of the two log end readings around the record (one offsets interval on an idle machine,
    longer when a busy one delays the cycles) plus how long a reading took."""
    topic = new_topic(cluster, partitions=1, **{"message.timestamp.type": "LogAppendTime"})
    group = f"age-{uuid.uuid4().hex[:6]}"
    stuck_at = 100  # the record the group will be stuck at
    # A first reading of the empty partition, so that one reading lies before the record.
    await until(lambda: watcher.lag.log_end_points(topic, 0), f"{topic} in the view", 60)
    # How long an offsets cycle took at most: a reading is stamped when its cycle ends.
    longest_cycle = 0.0

    async def note_cycles() -> None:
        nonlocal longest_cycle
        while True:  # each cycle's duration stays readable for a whole interval
            longest_cycle = max(longest_cycle, watcher.health.stages["offsets"].last_duration or 0)
            await asyncio.sleep(0.1)

    noting = asyncio.create_task(note_cycles())
    try:
        with RateProducer(cluster.bootstrap_servers, topic, rate=50, acks="all") as producer:
            await in_thread(producer.wait_acked, stuck_at, 30)
            await in_thread(commit, cluster.bootstrap_servers, group, {(topic, 0): stuck_at})
            await in_thread(producer.wait_acked, producer.acked + 400, 30)  # ~8 s more
            appended = await in_thread(_append_time, cluster, topic, stuck_at)

            def reading() -> tuple[float, float, tuple[tuple[int, float], ...]] | None:
                lag, at = group_lag(watcher, group), watcher.lag.evaluated_at
                points = watcher.lag.log_end_points(topic, 0)
                if lag is None or lag.partitions[0].lag_seconds is None or at is None:
                    return None
                if not any(offset > stuck_at for offset, _ in points):
                    return None  # not read past the record yet
                return lag.partitions[0].lag_seconds, at, points

            estimated, at, points = await until(reading, "a lag in seconds for the group", 30)
    finally:
        noting.cancel()
    # The last reading at or below the record and the first above it: the record was
    # appended between the two reads, each made at most `longest_cycle` before its stamp.
    before = max(t for offset, t in points if offset <= stuck_at)
    after = min(t for offset, t in points if offset > stuck_at)
    real = at - appended
    bound = (after - before) + longest_cycle
    assert abs(estimated - real) <= bound, (estimated, real, after - before, longest_cycle)


def _append_time(cluster: Any, topic: str, offset: int) -> float:
    """When the broker appended the record at `offset` (LogAppendTime), in seconds."""
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap_servers,
            "group.id": "probe",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, offset)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error() is not None:
                continue
            kind, ms = message.timestamp()
            assert (message.offset(), kind) == (offset, TIMESTAMP_LOG_APPEND_TIME)
            return float(ms) / 1000
        raise AssertionError(f"record {offset} of {topic} not read in 30 s")
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
    # Three evaluations that saw it at 30 (not a sleep: a busy machine evaluates less often).
    at_30: set[float] = set()

    def seen_at_30() -> bool:
        lag = group_lag(watcher, rewound)
        if lag is not None and lag.partitions[0].committed == 30:
            at_30.add(watcher.lag.evaluated_at or 0.0)
        return len(at_30) >= 3

    await until(seen_at_30, f"three evaluations of {rewound} at 30", 60)
    await in_thread(commit, cluster.bootstrap_servers, rewound, {(topic, 0): 10})
    await wait_status(watcher, rewound, LagStatus.REWIND)
