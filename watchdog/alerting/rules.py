"""The built-in alert rules: pure functions from what a watcher knows to findings.

Each rule has defaults (severity, `for`, threshold, runbook) that the `alerting.rules`
section of the config overrides. State rules find a condition that holds now (an
under-replicated partition); event rules find a change that happened (an unclean leader
election) and keep it firing for `keep_firing_for` after the event, since the data it lost
does not come back when the partition heals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from kafka_watchdog.alerting.finding import Finding
from kafka_watchdog.config.alerting import RULE_NAMES, RuleOverride
from kafka_watchdog.config.schema_base import NameFilter
from kafka_watchdog.detection.events import Event, EventKind
from kafka_watchdog.detection.hazards import HAZARDS, topic_hazards
from kafka_watchdog.detection.lag import LagStatus
from kafka_watchdog.detection.lag_tracker import GroupLag
from kafka_watchdog.detection.partition_health import classify
from kafka_watchdog.model.snapshot import ClusterSnapshot

RUNBOOKS = "docs/runbooks"
# How long an unclean election waits for the new leader's log end before paging without it.
UNCLEAN_DAMAGE_WAIT = 60.0


@dataclass(frozen=True, slots=True)
class ClusterView:
    """What the rules read of one watched cluster."""

    name: str
    snapshot: ClusterSnapshot | None
    ready: bool
    not_ready_reason: str = ""
    zookeeper_state: str | None = None  # None: no ZooKeeper configured
    known_brokers: frozenset[int] = frozenset()
    events: Sequence[Event] = ()
    lag: Mapping[str, GroupLag] = field(default_factory=dict)
    min_replication_factor: int = 3


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    severity: str
    for_: float
    threshold: float | None
    keep_firing_for: float
    doc: str
    enabled: bool = True
    runbook: str = ""
    topics: NameFilter | None = None
    groups: NameFilter | None = None

    def topic_ok(self, topic: str) -> bool:
        return self.topics is None or self.topics.allows(topic)

    def group_ok(self, group: str) -> bool:
        return self.groups is None or self.groups.allows(group)

    def finding(
        self, view: ClusterView, summary: str, value: float = 1.0, **labels: object
    ) -> Finding:
        return Finding(
            rule=self.name,
            severity=self.severity,
            labels={"kafka_cluster": view.name, **{k: str(v) for k, v in labels.items()}},
            summary=summary,
            value=value,
            runbook=self.runbook,
        )


def _rule(
    name: str,
    severity: str,
    for_: float,
    doc: str,
    threshold: float | None = None,
    keep_firing_for: float = 0.0,
) -> Rule:
    return Rule(
        name, severity, for_, threshold, keep_firing_for, doc, runbook=f"{RUNBOOKS}/{name}.md"
    )


DEFAULTS: dict[str, Rule] = {
    r.name: r
    for r in (
        _rule(
            "under_replicated",
            "warning",
            120,
            "A partition has fewer in-sync replicas than replicas.",
        ),
        _rule(
            "under_min_isr",
            "critical",
            30,
            "A partition's ISR is below min.insync.replicas: acks=all producers fail.",
        ),
        _rule(
            "offline_partitions",
            "critical",
            0,
            "A partition has no leader: nobody can read or write it.",
        ),
        _rule(
            "unclean_leader_election",
            "critical",
            0,
            "A replica outside the ISR became leader: acknowledged records were lost.",
            keep_firing_for=3600,
        ),
        _rule(
            "log_truncation",
            "critical",
            0,
            "A partition's log end went backwards: records were lost.",
            keep_firing_for=3600,
        ),
        _rule(
            "broker_gone",
            "critical",
            30,
            "A broker that was registered or holds replicas is not registered.",
        ),
        _rule(
            "controller_missing",
            "critical",
            60,
            "No active controller is known although the cluster reports one normally.",
        ),
        _rule(
            "controller_flapping",
            "warning",
            0,
            "The controller changed more than `threshold` times in 10 minutes.",
            threshold=3,
            keep_firing_for=600,
        ),
        _rule(
            "isr_shrink_rate",
            "warning",
            0,
            "More than `threshold` ISR shrinks in 5 minutes.",
            threshold=50,
            keep_firing_for=300,
        ),
        _rule(
            "consumer_lag",
            "warning",
            300,
            "A group lags more than `threshold` messages on a topic.",
            threshold=100_000,
        ),
        _rule(
            "consumer_lag_seconds",
            "warning",
            120,
            "A group's oldest unread record is older than `threshold` seconds.",
            threshold=600,
        ),
        _rule(
            "consumer_stalled",
            "warning",
            60,
            "A group's lag status is STALL or STOP (Burrow's rules).",
        ),
        _rule(
            "commit_beyond_log_end",
            "warning",
            60,
            "A group committed an offset beyond the log end: its next fetch resets.",
        ),
        _rule(
            "risky_topic_config",
            "warning",
            0,
            "A topic's settings turn one broker failure into data loss or outage.",
        ),
        _rule("cluster_unseen", "critical", 60, "The watchdog has no fresh view of the cluster."),
        _rule(
            "zookeeper_session_lost",
            "warning",
            60,
            "The watchdog's ZooKeeper session is not connected.",
        ),
    )
}
assert tuple(DEFAULTS) == RULE_NAMES


def effective_rules(overrides: Mapping[str, RuleOverride]) -> dict[str, Rule]:
    rules = {}
    for name, rule in DEFAULTS.items():
        o = overrides.get(name)
        if o is not None:
            changes = {
                "enabled": o.enabled,
                "threshold": o.threshold,
                "for_": o.for_,
                "keep_firing_for": o.keep_firing_for,
                "severity": o.severity,
                "runbook": o.runbook,
                "topics": o.topics,
                "groups": o.groups,
            }
            rule = replace(rule, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]
        rules[name] = rule
    return rules


# -- state rules --------------------------------------------------------------------------


def _partitions(rule: Rule, view: ClusterView) -> Iterator[Finding]:
    snap = view.snapshot
    if snap is None:
        return
    live = snap.brokers.keys()
    for topic in snap.topics.values():
        if not rule.topic_ok(topic.name):
            continue
        for p in topic.partitions:
            health = classify(p, topic.config, live)
            where = {"topic": p.topic, "partition": p.partition}
            missing = sorted(set(p.replicas) - set(p.isr))
            if rule.name == "under_replicated" and health.under_replicated:
                yield rule.finding(
                    view,
                    f"{p.topic}-{p.partition}: ISR {list(p.isr)} of replicas {list(p.replicas)} "
                    f"(out of sync: {missing})",
                    len(missing),
                    **where,
                )
            elif rule.name == "under_min_isr" and health.under_min_isr and not health.offline:
                yield rule.finding(
                    view,
                    f"{p.topic}-{p.partition}: ISR {list(p.isr)} below min.insync.replicas "
                    f"{topic.config.min_insync_replicas}: acks=all writes fail",
                    len(missing),
                    **where,
                )
            elif rule.name == "offline_partitions" and health.offline:
                yield rule.finding(
                    view,
                    f"{p.topic}-{p.partition}: no leader (replicas {list(p.replicas)} all out)",
                    len(p.replicas),
                    **where,
                )


def _broker_gone(rule: Rule, view: ClusterView) -> Iterator[Finding]:
    snap = view.snapshot
    if snap is None:
        return
    for broker in sorted(view.known_brokers - snap.brokers.keys()):
        held = sum(1 for t in snap.topics.values() for p in t.partitions if broker in p.replicas)
        yield rule.finding(
            view,
            f"broker {broker} is not registered; it holds replicas of {held} partitions",
            held,
            broker=broker,
        )


def _controller_missing(rule: Rule, view: ClusterView) -> Iterator[Finding]:
    snap = view.snapshot
    if snap is not None and view.ready and snap.brokers and snap.controller_id is None:
        yield rule.finding(view, "no active controller is known")


def _consumer_lag(rule: Rule, view: ClusterView) -> Iterator[Finding]:
    threshold = rule.threshold or 0
    for group_id, lag in view.lag.items():
        if not rule.group_ok(group_id):
            continue
        for topic, parts in lag.by_topic().items():
            if not rule.topic_ok(topic):
                continue
            if rule.name == "consumer_lag":
                total = sum(p.lag or 0 for p in parts)
                if total > threshold:
                    yield rule.finding(
                        view,
                        f"group {group_id} lags {total} messages on {topic}",
                        total,
                        group=group_id,
                        topic=topic,
                    )
            else:
                worst = max((p.lag_seconds or 0.0 for p in parts), default=0.0)
                if worst > threshold:
                    yield rule.finding(
                        view,
                        f"group {group_id} is {worst:.0f}s behind on {topic}",
                        worst,
                        group=group_id,
                        topic=topic,
                    )


def _consumer_stalled(rule: Rule, view: ClusterView) -> Iterator[Finding]:
    for group_id, lag in view.lag.items():
        if not rule.group_ok(group_id):
            continue
        if lag.status in (LagStatus.STALL, LagStatus.STOP):
            behind = sum(p.lag or 0 for p in lag.partitions)
            yield rule.finding(
                view,
                f"group {group_id} is {lag.status.value}: "
                + (
                    "its members hold partitions but commit no progress"
                    if lag.status is LagStatus.STALL
                    else "nobody consumes while lag stays"
                )
                + f" ({behind} messages behind)",
                behind,
                group=group_id,
            )


def _commit_beyond_end(rule: Rule, view: ClusterView) -> Iterator[Finding]:
    for group_id, lag in view.lag.items():
        if not rule.group_ok(group_id):
            continue
        for p in lag.partitions:
            if p.log_end is not None and p.committed > p.log_end and rule.topic_ok(p.topic):
                yield rule.finding(
                    view,
                    f"group {group_id} committed {p.committed} on {p.topic}-{p.partition} "
                    f"beyond the log end {p.log_end}: its next fetch resets "
                    "(auto.offset.reset)",
                    p.committed - p.log_end,
                    group=group_id,
                    topic=p.topic,
                    partition=p.partition,
                )


def _risky_config(rule: Rule, view: ClusterView) -> Iterator[Finding]:
    snap = view.snapshot
    if snap is None:
        return
    for topic in snap.topics.values():
        if topic.internal or not rule.topic_ok(topic.name):
            continue
        for hazard in topic_hazards(topic, view.min_replication_factor):
            yield rule.finding(
                view,
                f"topic {topic.name}: {hazard}: {HAZARDS[hazard]}",
                topic=topic.name,
                hazard=hazard,
            )


def _cluster_unseen(rule: Rule, view: ClusterView) -> Iterator[Finding]:
    if not view.ready:
        yield rule.finding(view, f"no fresh view of cluster {view.name}: {view.not_ready_reason}")


def _zookeeper(rule: Rule, view: ClusterView) -> Iterator[Finding]:
    state = view.zookeeper_state
    if state is not None and state != "CONNECTED":
        yield rule.finding(view, f"ZooKeeper session {state}: the ZooKeeper view is stale")


# -- event rules --------------------------------------------------------------------------


def _data_loss(rule: Rule, view: ClusterView, now: float) -> Iterator[Finding]:
    recent = [e for e in view.events if now - e.observed_at <= rule.keep_firing_for]
    truncations = [e for e in recent if e.kind is EventKind.LOG_TRUNCATION]
    kind = (
        EventKind.UNCLEAN_LEADER_ELECTION
        if rule.name == "unclean_leader_election"
        else EventKind.LOG_TRUNCATION
    )
    for event in recent:
        if event.kind is not kind or event.topic is None or not rule.topic_ok(event.topic):
            continue
        where = {"topic": event.topic, "partition": event.partition}
        if kind is EventKind.LOG_TRUNCATION:
            lost = int(event.before) - int(event.after)  # type: ignore[call-overload]
            yield rule.finding(view, event.detail, lost, **where)
            continue
        before: tuple[int, tuple[int, ...]] = event.before  # type: ignore[assignment]
        after: tuple[int, tuple[int, ...]] = event.after  # type: ignore[assignment]
        (old_leader, old_isr), new_leader = before, after[0]
        lost_in = [
            e for e in truncations if (e.topic, e.partition) == (event.topic, event.partition)
        ]
        if lost_in:
            lost = sum(int(e.before) - int(e.after) for e in lost_in)  # type: ignore[call-overload]
            risk = f"{lost} records lost (log end {lost_in[0].before} -> {lost_in[-1].after})"
        else:
            # Page with the damage, not before it is known: the new leader's log end comes
            # with the next offsets cycle (a drop there is a truncation event).
            snap = view.snapshot
            read_at = snap.sources.get("offsets", ("", 0.0))[1] if snap is not None else 0.0
            state = snap.partition(event.topic, event.partition or 0) if snap else None
            if read_at > event.observed_at and state is not None and state.log_end_offset:
                lost = 0
                risk = f"no truncation seen (log end {state.log_end_offset} kept)"
            elif now - event.observed_at < UNCLEAN_DAMAGE_WAIT:
                continue
            else:
                lost, risk = 0, "records lost: unknown (the new leader's log end is not known)"
        was = "the partition was offline" if old_leader < 0 else f"leader was {old_leader}"
        yield rule.finding(
            view,
            f"{event.topic}-{event.partition}: unclean leader election: broker {new_leader} "
            f"became leader outside the ISR {list(old_isr)} ({was}); {risk}",
            lost,
            **where,
        )


def _event_rate(rule: Rule, view: ClusterView, now: float) -> Iterator[Finding]:
    if rule.name == "controller_flapping":
        kind, window, what = EventKind.CONTROLLER_CHANGED, 600.0, "controller changes"
    else:
        kind, window, what = EventKind.ISR_SHRINK, 300.0, "ISR shrinks"
    # Fire while the rate is over the threshold, and keep firing `keep_firing_for` after.
    seen = [
        e
        for e in view.events
        if e.kind is kind and now - e.observed_at <= window + rule.keep_firing_for
    ]
    threshold = rule.threshold or 0
    for end in sorted({e.observed_at for e in seen}, reverse=True):
        inside = [e for e in seen if end - window < e.observed_at <= end]
        if len(inside) > threshold and now - end <= rule.keep_firing_for:
            brokers = Counter(e.broker for e in inside if e.broker is not None)
            by = f"; most by broker {brokers.most_common(1)[0][0]}" if brokers else ""
            yield rule.finding(
                view, f"{len(inside)} {what} within {window / 60:.0f} minutes{by}", len(inside)
            )
            return


StateRule = Callable[[Rule, ClusterView], Iterable[Finding]]
EventRule = Callable[[Rule, ClusterView, float], Iterable[Finding]]

STATE_RULES: dict[str, StateRule] = {
    "under_replicated": _partitions,
    "under_min_isr": _partitions,
    "offline_partitions": _partitions,
    "broker_gone": _broker_gone,
    "controller_missing": _controller_missing,
    "consumer_lag": _consumer_lag,
    "consumer_lag_seconds": _consumer_lag,
    "consumer_stalled": _consumer_stalled,
    "commit_beyond_log_end": _commit_beyond_end,
    "risky_topic_config": _risky_config,
    "cluster_unseen": _cluster_unseen,
    "zookeeper_session_lost": _zookeeper,
}
EVENT_RULES: dict[str, EventRule] = {
    "unclean_leader_election": _data_loss,
    "log_truncation": _data_loss,
    "controller_flapping": _event_rate,
    "isr_shrink_rate": _event_rate,
}
assert set(STATE_RULES) | set(EVENT_RULES) == set(RULE_NAMES)


def evaluate(rules: Mapping[str, Rule], view: ClusterView, now: float) -> list[Finding]:
    """Every finding of every enabled rule on one cluster."""
    found: list[Finding] = []
    for name, rule in rules.items():
        if not rule.enabled:
            continue
        if name in STATE_RULES:
            # On a stale view the state rules keep reading the last snapshot: what fired
            # stays firing (cluster_unseen fires too and mutes the rest) rather than resolve
            # because the watchdog lost sight of the cluster.
            found.extend(STATE_RULES[name](rule, view))
        else:
            found.extend(EVENT_RULES[name](rule, view, now))
    return found
