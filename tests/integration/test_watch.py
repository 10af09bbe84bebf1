"""The watchdog's eyes against real clusters with real faults (issue: watch the cluster).

Three ways of watching: a ZooKeeper-mode cluster through ZooKeeper watches, the same cluster
through the Admin API alone (managed-style), and a KRaft cluster.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from confluent_kafka import Producer

from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.detection.partition_health import health_sets
from kafka_watchdog.model.events import EventKind as K
from kafka_watchdog.model.snapshot import ClusterMode
from tests.integration.watching import events, in_thread, until, wait_event, watcher_for

pytestmark = pytest.mark.integration

MODES = ["zk-watches", "zk-admin-only", "kraft"]
# The Admin API path is the same code on both cluster kinds: the costlier fault tests run it
# on KRaft only, and the ZooKeeper-mode cluster through its watches.
FAULT_MODES = pytest.mark.parametrize("mode", ["zk-watches", "kraft"], indirect=True)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def cluster(mode: str, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("kraft_cluster" if mode == "kraft" else "zk_cluster")


@pytest.fixture
async def watcher(cluster: Any, mode: str) -> AsyncIterator[ClusterWatcher]:
    w = watcher_for(cluster, zookeeper=mode == "zk-watches")
    await w.start()
    try:
        await until(
            lambda: w.store.latest is not None and w.ready(w.store.latest.taken_at)[0],
            "a first view of the cluster",
            60,
        )
        if mode == "zk-watches":
            await until(lambda: w.mirror is not None and w.mirror.synced, "the ZooKeeper mirror")
        yield w
    finally:
        await w.stop()


def new_topic(cluster: Any, partitions: int = 1, rf: int = 3, **config: str) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(name, partitions=partitions, rf=rf, config=config)
    return name


async def seen(watcher: ClusterWatcher, topic: str) -> None:
    await until(lambda: topic in watcher.store.latest.topics, f"topic {topic} in the view")  # type: ignore[union-attr]


async def test_model_matches_the_cluster(cluster: Any, watcher: ClusterWatcher, mode: str) -> None:
    topic = new_topic(cluster, partitions=3)
    await seen(watcher, topic)
    differences: list[str] = []

    def matches() -> bool:
        # Two readings of a live cluster (ours and the harness's Metadata) agree once both
        # have seen the same moment: on a busy machine an ISR may shrink and grow back, or
        # the KRaft quorum re-elect, between them. Compared until one agreement, and every
        # difference of the last attempt is reported otherwise.
        snap = watcher.store.latest
        assert snap is not None
        theirs = {
            "brokers": sorted(cluster.broker_ids),
            "controller": cluster.controller_id(),
            **{
                f"{topic}-{p}": (cluster.leader_of(topic, p), cluster.isr_of(topic, p))
                for p in range(3)
            },
        }
        ours = {
            "brokers": sorted(snap.brokers),
            "controller": snap.controller_id,
            **{
                f"{topic}-{p.partition}": (p.leader, sorted(p.isr))
                for p in snap.topics[topic].partitions
            },
        }
        differences[:] = [
            f"{k}: ours {ours.get(k)} theirs {v}" for k, v in theirs.items() if ours.get(k) != v
        ]
        return not differences

    await until(matches, lambda: f"the view to match the cluster: {differences}", 60)
    snap = watcher.store.latest
    assert snap is not None
    expected_mode = ClusterMode.KRAFT if mode == "kraft" else ClusterMode.ZOOKEEPER
    assert snap.mode is expected_mode
    if mode == "zk-watches":
        assert snap.sources["partitions"][0] == "zookeeper"
        assert snap.topics[topic].topic_id
    await until(
        lambda: watcher.store.latest.topics[topic].config.min_insync_replicas == 2,  # type: ignore[union-attr]
        "topic configs with broker defaults resolved",
    )


@FAULT_MODES
async def test_paused_follower_shrinks_then_expands_the_isr(
    cluster: Any, watcher: ClusterWatcher
) -> None:
    topic = new_topic(cluster)
    await seen(watcher, topic)
    leader = cluster.leader_of(topic)
    follower = next(b for b in cluster.isr_of(topic) if b != leader)
    node = cluster.broker(follower)
    paused_at = time.time()
    await in_thread(node.pause)
    try:
        shrink = await wait_event(watcher, K.ISR_SHRINK, topic, 0, within=60)
    finally:
        await in_thread(node.resume)
    assert follower in shrink.before and follower not in shrink.after  # type: ignore[operator]
    expand = await wait_event(watcher, K.ISR_EXPAND, topic, 0, within=90)
    assert follower in expand.after  # type: ignore[operator]
    if watcher.zookeeper is not None:
        # The event carries when the controller wrote the change (the znode's mtime, same
        # clock on this machine): after the pause, before the watchdog saw it. How soon it
        # saw it is a figure for bench/collection.py, not a test's business.
        assert shrink.source_time is not None
        assert paused_at <= shrink.source_time <= shrink.observed_at


@FAULT_MODES
async def test_killed_leader_gives_a_new_leader_and_a_gone_broker(
    cluster: Any, watcher: ClusterWatcher
) -> None:
    topic = new_topic(cluster)
    await seen(watcher, topic)
    leader = cluster.leader_of(topic)
    await in_thread(cluster.broker(leader).kill)
    # Also through a moment with no leader (A -> -1 -> B), seen on a busy ZooKeeper cluster.
    change = await wait_event(
        watcher, K.LEADER_CHANGED, topic, 0, within=90, where=lambda e: e.before == leader
    )
    assert change.after not in (leader, -1)
    gone = await until(
        lambda: [e for e in events(watcher, K.BROKER_GONE) if e.broker == leader],
        f"broker {leader} gone",
        90,
    )
    assert gone
    await until(lambda: not events(watcher, K.UNCLEAN_LEADER_ELECTION, topic), "no unclean", 1)


async def test_killed_controller_moves_the_controller(
    cluster: Any, watcher: ClusterWatcher, mode: str
) -> None:
    old = cluster.controller_id()
    await until(lambda: watcher.store.latest.controller_id == old, "controller in view")  # type: ignore[union-attr]
    node = cluster.broker(old)
    await in_thread(node.kill)
    # The move away from the killed one (a busy cluster may move it again afterwards).
    change = await wait_event(
        watcher,
        K.CONTROLLER_CHANGED,
        within=90,
        where=lambda e: e.before[0] == old,  # type: ignore[index]
    )
    assert change.after[0] != old  # type: ignore[index]
    if mode != "zk-admin-only":  # the Admin API does not tell the controller epoch
        assert change.after[1] > change.before[1]  # type: ignore[index, operator]


@FAULT_MODES
async def test_partitions_a_dead_broker_alone_held_go_offline(
    cluster: Any, watcher: ClusterWatcher
) -> None:
    topic = new_topic(cluster, partitions=3, rf=1)
    await seen(watcher, topic)
    victim = cluster.leader_of(topic, 0)
    alone = [p for p in range(3) if cluster.leader_of(topic, p) == victim]
    await in_thread(cluster.broker(victim).kill)
    for partition in alone:
        offline = await wait_event(watcher, K.PARTITION_OFFLINE, topic, partition, within=90)
        assert offline.before == victim
    snap = watcher.store.latest
    assert snap is not None
    assert {(topic, p) for p in alone} <= health_sets(snap)["offline"]


def produce(bootstrap: str, topic: str, count: int, acks: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 5})
    for i in range(count):
        producer.produce(topic, value=b"x" * 100, key=str(i).encode())
    assert producer.flush(60) == 0


async def test_seed_incident_unclean_election_and_truncation(
    cluster: Any, watcher: ClusterWatcher, mode: str
) -> None:
    """unclean.leader.election.enable=true; a follower falls out of the ISR; more is written
    with acks=1; the leader dies; the stale follower comes back as the only candidate."""
    topic = new_topic(
        cluster, rf=2, **{"unclean.leader.election.enable": "true", "min.insync.replicas": "1"}
    )
    await seen(watcher, topic)
    leader = cluster.leader_of(topic)
    stale = next(b for b in cluster.replicas_of(topic) if b != leader)
    await in_thread(produce, cluster.bootstrap_servers, topic, 50, "all")
    await in_thread(cluster.broker(stale).stop)  # out of the ISR at once (controlled shutdown)
    await until(lambda: cluster.isr_of(topic) == [leader], "the ISR to be the leader alone")
    await in_thread(produce, cluster.bootstrap_servers, topic, 200, "1")
    await until(
        lambda: (p := watcher.store.latest.partition(topic, 0)) and p.log_end_offset == 250,  # type: ignore[union-attr]
        "the watchdog to see all 250 records",
    )
    await in_thread(cluster.broker(leader).kill)
    if mode != "kraft":
        await until(lambda: cluster.leader_of(topic) == -1, "the partition to go offline", 90)
    # (On a 3-node combined KRaft cluster two nodes down is a lost controller quorum: nothing
    # changes until the stale node is back, so there is no offline moment to wait for.)
    await in_thread(cluster.broker(stale).start)
    if mode == "kraft":
        # KRaft elects unclean leaders on its own schedule; operators force it like this.
        await in_thread(_elect_unclean, cluster, topic)
    unclean = await wait_event(watcher, K.UNCLEAN_LEADER_ELECTION, topic, 0, within=120)
    assert unclean.after[0] == stale  # type: ignore[index]
    truncation = await wait_event(watcher, K.LOG_TRUNCATION, topic, 0, within=60)
    assert (truncation.before, truncation.after) == (250, 50)
    assert "200 records lost" in truncation.detail


def _elect_unclean(cluster: Any, topic: str) -> None:
    from confluent_kafka import ElectionType, TopicPartition

    def elected() -> bool:
        future = cluster.admin.elect_leaders(ElectionType.UNCLEAN, [TopicPartition(topic, 0)])
        try:
            future.result(timeout=10)
        except Exception:  # not eligible yet (the broker is still registering): retry
            return cluster.leader_of(topic) >= 0
        return True

    cluster.wait_for(elected, 60, "an unclean election")


TOPIC_LINE = re.compile(r"Topic:\s*(\S+)\s+Partition:\s*(\d+)")
FLAGS = {
    "under_replicated": "--under-replicated-partitions",
    "under_min_isr": "--under-min-isr-partitions",
    "at_min_isr": "--at-min-isr-partitions",
    "unavailable": "--unavailable-partitions",
}


def topic_command(cluster: Any, flag: str) -> set[tuple[str, int]]:
    out = cluster.run_tool("TopicCommand", "--describe", flag)
    return {(m.group(1), int(m.group(2))) for m in TOPIC_LINE.finditer(out)}


async def test_partition_sets_agree_with_topic_command(
    cluster: Any, watcher: ClusterWatcher
) -> None:
    topic = new_topic(cluster, partitions=4, rf=3)
    single = new_topic(cluster, partitions=2, rf=1)
    await seen(watcher, single)
    victim = cluster.leader_of(single, 0)
    await in_thread(cluster.broker(victim).kill)
    await until(lambda: cluster.leader_of(single, 0) == -1, "offline partition", 90)
    await until(lambda: len(cluster.isr_of(topic, 0)) == 2, "shrunk ISRs", 90)

    def agree() -> Callable[[], str] | None:
        snap = watcher.store.latest
        assert snap is not None
        ours = health_sets(snap)
        mismatches = []
        for name, flag in FLAGS.items():
            theirs = topic_command(cluster, flag)
            if ours[name] != theirs:
                mismatches.append(
                    f"{name}: ours-theirs={ours[name] - theirs} theirs-ours={theirs - ours[name]}"
                )
        return None if not mismatches else (lambda: "; ".join(mismatches))

    # Both read a moving cluster: retry until one consistent reading of all four flags.
    last: list[str] = []

    def consistent() -> bool:
        result = agree()
        if result is not None:
            last[:] = [result()]
            return False
        return True

    await until(lambda: consistent(), lambda: f"TopicCommand agreement: {last}", 60)
    snap = watcher.store.latest
    assert snap is not None and health_sets(snap)["unavailable"]
