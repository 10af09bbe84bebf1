"""The status view: what the page at `/`, `/api/status` and `kafka-watchdog status` show,
built from published values only (each cluster's ClusterState, alerting's status). Pure:
states and time in, a JSON-ready dict out, ordered the way an operator reads it: what is at
risk first.

Durations are seconds; +Inf (never) is the string "never" (JSON has no infinity); None is
unknown. Names (topics, groups, hosts) are passed through as they are: whoever renders them
escapes them (Jinja2's autoescape on the page, rich's markup escaping in the terminal).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from kafka_watchdog import __version__
from kafka_watchdog.alerting.incidents import State
from kafka_watchdog.alerting.status import AlertingStatus
from kafka_watchdog.model.events import EventKind
from kafka_watchdog.model.lag import LagStatus
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.registry import BY_NAME

# How much of each list the view carries (the JSON API may ask for more groups).
PARTITIONS_SHOWN = 100
EVENTS_SHOWN = 30
GROUPS_SHOWN = 50
# Events that mean records were lost or a disk went: always on top.
LOSS_EVENTS = (
    EventKind.UNCLEAN_LEADER_ELECTION,
    EventKind.LOG_TRUNCATION,
    EventKind.OFFSET_BELOW_LOG_START,
    EventKind.LOG_DIR_OFFLINE,
)
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
# Unread records retention deletes sooner than this are AT RISK on the page (the
# retention_risk rule's default threshold; the alert itself follows the config).
RETENTION_AT_RISK = BY_NAME["retention_risk"].threshold or 3600.0


def seconds(value: float | None) -> float | str | None:
    if value is None:
        return None
    if math.isinf(value):
        return "never"
    return round(value, 1)


def build(
    states: Sequence[ClusterState],
    alerting: AlertingStatus | None,
    now: float,
    *,
    groups_shown: int = GROUPS_SHOWN,
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "version": __version__,
        "generated_at": now,
        "clusters": [cluster(s, now, groups_shown) for s in states],
        "alerting": alerting is not None,
        "alerts": [],
        "pending_alerts": 0,
        "silences": [],
    }
    if alerting is not None:
        view.update(alerts_view(alerting, {s.name for s in states}, now))
    return view


def alerts_view(status: AlertingStatus, clusters: set[str], now: float) -> dict[str, Any]:
    active = [s for s in status.silences if s.active(now)]
    firing = []
    pending = 0
    for alert in status.alerts:
        labels = dict(alert.finding.labels)
        if labels.get("kafka_cluster") not in clusters:
            continue
        if alert.state is State.PENDING:
            pending += 1
        if alert.state is not State.FIRING:
            continue
        all_labels = alert.finding.all_labels()
        silenced_by = [s.id for s in active if s.mutes(all_labels, now)]
        firing.append(
            {
                "rule": alert.finding.rule,
                "severity": alert.finding.severity,
                "summary": alert.finding.summary,
                "labels": labels,
                "since": alert.fired_at,
                "runbook": alert.finding.runbook,
                "silenced_by": silenced_by,
            }
        )
    firing.sort(key=_alert_order)
    return {
        "alerts": firing,
        "pending_alerts": pending,
        "silences": [
            {
                "id": s.id,
                "matchers": dict(s.matchers),
                "starts_at": s.starts_at,
                "ends_at": s.ends_at,
                "created_by": s.created_by,
                "comment": s.comment,
            }
            for s in sorted(active, key=lambda s: s.ends_at)
        ],
    }


def _alert_order(alert: dict[str, Any]) -> tuple[int, float]:
    return SEVERITY_ORDER.get(alert["severity"], 9), -(alert["since"] or 0.0)


def cluster(state: ClusterState, now: float, groups_shown: int) -> dict[str, Any]:
    ready, reason = state.ready(now)
    snap = state.snapshot
    out: dict[str, Any] = {
        "name": state.name,
        "ready": ready,
        "reason": reason,
        "zookeeper_session": state.zookeeper_state,
        "stages": [
            {
                "stage": h.stage,
                "source": h.source,
                "ok": h.last_reason is None and h.last_success is not None,
                "tried": h.attempts_total > 0,
                "last_success_age": None if h.last_success is None else now - h.last_success,
                "error": h.last_error,
                "reason": h.last_reason,
                "failures": h.consecutive_failures,
            }
            for h in state.health.sources()
        ],
        "mode": None,
        "cluster_id": None,
        "controller_id": None,
        "snapshot_age_seconds": None,
        "brokers": [],
        "partition_counts": {},
        "at_risk": [],
        "at_risk_total": 0,
        "events": [],
        "groups": [],
        "groups_total": len(state.lag),
    }
    if snap is None:
        return out
    out.update(
        mode=snap.mode.value,
        cluster_id=snap.cluster_id,
        controller_id=snap.controller_id,
        snapshot_age_seconds=round(now - snap.taken_at, 1),
        topics=len(snap.topics),
    )
    out["brokers"] = brokers(state)
    out.update(partitions(state))
    out["events"] = events(state)
    out["groups"] = groups(state, groups_shown)
    return out


def brokers(state: ClusterState) -> list[dict[str, Any]]:
    snap = state.snapshot
    assert snap is not None
    leaders: dict[int, int] = {}
    for topic in snap.topics.values():
        for p in topic.partitions:
            leaders[p.leader] = leaders.get(p.leader, 0) + 1
    out = []
    for broker_id in sorted(state.known_brokers | set(snap.brokers) | set(state.log_dirs)):
        b = snap.brokers.get(broker_id)
        disks = state.log_dirs.get(broker_id)
        out.append(
            {
                "id": broker_id,
                "address": f"{b.host}:{b.port}" if b is not None else None,
                "rack": b.rack if b is not None else None,
                "up": b is not None,
                "controller": broker_id == snap.controller_id,
                "leaders": leaders.get(broker_id, 0),
                "disks_error": disks.error if disks is not None else None,
                "log_dirs": [
                    {
                        "path": d.path,
                        "online": d.online,
                        "error": d.error,
                        "size_bytes": d.size_bytes,
                        "replicas": len(d.replicas),
                        "usable_bytes": d.usable_bytes,
                        "total_bytes": d.total_bytes,
                        "growth_bytes_per_hour": None
                        if d.growth_bytes_per_second is None
                        else round(d.growth_bytes_per_second * 3600),
                    }
                    for d in (sorted(disks.dirs.values(), key=lambda d: d.path) if disks else ())
                ],
            }
        )
    return out


def partitions(state: ClusterState) -> dict[str, Any]:
    snap, assessment = state.snapshot, state.assessment
    counts = {"total": 0, "offline": 0, "under_min_isr": 0, "under_replicated": 0, "at_min_isr": 0}
    risky = []
    if snap is None or assessment is None:
        return {"partition_counts": counts, "at_risk": [], "at_risk_total": 0}
    for topic, p, health in assessment.partitions(snap):
        counts["total"] += 1
        for flag in ("offline", "under_min_isr", "under_replicated", "at_min_isr"):
            if getattr(health, flag):
                counts[flag] += 1
        if health.offline:
            rank, what = 0, "offline"
        elif health.under_min_isr:
            rank, what = 1, "under min ISR"
        elif health.under_replicated:
            rank, what = 2, "under-replicated"
        else:
            continue
        risky.append(
            (
                rank,
                topic.name,
                p.partition,
                {
                    "topic": topic.name,
                    "partition": p.partition,
                    "state": what,
                    "leader": p.leader,
                    "replicas": list(p.replicas),
                    "isr": list(p.isr),
                    "out_of_sync": sorted(set(p.replicas) - set(p.isr)),
                    "min_isr": topic.config.min_insync_replicas,
                },
            )
        )
    risky.sort(key=lambda r: r[:3])
    return {
        "partition_counts": counts,
        "at_risk": [r[3] for r in risky[:PARTITIONS_SHOWN]],
        "at_risk_total": len(risky),
    }


def events(state: ClusterState) -> list[dict[str, Any]]:
    recent = list(reversed(state.events))  # newest first
    ordered = [e for e in recent if e.kind in LOSS_EVENTS] + [
        e for e in recent if e.kind not in LOSS_EVENTS
    ]
    return [
        {
            "at": e.observed_at,
            "kind": e.kind.value,
            "subject": e.subject,
            "detail": e.detail,
            "loss": e.kind in LOSS_EVENTS,
        }
        for e in ordered[:EVENTS_SHOWN]
    ]


def _risk_key(g: dict[str, Any]) -> tuple[Any, ...]:
    retention = g["retention_seconds"]
    return (
        0 if g["records_skipped"] else 1,
        0 if g["retention_at_risk"] else 1,
        retention if g["retention_at_risk"] else 0,
        -LagStatus(g["status"]).severity,
        0 if g["catchup_seconds"] == "never" else 1,
        -(g["lag_seconds"] or 0),
        -(g["lag"] or 0),
        g["group"],
    )


def groups(state: ClusterState, shown: int) -> list[dict[str, Any]]:
    out = []
    skipped: dict[str, int] = {}
    for (group_id, _), n in state.records_skipped.items():
        skipped[group_id] = skipped.get(group_id, 0) + n
    for group_id, lag in state.lag.items():
        seen = state.foresight.get(group_id)
        known = [p.lag for p in lag.partitions if p.lag is not None]
        secs = [p.lag_seconds for p in lag.partitions if p.lag_seconds is not None]
        soonest = None
        if seen is not None:
            parts = [p for p in seen.partitions if p.retention_seconds is not None]
            if parts:
                soonest = min(parts, key=lambda p: p.retention_seconds or 0.0)
        retention = soonest.retention_seconds if soonest is not None else None
        history = state.lag_history.get(group_id)
        points = [[t, v] for t, v in history.points()] if history is not None else []
        out.append(
            {
                "group": group_id,
                "state": lag.state,
                "members": lag.members,
                "status": lag.status.value,
                "topics": sorted(lag.by_topic()),
                "lag": sum(known) if known else None,
                "lag_seconds": seconds(max(secs)) if secs else None,
                "catchup_seconds": seconds(seen.catchup_seconds) if seen else None,
                "retention_seconds": seconds(retention),
                "retention_partition": f"{soonest.topic}-{soonest.partition}"
                if soonest is not None and retention is not None and not math.isinf(retention)
                else None,
                "retention_at_risk": retention is not None and retention <= RETENTION_AT_RISK,
                "records_skipped": skipped.get(group_id, 0),
                "history": points,
            }
        )
    out.sort(key=_risk_key)
    return out[:shown]
