"""Cluster, broker, controller, partition and topic-config metrics."""

from __future__ import annotations

from collections import Counter

from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.model.assessment import HEALTH_FLAGS, Assessment
from kafka_watchdog.model.events import CONTROLLER_ELECTED, ISR_JOINED, ISR_LEFT, EventKind
from kafka_watchdog.model.snapshot import ClusterSnapshot
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.sinks.metrics.families import Families, label_set

C, T, P = "kafka_cluster", "topic", "partition"

# Event counters per topic: (metric name, the event kinds it counts, help)
EVENT_COUNTERS = [
    ("isr_shrinks", ISR_LEFT, "ISR shrinks seen (a replica fell out of sync)."),
    ("isr_expands", ISR_JOINED, "ISR expansions seen (a replica caught up)."),
    ("leader_changes", (EventKind.LEADER_CHANGED,), "Partition leader changes seen."),
    (
        "unclean_leader_elections",
        (EventKind.UNCLEAN_LEADER_ELECTION,),
        "Unclean leader elections seen: a leader that was not in the ISR; records were lost.",
    ),
    (
        "log_truncations",
        (EventKind.LOG_TRUNCATION,),
        "Log end offsets seen going backwards: records were lost.",
    ),
]

FLAG_HELP = {
    "under_replicated": "1 when the partition has fewer in-sync replicas than replicas.",
    "under_min_isr": "1 when the ISR is below min.insync.replicas or there is no leader: "
    "acks=all producers fail.",
    "at_min_isr": "1 when the ISR equals min.insync.replicas: one more failure blocks acks=all.",
    "offline": "1 when the partition has no leader.",
    "unavailable": "1 when the partition has no leader or its leader is not a live broker.",
}
PARTITION_FLAGS = [(flag, FLAG_HELP[flag]) for flag in HEALTH_FLAGS]


def collect(
    fams: Families,
    state: ClusterState,
    snap: ClusterSnapshot,
    assessment: Assessment,
    config: MetricsConfig,
) -> None:
    name = state.name
    fams.gauge(
        "cluster_info", "Identity of the watched cluster.", [C, "cluster_id", "mode"]
    ).add_metric([name, snap.cluster_id or "", snap.mode.value], 1)
    fams.gauge("brokers", "Brokers alive (registered) in the cluster.", [C]).add_metric(
        [name], len(snap.brokers)
    )
    broker_up = fams.gauge(
        "broker_up",
        "1 when the broker is registered; 0 for a broker known from replica assignments or an "
        "earlier registration that is gone.",
        [C, "broker"],
    )
    for broker in sorted(state.known_brokers | snap.brokers.keys()):
        broker_up.add_metric([name, str(broker)], 1.0 if broker in snap.brokers else 0.0)
    if snap.controller_id is not None and state.unknown.controller is None:
        fams.gauge(
            "controller_id",
            "Broker (or KRaft controller) id of the active controller; absent when unknown.",
            [C],
        ).add_metric([name], snap.controller_id)
    if snap.controller_epoch is not None:
        fams.gauge(
            "controller_epoch",
            "Controller epoch (ZooKeeper) or metadata quorum leader epoch (KRaft).",
            [C],
        ).add_metric([name], snap.controller_epoch)
    fams.counter(
        "controller_changes", "Controller changes seen since the watchdog started.", [C]
    ).add_metric([name], state.event_count(EventKind.CONTROLLER_CHANGED))
    fams.counter(
        "controller_elections", "Controller elections seen since the watchdog started.", [C]
    ).add_metric([name], sum(state.event_count(k) for k in CONTROLLER_ELECTED))
    fams.gauge("topics", "Topics watched (after the topic filters).", [C]).add_metric(
        [name], len(snap.topics)
    )
    fams.gauge("partitions", "Partitions of the watched topics.", [C]).add_metric(
        [name], snap.partition_count
    )

    per_partition = config.partition_level
    pl = [C, T, P]
    tl = [C, T]
    if per_partition:
        replicas = fams.gauge("partition_replicas", "Replicas assigned to the partition.", pl)
        isr = fams.gauge("partition_in_sync_replicas", "Replicas in the ISR.", pl)
        leader = fams.gauge("partition_leader", "Broker id of the leader; -1 when offline.", pl)
        preferred = fams.gauge(
            "partition_leader_is_preferred", "1 when the first assigned replica leads.", pl
        )
        start = fams.gauge("partition_log_start_offset", "Log start offset.", pl)
        end = fams.gauge(
            "partition_log_end_offset", "Log end offset (high watermark, read_uncommitted).", pl
        )
        flags = {flag: fams.gauge(f"partition_{flag}", doc, pl) for flag, doc in PARTITION_FLAGS}
    topic_partitions = fams.gauge("topic_partitions", "Partitions of the topic.", tl)
    topic_flags = {
        flag: fams.gauge(
            f"topic_{flag}_partitions", f"Partitions of the topic in state {flag}.", tl
        )
        for flag, _ in PARTITION_FLAGS
    }
    totals: Counter[str] = Counter()
    # Kafka topic names are [a-zA-Z0-9._-]: only the cluster name may need escaping.
    cluster_label = label_set([C], [name])
    for topic in snap.topics.values():
        counts: Counter[str] = Counter()
        assessed = assessment.topics[topic.name]
        for p, health in zip(topic.partitions, assessed.partitions, strict=True):
            for flag, _ in PARTITION_FLAGS:
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
                for flag, _ in PARTITION_FLAGS:
                    flags[flag].add(labels, 1 if getattr(health, flag) else 0)
        topic_partitions.add_metric([name, topic.name], len(topic.partitions))
        for flag, _ in PARTITION_FLAGS:
            topic_flags[flag].add_metric([name, topic.name], counts[flag])
        totals.update(counts)
    for flag, _ in PARTITION_FLAGS:
        fams.gauge(
            f"{flag}_partitions", f"Partitions in state {flag} across the cluster.", [C]
        ).add_metric([name], totals[flag])

    for metric, kinds, doc in EVENT_COUNTERS:
        family = fams.counter(metric, doc + " Per topic.", tl)
        for topic_name in snap.topics:
            seen = sum(state.event_count(kind, topic_name) for kind in kinds)
            family.add_metric([name, topic_name], seen)

    hazard = fams.gauge(
        "topic_config_hazard",
        "1 for each risky setting of a topic (see docs/metrics.md for the hazards).",
        [C, T, "hazard"],
    )
    for topic_name, assessed in assessment.topics.items():
        for found in assessed.hazards:
            hazard.add_metric([name, topic_name, found.value], 1)
