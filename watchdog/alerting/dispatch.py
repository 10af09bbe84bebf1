"""Which notifications to send now: Alertmanager's grouping and timing. Pure.

Alerts routed to a receiver are grouped by the `group_by` labels: a broker failure that
makes 3,000 partitions under-replicated is one group, one message. A new group waits
`group_wait` for its siblings before the first notification; changes to a group (alerts
firing or resolving) are told at most every `group_interval`; a group that stays firing
unchanged is repeated every `repeat_interval`. A group whose alerts all resolved sends one
resolved notification and is dropped.

Muted alerts (silenced, inhibited) are not told, but they are not over either: an alert that
was told as firing and is then silenced stays in the group's `notified` list as still
firing (and in `muted`), so muting it never produces a resolve (PagerDuty once got one for
a silenced alert whose fault still held). A group whose every firing alert is muted says
nothing at all, repeats included. When the silence ends the alert is visible again, which is
a change: the group tells it at its next group_interval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka_watchdog.alerting.incidents import Alert, State
from kafka_watchdog.alerting.matching import matches
from kafka_watchdog.rules.finding import SEVERITY_RANK


@dataclass(frozen=True, slots=True)
class Route:
    receiver: str
    severities: frozenset[str]
    matchers: Mapping[str, str] = field(default_factory=dict)
    send_resolved: bool = True

    def wants(self, labels: Mapping[str, str]) -> bool:
        return labels.get("severity") in self.severities and matches(self.matchers, labels)


@dataclass(frozen=True, slots=True)
class Timing:
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float


@dataclass(slots=True)
class NotificationGroup:
    """The notification state of one group of alerts for one receiver."""

    receiver: str
    labels: dict[str, str]
    created: float
    next_flush: float | None = None
    last_flush: float | None = None
    notified: list[str] = field(default_factory=list)  # fingerprints told as firing
    muted: list[str] = field(default_factory=list)  # of those, still firing but muted now

    def to_json(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "labels": self.labels,
            "created": self.created,
            "next_flush": self.next_flush,
            "last_flush": self.last_flush,
            "notified": self.notified,
            "muted": self.muted,
        }


@dataclass(frozen=True, slots=True)
class Notification:
    receiver: str
    group_key: str  # stable across restarts: PagerDuty's dedup_key
    labels: Mapping[str, str]  # the group's labels
    firing: tuple[Alert, ...]  # worst first
    resolved: tuple[Alert, ...]
    first: bool  # the group's first notification: a new incident
    at: float

    @property
    def status(self) -> str:
        return "firing" if self.firing else "resolved"


def group_key(receiver: str, labels: Mapping[str, str]) -> str:
    text = receiver + "|" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _worst_first(alerts: Sequence[Alert]) -> tuple[Alert, ...]:
    return tuple(
        sorted(
            alerts,
            key=lambda a: (
                SEVERITY_RANK.get(a.finding.severity, 9),
                -a.finding.value,
                a.fingerprint,
            ),
        )
    )


class Dispatcher:
    def __init__(self, routes: Sequence[Route], timing: Timing) -> None:
        self.routes = list(routes)
        self.timing = timing
        self.groups: dict[str, NotificationGroup] = {}

    def tick(self, alerts: Mapping[str, Alert], muted: set[str], now: float) -> list[Notification]:
        t = self.timing
        members: dict[str, list[Alert]] = {}
        silent: dict[str, list[Alert]] = {}  # muted but firing, per group
        for alert in alerts.values():
            if alert.state is State.PENDING:
                continue
            # A muted alert that resolved is a real end: told like any resolve.
            quiet = alert.fingerprint in muted and alert.state is State.FIRING
            labels = alert.finding.all_labels()
            for route in self.routes:
                if not route.wants(labels):
                    continue
                glabels = {k: labels.get(k, "") for k in t.group_by}
                key = group_key(route.receiver, glabels)
                if quiet:
                    silent.setdefault(key, []).append(alert)
                    continue
                members.setdefault(key, []).append(alert)
                if key not in self.groups and alert.state is State.FIRING:
                    self.groups[key] = NotificationGroup(route.receiver, glabels, now)
        out: list[Notification] = []
        routes = {r.receiver: r for r in self.routes}
        for key, group in list(self.groups.items()):
            found = members.get(key, [])
            firing = [a for a in found if a.state is State.FIRING]
            now_firing = sorted(a.fingerprint for a in firing)
            told = set(group.notified)
            # Told as firing, still firing, muted now: neither told again nor resolved.
            held = sorted(a.fingerprint for a in silent.get(key, []) if a.fingerprint in told)
            visible = sorted(set(group.notified) - set(group.muted))
            if group.last_flush is None:  # never notified
                if not firing:
                    del self.groups[key]  # resolved (or muted) within group_wait: nobody told
                    continue
                group.next_flush = group.next_flush or group.created + t.group_wait
            elif now_firing != visible or held != sorted(group.muted):
                if group.next_flush is None:
                    group.next_flush = max(group.last_flush + t.group_interval, now)
            elif firing and now - group.last_flush >= t.repeat_interval:
                group.next_flush = now
            if group.next_flush is None or now < group.next_flush:
                continue
            resolved = [a for a in found if a.state is State.RESOLVED and a.fingerprint in told]
            wanted = routes.get(group.receiver)
            first = group.last_flush is None
            group.next_flush = None
            if not firing and held:
                # Everything still firing is muted: say nothing (a resolve now would claim
                # the fault is over), remember what is held. Resolves of alerts that did end
                # meanwhile wait for the group's real end.
                group.notified, group.muted = held, held
                continue
            group.last_flush = now
            group.notified = sorted({*now_firing, *held})
            group.muted = held
            if firing or (wanted is not None and wanted.send_resolved):
                out.append(
                    Notification(
                        group.receiver,
                        key,
                        dict(group.labels),
                        _worst_first(firing),
                        _worst_first(resolved),
                        first,
                        now,
                    )
                )
            if not firing:
                del self.groups[key]
        return out

    def to_json(self) -> dict[str, Any]:
        return {key: g.to_json() for key, g in self.groups.items()}

    def load(self, data: Mapping[str, Any]) -> int:
        """Groups from the state file; returns how many could not be read (skipped)."""
        self.groups = {}
        skipped = 0
        for key, g in data.items():
            try:
                self.groups[str(key)] = NotificationGroup(**g)
            except (TypeError, ValueError):
                skipped += 1
        return skipped
