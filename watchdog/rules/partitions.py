"""Partition states, read from the snapshot's assessment (TopicCommand's definitions)."""

from __future__ import annotations

from collections.abc import Iterator

from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import RuleSpec, Settings

WHERE = ("topic", "partition")


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
    ),
    RuleSpec(
        "under_min_isr",
        "critical",
        "A partition's ISR is below min.insync.replicas: acks=all producers fail.",
        WHERE,
        under_min_isr,
        for_=30,
    ),
    RuleSpec(
        "offline_partitions",
        "critical",
        "A partition has no leader: nobody can read or write it.",
        WHERE,
        offline,
    ),
)
