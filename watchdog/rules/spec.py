"""What a rule is: its declaration (RuleSpec) and its effective settings (Settings)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol, TypeVar

from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding

Severity = Literal["critical", "warning", "info"]
V = TypeVar("V")
RUNBOOKS = "docs/runbooks"
# Where the runbooks (docs/runbooks/<rule>.md) are served: the one base of every absolute
# runbook link, the daemon's (`alerting.runbook_base_url` defaults to it) and the generated
# rule files' (`make generate RUNBOOK_BASE_URL=...` points those elsewhere). Alerts reach
# people in Slack, PagerDuty or Alertmanager, where a repository-relative path leads nowhere.
DEFAULT_RUNBOOK_BASE_URL = (
    "https://github.com/kafka-watchdog/kafka-watchdog/blob/main/docs/runbooks"
)


def runbook_url(name: str, base: str = DEFAULT_RUNBOOK_BASE_URL) -> str:
    """The absolute link to docs/runbooks/<name>.md under `base`."""
    return f"{base.rstrip('/')}/{name}.md"


class Concern(StrEnum):
    """The group of alerts/kafka-watchdog.rules.yml an alert belongs to."""

    AVAILABILITY = "availability"
    REPLICATION = "replication"
    CONTROLLER = "controller"
    CONSUMERS = "consumers"
    SELF = "self"  # the watchdog itself: its sight of the clusters, its own health


@dataclass(frozen=True, slots=True)
class PromQL:
    """The rule as a Prometheus alerting rule over the watchdog's own metrics, generated into
    alerts/kafka-watchdog.rules.yml (`make generate`; tools/watchdog_rules.py).

    The alert is named like the rule and carries the labels `severity` and `rule`, as the
    daemon's alerts do in Alertmanager, so routes, silences and inhibitions written for one
    path work for the other. In `expr`, `summary` and `description`, `$threshold`, `$for`
    and `$keep_firing_for` stand for the rule's defaults (a number; durations such as `1h`).
    Expressions on Kafka's state aggregate `by (kafka_cluster, <subject>)`, so that the
    replicas of an HA deployment, which export the same series, raise one alert and not one
    each; those on the watchdog itself keep `instance` and `job`, which name the replica.
    """

    concern: Concern
    expr: str
    summary: str  # Go template ($labels, $value): one line naming the subject
    description: str  # Go template: what it means and what breaks, with the labels that matter
    # None: the rule's own `for`. Set it only where a Prometheus reading needs longer than
    # the daemon's (say why next to it).
    for_: float | None = None
    # True: Prometheus keeps the alert firing for the rule's `keep_firing_for` after the
    # expression stops matching (rules on a rate within a window; Prometheus >= 2.42).
    # Event rules instead read `increase(...[$keep_firing_for]) > 0`, which resolves.
    keep_firing: bool = False


@dataclass(frozen=True, slots=True)
class DaemonOnly:
    """The rule has no Prometheus counterpart: the watchdog's metrics cannot express it."""

    why: str  # shown in docs/operating.md


Prometheus = PromQL | DaemonOnly


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
    runbook: str  # an absolute URL (alerting.runbook_base_url) or the user's override
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

    def watched_groups(self, by_group: Mapping[str, V]) -> Iterator[tuple[str, V]]:
        """The (group, value) pairs of the groups this rule watches (its `groups` scope)."""
        return ((g, v) for g, v in by_group.items() if self.group_ok(g))

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
    # Required, so that no rule silently lacks one: its Prometheus alerting rule (PromQL) or
    # why it has none (DaemonOnly). A declaration without it fails at import and in mypy.
    prometheus: Prometheus = field(kw_only=True)

    @property
    def runbook(self) -> str:
        """The runbook's path in the repository (docs link to it relatively)."""
        return f"{RUNBOOKS}/{self.name}.md"

    def runbook_url(self, base: str = DEFAULT_RUNBOOK_BASE_URL) -> str:
        return runbook_url(self.name, base)

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
        runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL,
    ) -> Settings:
        """The defaults, with whatever is given (not None) instead. The runbook is the
        rule's page under `runbook_base_url` unless `runbook` names another."""
        return Settings(
            spec=self,
            severity=self.severity if severity is None else severity,
            for_=self.for_ if for_ is None else for_,
            threshold=self.threshold if threshold is None else threshold,
            keep_firing_for=self.keep_firing_for if keep_firing_for is None else keep_firing_for,
            runbook=self.runbook_url(runbook_base_url) if runbook is None else runbook,
            enabled=True if enabled is None else enabled,
            topics=topics,
            groups=groups,
        )


@dataclass(frozen=True, slots=True)
class PrometheusOnly:
    """An alert only Prometheus raises, declared beside the rules so that the rule file is
    generated from one registry: mostly about the watchdog itself (it cannot page that it is
    down, nor reliably that its own notifications fail). Not evaluated by the daemon."""

    name: str
    severity: Severity
    summary: str  # when it fires, one sentence (docs)
    for_: float
    prometheus: PromQL
    why: str  # why the daemon does not evaluate it

    @property
    def runbook(self) -> str:
        return f"{RUNBOOKS}/{self.name}.md"

    def runbook_url(self, base: str = DEFAULT_RUNBOOK_BASE_URL) -> str:
        return runbook_url(self.name, base)
