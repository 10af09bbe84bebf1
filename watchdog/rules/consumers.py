"""Consumer groups: lag in messages and seconds, stalled groups, commits beyond the end."""

from __future__ import annotations

from collections.abc import Iterator

from kafka_watchdog.model.lag import LagStatus, PartitionLag
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import Concern, PromQL, RuleSpec, Settings

ON_TOPIC = "on topic {{ $labels.topic }} in Kafka cluster {{ $labels.kafka_cluster }}"

# Each consumer rule judges the real answer first: a condition that holds on the partitions
# read this cycle is a real finding. Otherwise, where part of the group's lag is carried
# (its coordinator or a partition's leader did not answer, too few samples yet) and could
# meet the condition, the finding is made with `unknown_since`: it holds an alert that is
# already there, and starts none.


def _unknown(parts: list[PartitionLag]) -> float | None:
    return min((p.unknown_since for p in parts if p.unknown_since is not None), default=None)


def lag_messages(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    threshold = rule.threshold or 0
    for group_id, lag in rule.watched_groups(state.lag):
        for topic, parts in lag.by_topic().items():
            if not rule.topic_ok(topic):
                continue
            total = sum(p.lag or 0 for p in parts)
            known = sum(p.lag or 0 for p in parts if p.unknown_since is None)
            since = lag.unknown_since or _unknown(parts)
            if lag.unknown_since is None and known > threshold:
                since = None  # the partitions read this cycle are enough
            elif since is None or not (total > threshold or any(p.lag is None for p in parts)):
                continue
            yield rule.finding(
                state,
                f"group {group_id} lags {total} messages on {topic}",
                total,
                unknown_since=since,
                group=group_id,
                topic=topic,
            )


def lag_seconds(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    threshold = rule.threshold or 0
    for group_id, lag in rule.watched_groups(state.lag):
        for topic, parts in lag.by_topic().items():
            if not rule.topic_ok(topic):
                continue
            worst = max((p.lag_seconds or 0.0 for p in parts), default=0.0)
            known = max(
                (p.lag_seconds or 0.0 for p in parts if p.unknown_since is None), default=0.0
            )
            since = lag.unknown_since or _unknown(parts)
            # A lower bound below the threshold says nothing (right after a start, the
            # history does not reach back to the committed offset yet).
            bounded = any(p.lag_seconds_at_least for p in parts)
            if lag.unknown_since is None and known > threshold:
                since = None  # read this cycle (a lower bound above it proves it too)
            elif since is not None and (worst > threshold or any(p.lag is None for p in parts)):
                pass
            elif bounded:
                since = state.events_since
            else:
                continue
            yield rule.finding(
                state,
                f"group {group_id} is {worst:.0f}s behind on {topic}",
                worst,
                unknown_since=since,
                group=group_id,
                topic=topic,
            )


def stalled(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    for group_id, lag in rule.watched_groups(state.lag):
        behind = sum(p.lag or 0 for p in lag.partitions)
        since = lag.stale_since
        if lag.status in (LagStatus.STALL, LagStatus.STOP):
            real = lag.unknown_since is None and any(
                p.status is lag.status and p.unknown_since is None for p in lag.partitions
            )
            yield rule.finding(
                state,
                f"group {group_id} is {lag.status.value}: "
                + (
                    "its members hold partitions but commit no progress"
                    if lag.status is LagStatus.STALL
                    else "nobody consumes while lag stays"
                )
                + f" ({behind} messages behind)",
                behind,
                unknown_since=None if real else since,
                group=group_id,
            )
        elif any(p.status is LagStatus.UNKNOWN for p in lag.partitions):
            # Too few samples to judge (right after a start), or a log end never read.
            yield rule.finding(
                state,
                f"group {group_id}'s lag status is unknown ({behind} messages behind)",
                behind,
                unknown_since=since if since is not None else state.events_since,
                group=group_id,
            )


def commit_beyond_end(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    for group_id, lag in rule.watched_groups(state.lag):
        for p in lag.partitions:
            if p.log_end is not None and p.committed > p.log_end and rule.topic_ok(p.topic):
                yield rule.finding(
                    state,
                    f"group {group_id} committed {p.committed} on {p.topic}-{p.partition} "
                    f"beyond the log end {p.log_end}: its next fetch resets "
                    "(auto.offset.reset)",
                    p.committed - p.log_end,
                    unknown_since=lag.unknown_since or p.unknown_since,
                    group=group_id,
                    topic=p.topic,
                    partition=p.partition,
                )


RULES = (
    RuleSpec(
        "consumer_lag",
        "warning",
        "A group lags more than `threshold` messages on a topic.",
        ("group", "topic"),
        lag_messages,
        for_=300,
        threshold=100_000,
        prometheus=PromQL(
            Concern.CONSUMERS,
            "max by (kafka_cluster, group, topic) (kafka_watchdog_consumergroup_topic_lag)"
            " > $threshold",
            "Group {{ $labels.group }} lags {{ $value | humanize }} messages " + ON_TOPIC,
            "Consumer group {{ $labels.group }} has been more than $threshold messages "
            "behind on topic {{ $labels.topic }} for $for ({{ $value | humanize }} now): "
            "its consumers do not keep up, or are gone (kafka_watchdog_consumergroup_members).",
        ),
    ),
    RuleSpec(
        "consumer_lag_seconds",
        "warning",
        "A group's oldest unread record is older than `threshold` seconds.",
        ("group", "topic"),
        lag_seconds,
        for_=120,
        threshold=600,
        prometheus=PromQL(
            Concern.CONSUMERS,
            "max by (kafka_cluster, group, topic) "
            "(kafka_watchdog_consumergroup_topic_lag_seconds_max) > $threshold",
            "Group {{ $labels.group }} is {{ $value | humanizeDuration }} behind " + ON_TOPIC,
            "The oldest record consumer group {{ $labels.group }} has not read on topic "
            "{{ $labels.topic }} was written {{ $value | humanizeDuration }} ago (more than "
            "$threshold s for $for): what it processes is that late, and records older "
            "than the topic's retention are deleted before it reads them.",
        ),
    ),
    RuleSpec(
        "consumer_stalled",
        "warning",
        "A group's lag status is STALL or STOP (Burrow's rules).",
        ("group",),
        stalled,
        for_=60,
        prometheus=PromQL(
            Concern.CONSUMERS,
            # Aggregated over the status, so that STALL turning into STOP stays one alert.
            "max by (kafka_cluster, group) "
            '(kafka_watchdog_consumergroup_status{status=~"STALL|STOP"}) == 1',
            "Group {{ $labels.group }} makes no progress in Kafka cluster "
            "{{ $labels.kafka_cluster }}",
            "Consumer group {{ $labels.group }} has had lag status STALL (members hold "
            "partitions but commit no progress) or STOP (nobody commits while lag stays) "
            "for $for; kafka_watchdog_consumergroup_status says which.",
        ),
    ),
    RuleSpec(
        "commit_beyond_log_end",
        "warning",
        "A group committed an offset beyond the log end: its next fetch resets.",
        ("group", "topic", "partition"),
        commit_beyond_end,
        for_=60,
        prometheus=PromQL(
            Concern.CONSUMERS,
            # Per partition: needs metrics.partition_level (the default).
            "max by (kafka_cluster, group, topic, partition) "
            "(kafka_watchdog_consumergroup_committed_offset - on (kafka_cluster, topic, "
            "partition, instance, job) group_left kafka_watchdog_partition_log_end_offset) > 0",
            "Group {{ $labels.group }} committed beyond the log end of "
            "{{ $labels.topic }}-{{ $labels.partition }} in Kafka cluster "
            "{{ $labels.kafka_cluster }}",
            "Consumer group {{ $labels.group }} committed an offset {{ $value }} past the "
            "log end of partition {{ $labels.partition }} of topic {{ $labels.topic }} for "
            "$for (the log was truncated or the topic recreated): its next fetch resets "
            "to auto.offset.reset, skipping or re-reading records.",
        ),
    ),
)
