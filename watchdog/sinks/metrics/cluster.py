"""Cluster, broker, controller, partition and topic-config metrics."""

from __future__ import annotations

from collections import Counter

from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.model.assessment import HEALTH_FLAGS, Assessment
from kafka_watchdog.model.events import CONTROLLER_ELECTED, ISR_JOINED, ISR_LEFT, EventKind
from kafka_watchdog.model.snapshot import ClusterSnapshot
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.sinks.metrics.families import BLOCK_LINES, Families, label_set

C, T, P = "kafka_cluster", "topic", "partition"

# Event counters per topic: (metric name, the event kinds it counts). Help texts: the
# catalogue's.
EVENT_COUNTERS = [
    ("isr_shrinks", ISR_LEFT),
    ("isr_expands", ISR_JOINED),
    ("leader_changes", (EventKind.LEADER_CHANGED,)),
    ("unclean_leader_elections", (EventKind.UNCLEAN_LEADER_ELECTION,)),
    ("log_truncations", (EventKind.LOG_TRUNCATION,)),
]


def collect(
    fams: Families,
    state: ClusterState,
    snap: ClusterSnapshot,
    assessment: Assessment,
    config: MetricsConfig,
) -> None:
    name = state.name
    fams.gauge("cluster_info", [C, "cluster_id", "mode"]).add_metric(
        [name, snap.cluster_id or "", snap.mode.value], 1
    )
    fams.gauge("brokers", [C]).add_metric([name], len(snap.brokers))
    broker_up = fams.gauge("broker_up", [C, "broker"])
    for broker in sorted(state.known_brokers | snap.brokers.keys()):
        broker_up.add_metric([name, str(broker)], 1.0 if broker in snap.brokers else 0.0)
    if snap.controller_id is not None and state.unknown.controller is None:
        fams.gauge("controller_id", [C]).add_metric([name], snap.controller_id)
    if snap.controller_epoch is not None:
        fams.gauge("controller_epoch", [C]).add_metric([name], snap.controller_epoch)
    fams.counter("controller_changes", [C]).add_metric(
        [name], state.event_count(EventKind.CONTROLLER_CHANGED)
    )
    fams.counter("controller_elections", [C]).add_metric(
        [name], sum(state.event_count(k) for k in CONTROLLER_ELECTED)
    )
    fams.gauge("topics", [C]).add_metric([name], len(snap.topics))
    fams.gauge("partitions", [C]).add_metric([name], snap.partition_count)

    per_partition = config.partition_level
    pl = [C, T, P]
    tl = [C, T]
    if per_partition:
        replicas = fams.gauge("partition_replicas", pl)
        isr = fams.gauge("partition_in_sync_replicas", pl)
        leader = fams.gauge("partition_leader", pl)
        preferred = fams.gauge("partition_leader_is_preferred", pl)
        start = fams.gauge("partition_log_start_offset", pl)
        end = fams.gauge("partition_log_end_offset", pl)
        flags = {flag: fams.gauge(f"partition_{flag}", pl) for flag in HEALTH_FLAGS}
    topic_partitions = fams.gauge("topic_partitions", tl)
    topic_flags = {flag: fams.gauge(f"topic_{flag}_partitions", tl) for flag in HEALTH_FLAGS}
    totals: Counter[str] = Counter()
    # Kafka topic names are [a-zA-Z0-9._-]: only the cluster name may need escaping.
    cluster_label = label_set([C], [name])
    for topic in snap.topics.values():
        counts: Counter[str] = Counter()
        assessed = assessment.topics[topic.name]
        for p, health in zip(topic.partitions, assessed.partitions, strict=True):
            for flag in HEALTH_FLAGS:
                if getattr(health, flag):
                    counts[flag] += 1
            if per_partition:
                labels = f'{cluster_label},topic="{p.topic}",partition="{p.partition}"'
                replicas.add(labels, len(p.replicas))
                isr.add(labels, len(p.isr))
                leader.add(labels, p.leader)
                preferred.add(labels, 1 if health.preferred_leader else 0)
                if p.log_start_offset is not None:
                    start.add(labels, p.log_start_offset)
                if p.log_end_offset is not None:
                    end.add(labels, p.log_end_offset)
                for flag in HEALTH_FLAGS:
                    flags[flag].add(labels, 1 if getattr(health, flag) else 0)
        topic_partitions.add_metric([name, topic.name], len(topic.partitions))
        for flag in HEALTH_FLAGS:
            topic_flags[flag].add_metric([name, topic.name], counts[flag])
        totals.update(counts)
        fams.compact(BLOCK_LINES)
    for flag in HEALTH_FLAGS:
        fams.gauge(f"{flag}_partitions", [C]).add_metric([name], totals[flag])

    for metric, kinds in EVENT_COUNTERS:
        family = fams.counter(metric, tl)
        for topic_name in snap.topics:
            seen = sum(state.event_count(kind, topic_name) for kind in kinds)
            family.add_metric([name, topic_name], seen)

    hazard = fams.gauge("topic_config_hazard", [C, T, "hazard"])
    for topic_name, assessed in assessment.topics.items():
        for found in assessed.hazards:
            hazard.add_metric([name, topic_name, found.value], 1)
