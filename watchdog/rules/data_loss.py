"""Event rules for lost records: unclean leader elections and log truncations. They keep
firing for `keep_firing_for` after the event: the data does not come back when the
partition heals."""

from __future__ import annotations

from collections.abc import Iterator

from kafka_watchdog.model.events import Event, Truncation, UncleanElection
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import Concern, PromQL, RuleSpec, Settings

WHERE = ("topic", "partition")
# How long an unclean election waits for the new leader's log end before paging without it.
UNCLEAN_DAMAGE_WAIT = 60.0


def _recent(rule: Settings, state: ClusterState, now: float) -> list[Event]:
    return [e for e in state.events if now - e.observed_at <= rule.keep_firing_for]


def log_truncation(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    for event in _recent(rule, state, now):
        change = event.change
        if not isinstance(change, Truncation) or event.topic is None:
            continue
        if rule.topic_ok(event.topic):
            yield rule.finding(
                state, event.detail, change.lost, topic=event.topic, partition=event.partition
            )


def unclean_election(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    recent = _recent(rule, state, now)
    truncations = [
        (e, e.change) for e in recent if isinstance(e.change, Truncation) and e.topic is not None
    ]
    for event in recent:
        election = event.change
        if not isinstance(election, UncleanElection) or event.topic is None:
            continue
        if not rule.topic_ok(event.topic):
            continue
        lost_in = [
            t for e, t in truncations if (e.topic, e.partition) == (event.topic, event.partition)
        ]
        if lost_in:
            lost = sum(t.lost for t in lost_in)
            risk = f"{lost} records lost (log end {lost_in[0].before} -> {lost_in[-1].after})"
        else:
            # Page with the damage, not before it is known: the new leader's log end comes
            # with the next offsets cycle (a drop there is a truncation event).
            # "Kept" only from a read that began after the election and answered for this
            # partition (a carried log end is the old leader's, not the new one's).
            snap = state.snapshot
            read_at = snap.sources.get("offsets", ("", 0.0))[1] if snap is not None else 0.0
            partition = snap.partition(event.topic, event.partition or 0) if snap else None
            answered = (event.topic, event.partition or 0) not in state.unknown.partitions
            if (
                read_at > event.observed_at
                and answered
                and partition is not None
                and partition.log_end_offset
            ):
                lost = 0
                risk = f"no truncation seen (log end {partition.log_end_offset} kept)"
            elif now - event.observed_at < UNCLEAN_DAMAGE_WAIT:
                continue
            else:
                lost, risk = 0, "records lost: unknown (the new leader's log end is not known)"
        old = election.old_leader
        was = "the partition was offline" if old < 0 else f"leader was {old}"
        yield rule.finding(
            state,
            f"{event.topic}-{event.partition}: unclean leader election: broker "
            f"{election.new_leader} became leader outside the ISR {list(election.old_isr)} "
            f"({was}); {risk}",
            lost,
            topic=event.topic,
            partition=event.partition,
        )


RULES = (
    RuleSpec(
        "unclean_leader_election",
        "critical",
        "A replica outside the ISR became leader: acknowledged records were lost.",
        WHERE,
        unclean_election,
        keep_firing_for=3600,
        prometheus=PromQL(
            Concern.REPLICATION,
            "max by (kafka_cluster, topic) "
            "(increase(kafka_watchdog_unclean_leader_elections_total[$keep_firing_for])) > 0",
            "Unclean leader election on topic {{ $labels.topic }} in Kafka cluster "
            "{{ $labels.kafka_cluster }}",
            "A replica outside the ISR became leader of a partition of topic "
            "{{ $labels.topic }} within the last $keep_firing_for: records whose writes had "
            "been acknowledged were lost. The watchdog's log names the partition, the "
            "old ISR and the new leader. Resolves $keep_firing_for after the last one.",
        ),
    ),
    RuleSpec(
        "log_truncation",
        "critical",
        "A partition's log end went backwards: records were lost.",
        WHERE,
        log_truncation,
        keep_firing_for=3600,
        prometheus=PromQL(
            Concern.REPLICATION,
            "max by (kafka_cluster, topic) "
            "(increase(kafka_watchdog_log_truncations_total[$keep_firing_for])) > 0",
            "Log truncated on topic {{ $labels.topic }} in Kafka cluster "
            "{{ $labels.kafka_cluster }}",
            "The log end offset of a partition of topic {{ $labels.topic }} went backwards "
            "within the last $keep_firing_for: records were lost (and consumers past the "
            "new end reset). The watchdog's log names the partition and the offsets. "
            "Resolves $keep_firing_for after the last one.",
        ),
    ),
)
