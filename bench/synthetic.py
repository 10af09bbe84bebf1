"""A synthetic, fully populated cluster view for the render benchmark and the metric
catalogue test.

No Kafka involved: the render path only reads snapshots, so its cost can be measured on a
snapshot of any size. "Fully populated" means every metric family has samples: a controller
and its epoch, a ZooKeeper session, events of every kind, hazards, groups with lag, and
(`populated_alerting`) alerts in every state and notifications of every outcome.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from kafka_watchdog.alerting.finding import Finding
from kafka_watchdog.alerting.incidents import Alert, State
from kafka_watchdog.alerting.service import AlertingService
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.alerting import AlertingConfig, ReceiverConfig
from kafka_watchdog.config.schema import ClusterConfig, CollectionConfig, LagConfig, ZooKeeperConfig
from kafka_watchdog.detection.events import EventKind
from kafka_watchdog.model.parts import (
    AdminView,
    ClusterDescription,
    Quorum,
    QuorumAnswer,
    Timed,
    TopicMetadata,
)
from kafka_watchdog.model.snapshot import (
    Broker,
    GroupState,
    PartitionState,
    TopicConfig,
    frozen_map,
)


def populated_watcher(
    partitions: int = 10_000,
    groups: int = 1_000,
    per_topic: int = 20,
    group_topics: int = 1,
    name: str = "bench",
) -> ClusterWatcher:
    config = ClusterConfig(
        name=name, bootstrap_servers=["b:9092"], zookeeper=ZooKeeperConfig(connect="z:2181")
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
            # Unclean leader election on: a config hazard (on the first topic at least).
            frozen_map(
                {t.name: TopicConfig(2, t.name.endswith("7") or t is topics[0]) for t in topics}
            ),
            now,
        ),
        # The active controller and its epoch, as DescribeQuorum reports them.
        quorum=Timed(QuorumAnswer(Quorum(1, 7, (1, 2, 3), (4, 5, 6)), True), now),
    )
    watcher.health.admin.succeeded(now, now)
    # One stage refused (a missing ACL): kafka_watchdog_collection_failing has a sample.
    watcher.health.stages["configs"].failed(now, now, "DescribeConfigs refused", "authorization")
    watcher.health.zookeeper_state = "CONNECTED"
    for step in range(3):
        watcher.lag.observe(
            frozen_map(group_states),
            frozen_map({tp: (s, e + step * 100) for tp, (s, e) in offsets.items()}),
            now - 20 + step * 10,
        )
    watcher._update(
        offsets=Timed(frozen_map(offsets), now), groups=Timed(frozen_map(group_states), now)
    )
    watcher.event_counts[(EventKind.CONTROLLER_CHANGED.value, "")] = 2
    for kind in EventKind:  # one event of every kind on the first topic
        watcher.event_counts[(kind.value, topics[0].name)] += 1
    return watcher


def populated_alerting(watchers: Sequence[ClusterWatcher]) -> AlertingService:
    """An alerting service (never started: no I/O) with an alert in every state for each
    watcher and a delivery of every outcome."""
    config = AlertingConfig(
        receivers=[ReceiverConfig(name="oncall", apprise=["json://localhost"])]  # type: ignore[list-item]
    )
    service = AlertingService(watchers, config)
    now = time.time()
    for watcher in watchers:
        for state in State:
            finding = Finding(
                "under_replicated_partitions",
                "warning",
                {"kafka_cluster": watcher.name, "topic": f"topic-{state.value}"},
                "synthetic",
            )
            alert = Alert(finding, state, now - 60, now)
            service.book.alerts[alert.fingerprint] = alert
    service.sent[("oncall", "apprise")] = 3
    service.failed[("oncall", "apprise")] = 1
    service.dropped[("oncall", "apprise")] = 1
    return service
