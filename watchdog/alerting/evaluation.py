"""One evaluation: the clusters' published states -> the rules' findings -> incidents ->
(on the notifier) the notifications due now. Pure: states and time in, changes out; the
service persists them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kafka_watchdog.alerting.dispatch import Dispatcher, Notification, Route, Timing
from kafka_watchdog.alerting.holding import holding
from kafka_watchdog.alerting.incidents import Alert, AlertBook
from kafka_watchdog.alerting.matching import Inhibition, Silence, muted
from kafka_watchdog.config.alerting import AlertingConfig, RuleOverride
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.registry import RULES
from kafka_watchdog.rules.spec import DEFAULT_RUNBOOK_BASE_URL, Settings


def effective_rules(
    overrides: Mapping[str, RuleOverride], runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL
) -> dict[str, Settings]:
    """Every rule of the registry with the user's overrides applied; runbooks link to the
    rule's page under `runbook_base_url` unless a rule names its own."""
    rules = {}
    for spec in RULES:
        o = overrides.get(spec.name)
        if o is None:
            rules[spec.name] = spec.settings(runbook_base_url=runbook_base_url)
            continue
        rules[spec.name] = spec.settings(
            enabled=o.enabled,
            severity=o.severity,
            for_=o.for_,
            threshold=o.threshold,
            keep_firing_for=o.keep_firing_for,
            runbook=o.runbook,
            topics=o.topics,
            groups=o.groups,
            runbook_base_url=runbook_base_url,
        )
    return rules


def evaluate(
    rules: Mapping[str, Settings], states: Iterable[ClusterState], now: float
) -> tuple[list[Finding], frozenset[str]]:
    """Every finding of every enabled rule on every cluster, and the clusters held: those
    without a view yet (just started), whose alerts are kept as they were rather than
    resolved. Only the rules that need no snapshot (cluster_unseen) judge those."""
    found: list[Finding] = []
    held = set()
    for state in states:
        if state.snapshot is None:
            held.add(state.name)
        stale_since = _stale_since(state, now)
        for rule in rules.values():
            if not rule.enabled or (state.snapshot is None and rule.spec.needs_snapshot):
                continue
            # On a stale view the rules keep reading the last snapshot, and what they find
            # is marked unknown since the view went stale: what fired stays firing, what
            # was pending stays pending (cluster_unseen fires meanwhile) rather than
            # resolve, or fire, on an old picture.
            for finding in rule.evaluate(state, now):
                if (
                    stale_since is not None
                    and rule.spec.needs_snapshot
                    and (finding.unknown_since is None or finding.unknown_since > stale_since)
                ):
                    finding = replace(finding, unknown_since=stale_since)
                found.append(finding)
    return found, frozenset(held)


def _stale_since(state: ClusterState, now: float) -> float | None:
    """Since when the cluster's view is stale (its metadata stage failing past
    stale_after), or None while it is fresh."""
    if state.snapshot is None or state.ready(now)[0]:
        return None
    admin = state.health.admin
    return admin.failing_since or admin.last_success or state.snapshot.taken_at


@dataclass(frozen=True, slots=True)
class Outcome:
    changed: list[Alert]  # alerts whose state changed (pending -> firing -> resolved)
    notifications: list[Notification]  # due now (only on the notifier)


class Evaluation:
    """The incidents and the notification groups, and how one evaluation moves them."""

    def __init__(self, config: AlertingConfig, routes: Sequence[Route]) -> None:
        self.rules = effective_rules(config.rules, config.runbook_base_url)
        self.book = AlertBook(
            {n: r.for_ for n, r in self.rules.items()}, config.flap_window, config.flap_count
        )
        self.dispatcher = Dispatcher(
            routes,
            Timing(
                tuple(config.group_by),
                config.group_wait,
                config.group_interval,
                config.repeat_interval,
            ),
        )
        self.inhibitions = [Inhibition(i.source, i.target, tuple(i.equal)) for i in config.inhibit]

    def muted(self, silences: Iterable[Silence], now: float) -> set[str]:
        return muted(self.book.alerts.values(), silences, self.inhibitions, now)

    def step(
        self,
        states: Iterable[ClusterState],
        silences: Iterable[Silence],
        now: float,
        notify: bool,
        own: Iterable[Finding] = (),
    ) -> Outcome:
        """Evaluate the rules and update the incidents; the notifier also advances the
        groups (a standby keeps its incident timers warm but tells nobody). `own` are
        alerting's findings about itself (its state was lost)."""
        states = tuple(states)
        findings, held = evaluate(self.rules, states, now)
        findings.extend(own)
        changed = self.book.update(findings, now, held, holding(self.rules, states, now))
        if not notify:
            return Outcome(changed, [])
        quiet = self.muted(silences, now)
        return Outcome(changed, self.dispatcher.tick(self.book.alerts, quiet, now))

    def to_json(self) -> dict[str, Any]:
        return {"alerts": self.book.to_json(), "groups": self.dispatcher.to_json()}

    def load(self, state: Mapping[str, Any]) -> int:
        """Returns how many alerts and groups could not be read (skipped)."""
        alerts, groups = state.get("alerts") or [], state.get("groups") or {}
        skipped = 0
        if not isinstance(alerts, list):
            alerts, skipped = [], skipped + 1
        if not isinstance(groups, Mapping):
            groups, skipped = {}, skipped + 1
        return skipped + self.book.load(alerts) + self.dispatcher.load(groups)
