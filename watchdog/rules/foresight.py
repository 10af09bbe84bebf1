"""Lag foresight: groups that will not catch up, unread records retention is about to
delete, and records it deleted before a group read them."""

from __future__ import annotations

import math
from collections.abc import Iterator

from kafka_watchdog.model.events import CommitBelowStart
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import Concern, PromQL, RuleSpec, Settings


def duration(seconds: float) -> str:
    """A person's reading of a duration: 45s, 12m, 3.5h, 2.0d, never."""
    if math.isinf(seconds):
        return "never"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def catchup(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    threshold = rule.threshold or 0
    for group_id, seen in rule.watched_groups(state.foresight):
        lag = state.lag.get(group_id)
        totals = lag.by_topic() if lag is not None else {}
        for topic, t in seen.topics.items():
            if t.catchup_seconds is None or t.catchup_seconds <= threshold:
                continue
            if not rule.topic_ok(topic):
                continue
            behind = sum(p.lag or 0 for p in totals.get(topic, []))
            when = (
                "will never catch up at its current rates (its lag does not shrink)"
                if math.isinf(t.catchup_seconds)
                else f"needs {duration(t.catchup_seconds)} to catch up at its current rates"
            )
            yield rule.finding(
                state,
                f"group {group_id} {when} on {topic} ({behind} messages behind)",
                t.catchup_seconds,
                group=group_id,
                topic=topic,
            )


def retention_risk(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    threshold = rule.threshold or 0
    for group_id, seen in rule.watched_groups(state.foresight):
        for p in seen.partitions:
            left = p.retention_seconds
            if left is None or left > threshold or p.below_log_start:
                continue
            if not rule.topic_ok(p.topic):
                continue
            when = "is due now" if left <= 0 else f"in about {duration(left)}"
            yield rule.finding(
                state,
                f"group {group_id}: retention deletes records it has not read on "
                f"{p.topic}-{p.partition} {when} (bound: {p.retention_basis}); consume "
                "faster or raise retention before they are gone",
                left,
                group=group_id,
                topic=p.topic,
                partition=p.partition,
            )


def records_deleted_unread(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    for event in state.events:
        change = event.change
        if (
            not isinstance(change, CommitBelowStart)
            or now - event.observed_at > rule.keep_firing_for
        ):
            continue
        if event.group is None or event.topic is None:
            continue
        if rule.group_ok(event.group) and rule.topic_ok(event.topic):
            yield rule.finding(
                state,
                event.detail,
                change.skipped,
                group=event.group,
                topic=event.topic,
                partition=event.partition,
            )


RULES = (
    RuleSpec(
        "consumer_catchup",
        "warning",
        "A group will not catch up on a topic within `threshold` seconds at its current "
        "rates, or never (its lag does not shrink).",
        ("group", "topic"),
        catchup,
        for_=300,
        threshold=3600,
        prometheus=PromQL(
            Concern.CONSUMERS,
            # +Inf (never) is above any threshold.
            "max by (kafka_cluster, group, topic) "
            "(kafka_watchdog_consumergroup_topic_catchup_seconds) > $threshold",
            "Group {{ $labels.group }} will not catch up on topic {{ $labels.topic }} in "
            "Kafka cluster {{ $labels.kafka_cluster }} within $threshold s",
            "At its current rates consumer group {{ $labels.group }} needs "
            "{{ $value | humanizeDuration }} to read what it has not read of topic "
            "{{ $labels.topic }} (+Inf: never, it falls further behind), more than "
            "$threshold s for $for. docs/foresight.md gives the forecast's error bounds.",
        ),
    ),
    RuleSpec(
        "retention_risk",
        "critical",
        "Retention will delete records a group has not read within `threshold` seconds "
        "(a lower bound: it fires before the loss).",
        ("group", "topic", "partition"),
        retention_risk,
        threshold=3600,
        prometheus=PromQL(
            Concern.CONSUMERS,
            # Per partition: needs metrics.partition_level (the default).
            "min by (kafka_cluster, group, topic, partition) "
            "(kafka_watchdog_consumergroup_retention_risk_seconds) < $threshold",
            "Retention will delete records group {{ $labels.group }} has not read on "
            "{{ $labels.topic }}-{{ $labels.partition }} in Kafka cluster "
            "{{ $labels.kafka_cluster }}",
            "Retention deletes the first record consumer group {{ $labels.group }} has not "
            "read on partition {{ $labels.partition }} of topic {{ $labels.topic }} within "
            "{{ $value | humanizeDuration }} (a lower bound; less than $threshold s): speed "
            "the group up or raise the topic's retention before then.",
        ),
    ),
    RuleSpec(
        "records_deleted_unread",
        "critical",
        "The log start passed a group's committed offset: retention deleted records before "
        "the group read them.",
        ("group", "topic", "partition"),
        records_deleted_unread,
        keep_firing_for=3600,
        prometheus=PromQL(
            Concern.CONSUMERS,
            # The counter is per group and topic; the daemon's alert names the partition.
            # Its series appears with the first loss, which increase() cannot see: the
            # `unless ... offset` arm catches a series younger than the window.
            "max by (kafka_cluster, group, topic) "
            "(increase(kafka_watchdog_consumergroup_records_skipped_total[$keep_firing_for]))"
            " > 0 or max by (kafka_cluster, group, topic) "
            "(kafka_watchdog_consumergroup_records_skipped_total unless "
            "kafka_watchdog_consumergroup_records_skipped_total offset $keep_firing_for)",
            "Retention deleted records group {{ $labels.group }} had not read on topic "
            "{{ $labels.topic }} in Kafka cluster {{ $labels.kafka_cluster }}",
            "The log start of a partition of topic {{ $labels.topic }} passed consumer group "
            "{{ $labels.group }}'s committed offset within the last $keep_firing_for: about "
            "{{ $value | humanize }} records were deleted before it read them (data loss for "
            "that consumer). The watchdog's log names the partition. Resolves "
            "$keep_firing_for after the last one.",
        ),
    ),
)
