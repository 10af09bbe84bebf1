"""The incremental path (model/incremental.py) changes how much is built, never what: over
random sequences of changes, assembling with a memo, assessing with the previous
assessment, diffing and remembering leaders give exactly what the full computation gives;
and what did not change is the previous snapshot's very object."""

from __future__ import annotations

import dataclasses
import random

import pytest

from kafka_watchdog.detection.assess import assess
from kafka_watchdog.detection.diff import diff, remember_leaders
from kafka_watchdog.model.assemble import assemble
from kafka_watchdog.model.incremental import TopicMemo, changed_topics
from kafka_watchdog.model.parts import (
    AdminView,
    ClusterDescription,
    Quorum,
    QuorumAnswer,
    Timed,
    TopicMetadata,
    ZkTopic,
    ZkView,
)
from kafka_watchdog.model.snapshot import (
    Broker,
    ClusterSnapshot,
    GroupState,
    PartitionState,
    TopicConfig,
    frozen_map,
)

BROKERS = {i: Broker(i, "h", 9000 + i) for i in (1, 2, 3, 4)}
TOPICS = 6
PARTITIONS = 8


def partition(topic: str, p: int, rng: random.Random) -> PartitionState:
    replicas = tuple(rng.sample(sorted(BROKERS), 3))
    isr = tuple(r for r in replicas if rng.random() > 0.2)
    leader = isr[0] if isr and rng.random() > 0.1 else -1
    return PartitionState(topic, p, leader, replicas, isr, leader_epoch=rng.randrange(5))


class World:
    """A cluster that changes at random, as both sources would show it."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.zk: dict[str, ZkTopic] = {}
        for t in range(TOPICS):
            name = f"t{t}"
            self.zk[name] = ZkTopic(
                name,
                f"id-{name}",
                tuple(partition(name, p, self.rng) for p in range(PARTITIONS)),
                frozen_map({"min.insync.replicas": "2"}),
            )
        self.offsets = frozen_map(
            {(t, p): (0, 100) for t in self.zk for p in range(PARTITIONS) if p % 3}
        )
        self.configs = frozen_map({t: TopicConfig(2, False) for t in self.zk})
        self.groups = frozen_map(
            {"g": GroupState("g", "Stable", 1, None, frozen_map({("t0", 1): 150, ("t1", 2): 50}))}
        )
        self.brokers = dict(BROKERS)
        self.moves = frozen_map({("t2", 0): ((4,), ())})

    def step(self) -> str:
        """One random change; returns what it was."""
        rng = self.rng
        what = rng.choice(
            ["state", "state", "state", "offsets", "config", "topic", "broker", "groups", "none"]
        )
        if what == "state":  # one partition's state node, as a ZooKeeper watch brings it
            name = rng.choice(sorted(self.zk))
            old = self.zk[name]
            parts = list(old.partitions)
            i = rng.randrange(len(parts))
            parts[i] = partition(name, parts[i].partition, rng)
            self.zk[name] = dataclasses.replace(old, partitions=tuple(parts))
        elif what == "offsets":
            changed = dict(self.offsets)
            for key in rng.sample(sorted(changed), 3):
                start, end = changed[key]
                changed[key] = (start, (end or 0) + rng.choice([-50, 0, 10, 200]))
            self.offsets = frozen_map(changed)
        elif what == "config":
            name = rng.choice(sorted(self.zk))
            self.configs = frozen_map(
                {**self.configs, name: TopicConfig(rng.choice([1, 2, 3]), rng.random() < 0.3)}
            )
        elif what == "topic":  # deleted, recreated or new
            name = f"t{rng.randrange(TOPICS + 2)}"
            if name in self.zk and rng.random() < 0.5:
                del self.zk[name]
            else:
                self.zk[name] = ZkTopic(
                    name,
                    f"id-{name}-{rng.random()}",
                    tuple(partition(name, p, rng) for p in range(rng.randrange(1, 5))),
                )
        elif what == "broker":
            broker = rng.choice(sorted(BROKERS))
            if broker in self.brokers:
                del self.brokers[broker]
            else:
                self.brokers[broker] = BROKERS[broker]
        elif what == "groups":
            offsets = {("t0", 1): rng.choice([90, 150, 300]), ("t1", 2): rng.choice([50, 500])}
            self.groups = frozen_map({"g": GroupState("g", "Stable", 1, None, frozen_map(offsets))})
        return what

    def zk_view(self) -> ZkView:
        return ZkView(1.0, "cid", frozen_map(self.brokers), 1, 1, 1.0, frozen_map(dict(self.zk)))

    def admin_view(self, fresh_metadata: bool) -> AdminView:
        # The Admin API answers with new objects every metadata cycle.
        topics = tuple(
            TopicMetadata(
                name,
                tuple(dataclasses.replace(p) if fresh_metadata else p for p in z.partitions),
                False,
            )
            for name, z in sorted(self.zk.items())
        )
        return AdminView(
            description=Timed(ClusterDescription("cid", 1, frozen_map(self.brokers)), 1.0),
            topics=Timed(topics, 1.0),
            offsets=Timed(self.offsets, 1.0),
            groups=Timed(self.groups, 1.0),
            configs=Timed(self.configs, 1.0),
            quorum=Timed(QuorumAnswer(Quorum(1, 1, (1, 2, 3), ()), True, self.moves), 1.0),
        )


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("through", ["zookeeper", "admin"])
def test_incremental_equals_full_over_random_changes(seed: int, through: str) -> None:
    world = World(seed)
    memo = TopicMemo()
    prev_full: ClusterSnapshot | None = None
    prev_inc: ClusterSnapshot | None = None
    leaders_full = leaders_inc = frozen_map()
    assessment_inc = None
    for step in range(60):
        what = world.step() if step else "start"
        admin = world.admin_view(fresh_metadata=world.rng.random() < 0.5)
        zk = world.zk_view() if through == "zookeeper" else None
        full = assemble("c", admin, zk, float(step))
        inc = assemble("c", admin, zk, float(step), memo)
        assert full is not None and inc is not None
        assert inc == full, what
        last = (prev_inc, assessment_inc) if prev_inc and assessment_inc else None
        assessment_inc = assess(inc, 2, last)
        assert assessment_inc == assess(full, 2), what
        assert diff(prev_inc, inc, leaders_inc) == diff(prev_full, full, leaders_full), what
        leaders_inc = remember_leaders(leaders_inc, prev_inc, inc)
        leaders_full = remember_leaders(leaders_full, prev_full, full)
        assert leaders_inc == leaders_full, what
        prev_full, prev_inc = full, inc


def test_a_state_change_rebuilds_that_partition_only() -> None:
    world = World(1)
    memo = TopicMemo()
    first = assemble("c", world.admin_view(False), world.zk_view(), 1.0, memo)
    old = world.zk["t3"]
    parts = list(old.partitions)
    parts[5] = dataclasses.replace(parts[5], isr=parts[5].isr[:1])
    world.zk["t3"] = dataclasses.replace(old, partitions=tuple(parts))
    second = assemble("c", world.admin_view(False), world.zk_view(), 2.0, memo)
    assert first is not None and second is not None
    assert changed_topics(first.topics, second.topics) == [second.topics["t3"]]
    before, after = first.topics["t3"].partitions, second.topics["t3"].partitions
    assert [a is b for a, b in zip(before, after, strict=True)] == [i != 5 for i in range(8)]
    assert after[5].isr == parts[5].isr


def test_metadata_answers_equal_to_the_last_keep_their_objects() -> None:
    """A metadata cycle that brings nothing new (new objects, same values) changes no
    topic: the assessment and the diff then skip them all."""
    world = World(2)
    memo = TopicMemo()
    first = assemble("c", world.admin_view(True), None, 1.0, memo)
    second = assemble("c", world.admin_view(True), None, 2.0, memo)
    assert first is not None and second is not None
    assert changed_topics(first.topics, second.topics) == []


def test_new_offsets_rebuild_only_the_partitions_whose_offsets_moved() -> None:
    world = World(3)
    memo = TopicMemo()
    first = assemble("c", world.admin_view(False), world.zk_view(), 1.0, memo)
    world.offsets = frozen_map({**world.offsets, ("t4", 1): (0, 5000)})
    second = assemble("c", world.admin_view(False), world.zk_view(), 2.0, memo)
    assert first is not None and second is not None
    assert [t.name for t in changed_topics(first.topics, second.topics)] == ["t4"]
    moved = second.partition("t4", 1)
    assert moved is not None and moved.log_end_offset == 5000


def test_a_cycle_that_found_nothing_new_keeps_the_published_version() -> None:
    """Metadata and configs cycles mostly find nothing new: the state's version (by which
    the metrics exposition is cached) then stays, while the snapshot's time moves on."""
    from kafka_watchdog.app.watcher import ClusterWatcher
    from kafka_watchdog.config.schema import ClusterConfig, CollectionConfig

    world = World(4)
    watcher = ClusterWatcher(
        ClusterConfig(name="c", bootstrap_servers=["b:9092"]), CollectionConfig()
    )
    watcher.view = world.admin_view(fresh_metadata=True)
    watcher._rebuild()
    first = watcher.state
    watcher._update(topics=world.admin_view(fresh_metadata=True).topics)  # same values
    again = watcher.state
    assert again.version == first.version
    assert again.snapshot is not first.snapshot and again.snapshot == dataclasses.replace(
        first.snapshot, taken_at=again.snapshot.taken_at, sources=again.snapshot.sources
    )
    world.offsets = frozen_map({**world.offsets, ("t4", 1): (0, 5000)})
    watcher._update(offsets=world.admin_view(fresh_metadata=False).offsets)
    assert watcher.state.version == first.version + 1


def test_what_the_cached_exposition_reads_besides_the_snapshot_moves_the_version() -> None:
    """The exposition is cached by the published version. A controller that becomes unknown
    keeps the snapshot's content (the last known controller is carried, model/incremental's
    same_content holds) yet changes what /metrics says: the version must move with it."""
    from kafka_watchdog.app.watcher import ClusterWatcher
    from kafka_watchdog.config.schema import ClusterConfig, CollectionConfig, MetricsConfig
    from kafka_watchdog.sinks.metrics import MetricsRenderer

    world = World(5)
    watcher = ClusterWatcher(
        ClusterConfig(name="c", bootstrap_servers=["b:9092"]), CollectionConfig()
    )
    renderer = MetricsRenderer(watcher.board, MetricsConfig(), process_registry=None)
    watcher.view = world.admin_view(fresh_metadata=False)
    watcher._rebuild()
    first = watcher.state
    assert b'kafka_watchdog_controller_id{kafka_cluster="c"} 1\n' in renderer.exposition()
    watcher._publish()  # nothing changed
    assert watcher.state.version == first.version
    # An election under way: the quorum reports no leader.
    no_leader = QuorumAnswer(Quorum(-1, 1, (1, 2, 3), ()), True, world.moves)
    watcher._update(quorum=Timed(no_leader, 2.0))
    assert watcher.state.snapshot is not None and watcher.state.snapshot.controller_id == 1
    assert watcher.state.unknown.controller is not None
    assert watcher.state.version == first.version + 1
    assert b"kafka_watchdog_controller_id{" not in renderer.exposition()
