"""A synthetic, fully populated cluster view for the render benchmark and the metrics docs.

No Kafka involved: the render path only reads snapshots, so its cost can be measured on a
snapshot of any size.
"""

from __future__ import annotations

import dataclasses
import time

from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.schema import ClusterConfig, CollectionConfig, LagConfig, ZooKeeperConfig
from kafka_watchdog.model.events import EventKind
from kafka_watchdog.model.parts import AdminView, ClusterDescription, Timed, TopicMetadata
from kafka_watchdog.model.snapshot import (
    Broker,
    GroupState,
    PartitionState,
    TopicConfig,
    frozen_map,
)


def populated_watcher(
    partitions: int = 10_000, groups: int = 1_000, per_topic: int = 20, group_topics: int = 1
) -> ClusterWatcher:
    config = ClusterConfig(
        name="bench", bootstrap_servers=["b:9092"], zookeeper=ZooKeeperConfig(connect="z:2181")
    )
    watcher = ClusterWatcher(config, CollectionConfig(), LagConfig(min_samples=2))
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
            frozen_map({t.name: TopicConfig(2, t.name.endswith("7")) for t in topics}), now
        ),
    )
    watcher.health = watcher.health.with_stage(watcher.health.admin.succeeded(now, now))
    for step in range(3):
        watcher.lag.observe(
            frozen_map(group_states),
            frozen_map({tp: (s, e + step * 100) for tp, (s, e) in offsets.items()}),
            now - 20 + step * 10,
        )
    watcher._update(
        offsets=Timed(frozen_map(offsets), now), groups=Timed(frozen_map(group_states), now)
    )
    counts = {(EventKind.CONTROLLER_CHANGED.value, ""): 2}
    watcher.board.publish(dataclasses.replace(watcher.state, event_counts=frozen_map(counts)))
    return watcher
