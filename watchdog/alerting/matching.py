"""Label matchers, silences and inhibition: which alerts nobody should be told about."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka_watchdog.alerting.incidents import Alert, State
from kafka_watchdog.config.matchers import matches as matches

# Matching is RE2 (config/matchers.py): linear time, whatever the regex. Every matcher was
# compiled and checked where it came in (config, API, state file), so none fails here.


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: Mapping[str, str]
    starts_at: float
    ends_at: float
    comment: str = ""
    created_by: str = "config"

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        return self.active(now) and matches(self.matchers, labels)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": dict(self.matchers),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "comment": self.comment,
            "created_by": self.created_by,
        }


@dataclass(frozen=True, slots=True)
class Inhibition:
    source: Mapping[str, str]
    target: Mapping[str, str]
    equal: tuple[str, ...] = field(default=("kafka_cluster",))


def muted(
    alerts: Iterable[Alert],
    silences: Iterable[Silence],
    inhibitions: Iterable[Inhibition],
    now: float,
) -> set[str]:
    """Fingerprints of the alerts that are silenced or inhibited right now."""
    alerts = list(alerts)
    silences = [s for s in silences if s.active(now)]
    firing = [a.finding.all_labels() for a in alerts if a.state is State.FIRING]
    # Per inhibition, the `equal` label values of the firing sources: one pass, so that
    # 3,000 under-replicated partitions against one broker_gone cost 3,000 lookups.
    sources = [
        (
            rule,
            {
                tuple(src.get(k) for k in rule.equal)
                for src in firing
                if matches(rule.source, src) and not matches(rule.target, src)
            },
        )
        for rule in inhibitions
    ]
    out = set()
    for alert in alerts:
        labels = alert.finding.all_labels()
        if any(matches(s.matchers, labels) for s in silences) or any(
            keys
            and tuple(labels.get(k) for k in rule.equal) in keys
            and matches(rule.target, labels)
            for rule, keys in sources
        ):
            out.add(alert.fingerprint)
    return out
