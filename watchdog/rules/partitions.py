"""Partition states, read from the snapshot's assessment (TopicCommand's definitions)."""

from __future__ import annotations

from collections.abc import Iterator

from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import Concern, PromQL, RuleSpec, Settings

WHERE = ("topic", "partition")
# In Prometheus these alert per topic, with the count of its partitions in that state: the
# topic gauges are exported whatever `metrics.partition_level` says (the per-partition ones
# are not), and a broker failure pages once per topic rather than once per partition.
OF_TOPIC = "in topic {{ $labels.topic }} of Kafka cluster {{ $labels.kafka_cluster }}"


def under_replicated(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    if state.snapshot is None or state.assessment is None:
        return
    for topic, p, health in state.assessment.partitions(state.snapshot):
        if health.under_replicated and rule.topic_ok(topic.name):
            missing = sorted(set(p.replicas) - set(p.isr))
            yield rule.finding(
                state,
                f"{p.topic}-{p.partition}: ISR {list(p.isr)} of replicas {list(p.replicas)} "
                f"(out of sync: {missing})",
                len(missing),
                topic=p.topic,
                partition=p.partition,
            )


def under_min_isr(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    if state.snapshot is None or state.assessment is None:
        return
    for topic, p, health in state.assessment.partitions(state.snapshot):
        if health.under_min_isr and not health.offline and rule.topic_ok(topic.name):
            missing = sorted(set(p.replicas) - set(p.isr))
            yield rule.finding(
                state,
                f"{p.topic}-{p.partition}: ISR {list(p.isr)} below min.insync.replicas "
                f"{topic.config.min_insync_replicas}: acks=all writes fail",
                len(missing),
                # Judged on the last known min.insync.replicas while the configs are unknown.
                unknown_since=state.unknown.configs.get(topic.name),
                topic=p.topic,
                partition=p.partition,
            )


def offline(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    if state.snapshot is None or state.assessment is None:
        return
    for topic, p, health in state.assessment.partitions(state.snapshot):
        if health.offline and rule.topic_ok(topic.name):
            yield rule.finding(
                state,
                f"{p.topic}-{p.partition}: no leader (replicas {list(p.replicas)} all out)",
                len(p.replicas),
                topic=p.topic,
                partition=p.partition,
            )


RULES = (
    RuleSpec(
        "under_replicated",
        "warning",
        "A partition has fewer in-sync replicas than replicas.",
        WHERE,
        under_replicated,
        for_=120,
        prometheus=PromQL(
            Concern.REPLICATION,
            "max by (kafka_cluster, topic) (kafka_watchdog_topic_under_replicated_partitions) > 0",
            "{{ $value }} under-replicated partitions " + OF_TOPIC,
            "{{ $value }} partitions of topic {{ $labels.topic }} have had fewer in-sync "
            "replicas than replicas for $for: one more broker failure takes them below "
            "min.insync.replicas or offline. kafka_watchdog_partition_under_replicated "
            "names them.",
        ),
    ),
    RuleSpec(
        "under_min_isr",
        "critical",
        "A partition's ISR is below min.insync.replicas: acks=all producers fail.",
        WHERE,
        under_min_isr,
        for_=30,
        prometheus=PromQL(
            Concern.AVAILABILITY,
            # The topic gauge counts leaderless partitions too; offline_partitions has those.
            "max by (kafka_cluster, topic) (kafka_watchdog_topic_under_min_isr_partitions"
            " - kafka_watchdog_topic_offline_partitions) > 0",
            "{{ $value }} partitions under min.insync.replicas " + OF_TOPIC,
            "{{ $value }} partitions of topic {{ $labels.topic }} have a leader but fewer "
            "in-sync replicas than min.insync.replicas: producers with acks=all get "
            "NOT_ENOUGH_REPLICAS and cannot write.",
        ),
    ),
    RuleSpec(
        "offline_partitions",
        "critical",
        "A partition has no leader: nobody can read or write it.",
        WHERE,
        offline,
        prometheus=PromQL(
            Concern.AVAILABILITY,
            "max by (kafka_cluster, topic) (kafka_watchdog_topic_offline_partitions) > 0",
            "{{ $value }} partitions without a leader " + OF_TOPIC,
            "{{ $value }} partitions of topic {{ $labels.topic }} have had no leader for "
            "$for: nobody can produce to or consume from them until one of their replicas "
            "comes back.",
            # The daemon sees every leader change and tells a leader moving through -1 from
            # a lost one; a scrape every 30 s may catch that second alone.
            for_=60,
        ),
    ),
)
