"""Which alerts hold their state because the watchdog cannot see their subject right now.

Only a real answer changes an alert's state. The rules mark the findings they read from
carried state (`Finding.unknown_since`); this module covers what a rule cannot see because
no finding is made at all, and the evaluation (alerting/evaluation.py) marks every finding
read from a stale view. An alert without a finding is held, not resolved, when:

- it names a consumer group that is unknown (its coordinator did not answer), or that is
  missing from an incomplete listing (a broker did not answer ListGroups; or, right after a
  start, no listing has answered yet);
- it judges a topic's configs (under_min_isr, risky_topic_config) and they are unknown
  (DescribeConfigs failed for the topic, or has not answered for it since the start: the
  topic's min.insync.replicas is not known);
- it is partly_blind and its stage has not finished an attempt since the start (a restart
  while the stage was blind: whether it still is, nobody has asked yet);
- it is controller_missing and no source has answered about the controller (KRaft: the
  quorum stage has not answered since the start);
- it is an event alert (a rule with `keep_firing_for`: unclean elections, truncations,
  event rates) that fired before this process began remembering events (a restart): the
  event that fired it cannot be seen again, and its condition lasts at least until
  `keep_firing_for` after the alert fired.

Pure: states, rules and time in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from kafka_watchdog.alerting.incidents import Alert
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.spec import Settings

# Rules that judge a topic's effective configs (min.insync.replicas, unclean election).
CONFIG_RULES = frozenset({"under_min_isr", "risky_topic_config"})


def holding(
    rules: Mapping[str, Settings], states: Iterable[ClusterState], now: float
) -> Callable[[Alert], float | None]:
    """A function telling, for an alert without a finding, since when its subject is
    unknown (hold it), or None (its condition is really gone: resolve it)."""
    by_name = {state.name: state for state in states}

    def held_since(alert: Alert) -> float | None:
        labels = alert.finding.labels
        state = by_name.get(labels.get("kafka_cluster", ""))
        if state is None:
            return None  # a cluster no longer watched: nothing will answer for it
        group = labels.get("group")
        if group is not None:
            answered = state.snapshot.groups if state.snapshot is not None else {}
            since = state.unknown.group_held(group, answered)
            if since is not None:
                return since
        topic = labels.get("topic")
        if topic is not None and alert.finding.rule in CONFIG_RULES:
            since = state.unknown.configs.get(topic)
            if since is not None:
                return since
            known = state.snapshot.topics.get(topic) if state.snapshot is not None else None
            if known is not None and known.config.min_insync_replicas is None:
                return state.events_since
        stage = labels.get("stage")
        if alert.finding.rule == "partly_blind" and stage is not None:
            health = state.health.stages.get(stage)
            if health is not None and health.attempts_total == 0:
                return state.events_since
        if (
            alert.finding.rule == "controller_missing"
            and state.snapshot is not None
            and state.snapshot.controller_id is None
            and "controller" not in state.snapshot.sources
        ):
            blind = state.unknown.stages.get("quorum")
            return blind.since if blind is not None else state.events_since
        rule = rules.get(alert.finding.rule)
        if (
            rule is not None
            and rule.keep_firing_for > 0
            and alert.active_since < state.events_since
            and now < (alert.fired_at or alert.active_since) + rule.keep_firing_for
        ):
            return state.events_since
        return None

    return held_since
