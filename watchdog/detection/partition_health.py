"""The state of each partition, with the exact definitions Kafka's TopicCommand uses, so the
watchdog and `kafka-topics --describe --under-replicated-partitions` (and friends) agree:

- under-replicated: replication factor - |ISR| > 0, the factor during a reassignment being
  |replicas| - |adding replicas|;
- under-min-ISR: no leader, or |ISR| < the topic's min.insync.replicas;
- at-min-ISR: |ISR| == min.insync.replicas;
- unavailable: no leader, or the leader is not a live broker.
Offline (no leader at all) and preferred leader (the first replica leads) are reported too.
"""

from __future__ import annotations

from collections.abc import Collection

from kafka_watchdog.model.assessment import PartitionHealth
from kafka_watchdog.model.snapshot import ClusterSnapshot, PartitionState, TopicConfig

# 64 possible answers: one shared instance each, so a 10,000-partition assessment holds
# references, not 10,000 objects.
_SHARED: dict[tuple[bool, bool, bool, bool, bool, bool], PartitionHealth] = {}


def classify(
    p: PartitionState, config: TopicConfig, live_brokers: Collection[int]
) -> PartitionHealth:
    has_leader = p.leader >= 0
    min_isr = config.min_insync_replicas
    flags = (
        p.replication_factor - len(p.isr) > 0,
        not has_leader or (min_isr is not None and len(p.isr) < min_isr),
        min_isr is not None and len(p.isr) == min_isr,
        not has_leader or p.leader not in live_brokers,
        not has_leader,
        bool(p.replicas) and p.leader == p.replicas[0],
    )
    health = _SHARED.get(flags)
    if health is None:
        health = _SHARED[flags] = PartitionHealth(*flags)
    return health


HEALTH_SETS = ("under_replicated", "under_min_isr", "at_min_isr", "unavailable", "offline")


def health_sets(snapshot: ClusterSnapshot) -> dict[str, set[tuple[str, int]]]:
    """Partitions in each state: the sets TopicCommand's flags print."""
    out: dict[str, set[tuple[str, int]]] = {name: set() for name in HEALTH_SETS}
    live = snapshot.brokers.keys()
    for topic in snapshot.topics.values():
        for p in topic.partitions:
            health = classify(p, topic.config, live)
            for name in HEALTH_SETS:
                if getattr(health, name):
                    out[name].add((p.topic, p.partition))
    return out
