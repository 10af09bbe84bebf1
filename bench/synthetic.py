"""A synthetic, fully populated cluster view for the render benchmark and the metric
catalogue test.

No Kafka involved: the render path only reads snapshots, so its cost can be measured on a
snapshot of any size. "Fully populated" means every metric family has samples: a controller
and its epoch, a ZooKeeper session, events of every kind, hazards, groups with lag, and
(`populated_alerting`) alerts in every state and notifications of every outcome.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from kafka_watchdog.alerting.incidents import Alert, State
from kafka_watchdog.alerting.status import AlertingStatus
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.schema import ClusterConfig, CollectionConfig, LagConfig, ZooKeeperConfig
from kafka_watchdog.detection import disks
from kafka_watchdog.model.disks import BrokerDisks, LogDir
from kafka_watchdog.model.events import EventKind
from kafka_watchdog.model.parts import (
    AdminView,
    ClusterDescription,
    Quorum,
    QuorumAnswer,
    Timed,
    TopicMetadata,
)
from kafka_watchdog.model.published import Published
from kafka_watchdog.model.snapshot import (
    Broker,
    GroupState,
    PartitionState,
    TopicConfig,
    frozen_map,
)
from kafka_watchdog.model.state import ClusterBoard
from kafka_watchdog.model.unknown import Blind, Unknowns
from kafka_watchdog.rules.finding import Finding


def populated_watcher(
    partitions: int = 10_000,
    groups: int = 1_000,
    per_topic: int = 20,
    group_topics: int = 1,
    name: str = "bench",
    board: ClusterBoard | None = None,
) -> ClusterWatcher:
    config = ClusterConfig(
        name=name, bootstrap_servers=["b:9092"], zookeeper=ZooKeeperConfig(connect="z:2181")
    )
    watcher = ClusterWatcher(config, CollectionConfig(), LagConfig(min_samples=2), board=board)
    now = time.time()
    brokers = frozen_map({i: Broker(i, f"broker-{i}", 9092, f"rack-{i % 3}") for i in range(1, 7)})
    topics = []
    offsets = {}
    for t in range(partitions // per_topic):
        name = f"topic-{t:05d}"
        parts = []
        for p in range(per_topic):
            replicas = tuple(1 + (p + k) % 6 for k in range(3))
            isr = replicas if (t + p) % 50 else replicas[:2]
            parts.append(PartitionState(name, p, replicas[0], replicas, isr))
            offsets[(name, p)] = (0, 1_000_000 + p)
        topics.append(TopicMetadata(name, tuple(parts), False))
    group_states = {}
    for g in range(groups):
        group_id = f"group-{g:05d}"
        owned = {}
        for k in range(group_topics):
            name = f"topic-{(g + k) % len(topics):05d}"
            for p in range(per_topic):
                owned[(name, p)] = 999_000 + p
        group_states[group_id] = GroupState(
            group_id, "Stable", 3, "classic", frozen_map(owned), frozenset(owned)
        )
    watcher.view = AdminView(
        description=Timed(ClusterDescription("synthetic", 1, brokers), now),
        topics=Timed(tuple(topics), now),
        configs=Timed(
            # Unclean leader election on: a config hazard (on the first topic at least).
            frozen_map(
                {
                    t.name: TopicConfig(
                        2,
                        t.name.endswith("7") or t is topics[0],
                        retention_ms=7 * 86400 * 1000,
                        retention_bytes=-1,
                        cleanup_policy="delete",
                    )
                    for t in topics
                }
            ),
            now,
        ),
        # The active controller and its epoch, as DescribeQuorum reports them.
        quorum=Timed(QuorumAnswer(Quorum(1, 7, (1, 2, 3), (4, 5, 6)), True), now),
    )
    health = watcher.health.with_stage(watcher.health.admin.succeeded(now, now))
    # One stage refused (a missing ACL): kafka_watchdog_collection_failing has a sample.
    configs = health.stages["configs"].failed(now, now, "DescribeConfigs refused", "authorization")
    watcher.health = health.with_stage(configs).with_zookeeper_state("CONNECTED")
    for step in range(3):
        cycle = frozen_map({tp: (s, e + step * 100) for tp, (s, e) in offsets.items()})
        evaluated = watcher.evaluate_lag(
            frozen_map(group_states),
            cycle,
            now - 20 + step * 10,
            # The first group's coordinator did not answer the last cycle: its lag is carried.
            frozen_map({"group-00000": now - 5} if step == 2 else {}),
            frozen_map(),
        )
        watcher.adopt(evaluated)
    # Log dirs: one online dir per broker holding its replicas, and on broker 6 a second dir
    # that failed (KAFKA_STORAGE_ERROR); records a group never read (retention got there first).
    answers: dict[int, BrokerDisks | str] = {}
    for broker in brokers:
        held = {
            (p.topic, p.partition): 1_000_000
            for t in topics
            for p in t.partitions
            if broker in p.replicas
        }
        dirs = {"/data/0": LogDir("/data/0", None, frozen_map(held), 10**12, 10**11)}
        answers[broker] = BrokerDisks(broker, frozen_map(dirs), now - 60)
    first = disks.merge(frozen_map(), answers, now - 60)
    failed = dict(answers)
    failed[6] = BrokerDisks(
        6,
        frozen_map({**answers[6].dirs, "/data/1": LogDir("/data/1", "KAFKA_STORAGE_ERROR")}),  # type: ignore[union-attr]
        now,
    )
    watcher.disks = watcher._size_history.with_growth(first, now - 60)
    watcher.disks = watcher._size_history.with_growth(disks.merge(first, failed, now), now)
    watcher.skipped[(next(iter(group_states)), topics[0].name)] = 42
    watcher._published_skipped = frozen_map(watcher.skipped)
    watcher._update(
        offsets=Timed(frozen_map(offsets), now), groups=Timed(frozen_map(group_states), now)
    )
    counts = {(EventKind.CONTROLLER_CHANGED.value, ""): 2}
    for kind in EventKind:  # one event of every kind on the first topic
        counts[(kind.value, topics[0].name)] = counts.get((kind.value, topics[0].name), 0) + 1
    # Part of the cluster unseen: one group (its coordinator gone), one partition's offsets
    # (no leader), the configs stage refused; one Admin API worker aborted.
    unknown = Unknowns(
        groups=frozen_map({"group-00000": now - 5}),
        partitions=frozen_map({(topics[0].name, 0): now - 5}),
        stages=frozen_map(
            {"configs": Blind("configs", now - 5, "authorization", "refused", None, False)}
        ),
    )
    watcher.board.publish(
        dataclasses.replace(
            watcher.state,
            event_counts=frozen_map(counts),
            unknown=unknown,
            admin_worker_restarts=frozen_map({"abort": 1}),
        )
    )
    return watcher


def populated_alerting(boards: Sequence[ClusterBoard]) -> Published[AlertingStatus]:
    """An alerting status with an alert in every state for each cluster and a delivery of
    every outcome, as the alerting service publishes it (no service, no I/O)."""
    now = time.time()
    alerts = []
    for board in boards:
        for name in board.names:
            for state in State:
                finding = Finding(
                    "under_replicated_partitions",
                    "warning",
                    {"kafka_cluster": name, "topic": f"topic-{state.value}"},
                    "synthetic",
                )
                alerts.append(Alert(finding, state, now - 60, now))
    key = ("oncall", "apprise")
    return Published(
        AlertingStatus(
            receivers=("oncall",),
            alerts=tuple(alerts),
            sent=frozen_map({key: 3}),
            failed=frozen_map({key: 1}),
            dropped=frozen_map({key: 1}),
            queued=frozen_map({"oncall": 2}),
            evaluations=7,
        )
    )
