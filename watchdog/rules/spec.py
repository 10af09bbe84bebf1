"""What a rule is: its declaration (RuleSpec) and its effective settings (Settings)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding

Severity = Literal["critical", "warning", "info"]
RUNBOOKS = "docs/runbooks"


class NameMatcher(Protocol):
    """A topic or group filter (the config's NameFilter is one)."""

    def allows(self, name: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Settings:
    """A rule as it runs: its declared defaults with the user's overrides applied."""

    spec: RuleSpec
    severity: str
    for_: float
    threshold: float | None
    keep_firing_for: float
    runbook: str
    enabled: bool = True
    topics: NameMatcher | None = None
    groups: NameMatcher | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def evaluate(self, state: ClusterState, now: float) -> Iterable[Finding]:
        return self.spec.evaluate(self, state, now)

    def topic_ok(self, topic: str) -> bool:
        return self.topics is None or self.topics.allows(topic)

    def group_ok(self, group: str) -> bool:
        return self.groups is None or self.groups.allows(group)

    def finding(
        self,
        state: ClusterState,
        summary: str,
        value: float = 1.0,
        *,
        unknown_since: float | None = None,
        **labels: object,
    ) -> Finding:
        """`unknown_since`: the finding is read from carried state (see Finding)."""
        if unknown_since is not None:
            summary += f" (unknown since {_clock(unknown_since)}: last known state)"
        return Finding(
            rule=self.name,
            severity=self.severity,
            labels={"kafka_cluster": state.name, **{k: str(v) for k, v in labels.items()}},
            summary=summary,
            value=value,
            runbook=self.runbook,
            unknown_since=unknown_since,
        )


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts)) + "Z"


Evaluate = Callable[[Settings, ClusterState, float], Iterable[Finding]]
"""(settings, the cluster's published state, now) -> findings. Pure."""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One built-in rule, declared once: everything else (the config's validation, the
    docs, the evaluation) is derived from this."""

    name: str
    severity: Severity
    summary: str  # when it fires, one sentence; `threshold` names the threshold
    labels: tuple[str, ...]  # the subject labels of its findings, besides kafka_cluster
    evaluate: Evaluate
    for_: float = 0.0  # how long the condition must hold before the alert fires
    threshold: float | None = None  # None: the rule has no threshold
    # Event rules: how long the alert stays firing after the event (lost data does not
    # come back when the partition heals).
    keep_firing_for: float = 0.0
    # False: evaluated before the cluster's first view too (the others wait for one; until
    # then the cluster's alerts are held as they were).
    needs_snapshot: bool = True

    @property
    def runbook(self) -> str:
        return f"{RUNBOOKS}/{self.name}.md"

    def settings(
        self,
        *,
        enabled: bool | None = None,
        severity: str | None = None,
        for_: float | None = None,
        threshold: float | None = None,
        keep_firing_for: float | None = None,
        runbook: str | None = None,
        topics: NameMatcher | None = None,
        groups: NameMatcher | None = None,
    ) -> Settings:
        """The defaults, with whatever is given (not None) instead."""
        return Settings(
            spec=self,
            severity=self.severity if severity is None else severity,
            for_=self.for_ if for_ is None else for_,
            threshold=self.threshold if threshold is None else threshold,
            keep_firing_for=self.keep_firing_for if keep_firing_for is None else keep_firing_for,
            runbook=self.runbook if runbook is None else runbook,
            enabled=True if enabled is None else enabled,
            topics=topics,
            groups=groups,
        )
