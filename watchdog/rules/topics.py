"""Topic settings, read from the snapshot's assessment (its hazards)."""

from __future__ import annotations

from collections.abc import Iterator

from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import RuleSpec, Settings


def risky_config(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    if state.snapshot is None or state.assessment is None:
        return
    for topic in state.snapshot.topics.values():
        if topic.internal or not rule.topic_ok(topic.name):
            continue
        for hazard in state.assessment.topics[topic.name].hazards:
            yield rule.finding(
                state,
                f"topic {topic.name}: {hazard.value}: {hazard.meaning}",
                unknown_since=state.unknown.configs.get(topic.name),
                topic=topic.name,
                hazard=hazard.value,
            )


RULES = (
    RuleSpec(
        "risky_topic_config",
        "warning",
        "A topic's settings turn one broker failure into data loss or outage.",
        ("topic", "hazard"),
        risky_config,
    ),
)
