"""Notification texts a person reads in one glance: what, where, since when, how bad, what to do.

Pure. The same notification becomes a chat message (apprise), a PagerDuty event and the
annotations of Alertmanager alerts.
"""

from __future__ import annotations

import time
from typing import Any

from kafka_watchdog.alerting.dispatch import Notification
from kafka_watchdog.alerting.incidents import Alert


def _when(ts: float | None) -> str:
    if ts is None:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _ago(now: float, ts: float | None) -> str:
    if ts is None:
        return "?"
    seconds = max(0, int(now - ts))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def title(n: Notification) -> str:
    labels = n.labels
    what = labels.get("rule", "alerts")
    where = labels.get("kafka_cluster", "")
    worst = (n.firing or n.resolved)[0].finding if (n.firing or n.resolved) else None
    severity = worst.severity.upper() if worst is not None else ""
    if n.firing:
        count = f" x{len(n.firing)}" if len(n.firing) > 1 else ""
        return f"[{severity}] {what}{count} on {where}".strip()
    return f"[RESOLVED] {what} on {where}".strip()


def _line(a: Alert, now: float) -> str:
    return f"- {a.finding.summary} (since {_ago(now, a.active_since)})"


def body(n: Notification, max_listed: int) -> str:
    lines: list[str] = []
    if n.firing:
        first = n.firing[0]
        since = min(a.active_since for a in n.firing)
        lines.append(
            f"{len(n.firing)} firing on {n.labels.get('kafka_cluster', '?')} since "
            f"{_when(since)}; worst first:"
        )
        lines += [_line(a, n.at) for a in n.firing[:max_listed]]
        if len(n.firing) > max_listed:
            lines.append(f"... and {len(n.firing) - max_listed} more")
        if first.finding.runbook:
            lines.append(f"Runbook: {first.finding.runbook}")
    if n.resolved:
        lines.append(f"{len(n.resolved)} resolved:")
        lines += [
            f"- {a.finding.summary} (lasted {_ago(a.resolved_at or n.at, a.active_since)})"
            for a in n.resolved[:max_listed]
        ]
        if len(n.resolved) > max_listed:
            lines.append(f"... and {len(n.resolved) - max_listed} more")
    return "\n".join(lines)


def pagerduty_event(n: Notification, routing_key: str, max_listed: int) -> dict[str, Any]:
    """Events API v2: one PagerDuty incident per group, keyed by the group key."""
    if not n.firing:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": n.group_key}
    worst = n.firing[0].finding
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": n.group_key,
        "payload": {
            "summary": f"{title(n)}: {worst.summary}"[:1024],
            "source": n.labels.get("kafka_cluster", "kafka-watchdog"),
            "severity": worst.severity if worst.severity != "info" else "info",
            "component": n.labels.get("rule", ""),
            "group": n.labels.get("kafka_cluster", ""),
            "class": worst.rule,
            "custom_details": {
                "firing": len(n.firing),
                "alerts": [a.finding.summary for a in n.firing[:max_listed]],
                "labels": dict(n.labels),
            },
        },
        "links": (
            [{"href": worst.runbook, "text": "runbook"}]
            if worst.runbook.startswith(("http://", "https://"))
            else []
        ),
    }
