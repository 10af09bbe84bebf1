"""The life of each alert: pending -> firing -> resolved. Pure: time comes in as an argument.

- A finding seen for the first time is pending; it fires once it has held for its rule's
  `for` (at once when `for` is 0). A pending finding that goes away is forgotten: nobody
  was told.
- A firing alert whose finding goes away is resolved, unless it is flapping: it fired
  `flap_count` times within `flap_window`. A flapping alert stays firing until its finding
  has been gone for a whole `flap_window`, so a partition that drops in and out of the ISR
  every minute is one incident, not twenty pages.
- Resolved alerts are kept for one `flap_window` (their firing history counts for flapping)
  and then dropped.
- Only a real answer changes an alert's state. A finding read from carried state (its
  `unknown_since` set: the group's coordinator is gone, say) holds the alert as it is:
  firing stays firing, pending stays pending (it fires once the condition is seen again
  and its `for` has passed), and no new alert starts from it. An alert without a finding
  that the evaluation says must hold (`holding`: its subject is missing from an incomplete
  answer, its events predate a restart) is likewise left as it is, marked unknown since.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from kafka_watchdog.rules.finding import Finding


class State(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as of the last evaluation. Immutable: the book replaces it when it
    changes, so the published status can hand the same objects to every reader."""

    finding: Finding
    state: State
    active_since: float  # when this episode's condition was first seen
    last_seen: float
    fired_at: float | None = None
    resolved_at: float | None = None
    fire_times: tuple[float, ...] = ()

    @property
    def fingerprint(self) -> str:
        return self.finding.fingerprint

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["finding"]["fingerprint"]  # derived from the rule and labels
        out["finding"]["labels"] = dict(self.finding.labels)
        out["finding"]["details"] = dict(self.finding.details)
        out["fire_times"] = list(self.fire_times)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Alert:
        values = dict(data)
        values["finding"] = Finding(**values["finding"])
        values["state"] = State(values["state"])
        values["fire_times"] = tuple(values.get("fire_times", ()))
        return cls(**values)


class AlertBook:
    def __init__(
        self, for_by_rule: Mapping[str, float], flap_window: float, flap_count: int
    ) -> None:
        self.for_by_rule = for_by_rule
        self.flap_window = flap_window
        self.flap_count = flap_count
        self.alerts: dict[str, Alert] = {}

    def flapping(self, alert: Alert, now: float) -> bool:
        recent = [t for t in alert.fire_times if now - t <= self.flap_window]
        return len(recent) >= self.flap_count

    def update(
        self,
        findings: Iterable[Finding],
        now: float,
        hold: frozenset[str] = frozenset(),
        holding: Callable[[Alert], float | None] | None = None,
    ) -> list[Alert]:
        """Apply one evaluation's findings; returns the alerts whose state changed.

        Alerts of the clusters in `hold` (not evaluated this time: no view of them yet, as
        right after a restart) are left as they are rather than resolved; so is an alert
        without a finding for which `holding` says since when its subject is unknown."""
        changed: list[Alert] = []
        seen: set[str] = set()
        for finding in findings:
            fp = finding.fingerprint
            if fp in seen:
                continue
            alert = self.alerts.get(fp)
            if finding.unknown_since is not None:
                # Carried state: hold what is there, start nothing.
                if alert is not None and alert.state is not State.RESOLVED:
                    seen.add(fp)
                    self.alerts[fp] = replace(alert, finding=finding, last_seen=now)
                continue
            seen.add(fp)
            if alert is None or alert.state is State.RESOLVED:
                history = alert.fire_times if alert is not None else ()
                alert = Alert(finding, State.PENDING, now, now, fire_times=history)
            else:
                alert = replace(alert, finding=finding, last_seen=now)
            if alert.state is State.PENDING and now - alert.active_since >= self.for_by_rule.get(
                finding.rule, 0.0
            ):
                recent = tuple(t for t in alert.fire_times if now - t <= self.flap_window)
                alert = replace(alert, state=State.FIRING, fired_at=now, fire_times=(*recent, now))
                changed.append(alert)
            self.alerts[fp] = alert
        for fp, alert in list(self.alerts.items()):
            if fp in seen or alert.finding.labels.get("kafka_cluster") in hold:
                continue
            since = (
                holding(alert)
                if holding is not None and alert.state is not State.RESOLVED
                else None
            )
            if since is not None:
                if alert.finding.unknown_since != since:
                    finding = replace(alert.finding, unknown_since=since)
                    self.alerts[fp] = replace(alert, finding=finding)
                continue
            if alert.state is State.PENDING:
                del self.alerts[fp]
            elif alert.state is State.FIRING:
                if self.flapping(alert, now) and now - alert.last_seen < self.flap_window:
                    continue  # damped: stays firing until quiet for a flap window
                alert = self.alerts[fp] = replace(alert, state=State.RESOLVED, resolved_at=now)
                changed.append(alert)
            elif alert.resolved_at is not None and now - alert.resolved_at > self.flap_window:
                del self.alerts[fp]
        return changed

    def to_json(self) -> list[dict[str, Any]]:
        return [a.to_json() for a in self.alerts.values()]

    def load(self, data: Iterable[Mapping[str, Any]]) -> int:
        """Alerts from the state file; returns how many could not be read (skipped)."""
        self.alerts = {}
        skipped = 0
        for item in data:
            try:
                alert = Alert.from_json(item)
            except (TypeError, ValueError, KeyError, AttributeError):
                skipped += 1
                continue
            self.alerts[alert.fingerprint] = alert
        return skipped
