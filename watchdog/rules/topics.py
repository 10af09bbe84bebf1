"""Topic settings, read from the snapshot's assessment (its hazards)."""

from __future__ import annotations

from collections.abc import Iterator

from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import Concern, PromQL, RuleSpec, Settings


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
        prometheus=PromQL(
            Concern.REPLICATION,
            "max by (kafka_cluster, topic, hazard) (kafka_watchdog_topic_config_hazard) == 1",
            "Topic {{ $labels.topic }} has a risky setting ({{ $labels.hazard }}) in Kafka "
            "cluster {{ $labels.kafka_cluster }}",
            "Topic {{ $labels.topic }}: {{ $labels.hazard }} (docs/metrics.md lists the "
            "hazards): one broker failure turns into data loss or an outage.",
            # Topics are often created first and configured a moment later; a setting that
            # holds for 10 minutes is the topic's.
            for_=600,
        ),
    ),
)
