"""One snapshot's assessment: every partition's health and every topic's hazards, computed
once when the snapshot is taken. Pure."""

from __future__ import annotations

from collections.abc import Collection

from kafka_watchdog.detection.hazards import topic_hazards
from kafka_watchdog.detection.partition_health import classify
from kafka_watchdog.model.assessment import Assessment, TopicAssessment
from kafka_watchdog.model.snapshot import ClusterSnapshot, TopicState, frozen_map


def assess(
    snapshot: ClusterSnapshot,
    min_replication_factor: int,
    previous: tuple[ClusterSnapshot, Assessment] | None = None,
) -> Assessment:
    """With `previous` (the last snapshot and its assessment), a topic or partition that
    is the very object the last snapshot held keeps its assessment, as long as the live
    brokers are the same (model/incremental.py): the result is equal either way."""
    live = snapshot.brokers.keys()
    reuse = previous is not None and previous[0].brokers.keys() == live
    topics = {}
    for topic in snapshot.topics.values():
        if reuse:
            assert previous is not None
            old_snapshot, old = previous
            before = old_snapshot.topics.get(topic.name)
            assessed = old.topics.get(topic.name)
            if before is not None and assessed is not None:
                topics[topic.name] = _again(topic, before, assessed, live, min_replication_factor)
                continue
        topics[topic.name] = TopicAssessment(
            tuple(classify(p, topic.config, live) for p in topic.partitions),
            tuple(topic_hazards(topic, min_replication_factor)),
        )
    return Assessment(frozen_map(topics))


def _again(
    topic: TopicState,
    before: TopicState,
    assessed: TopicAssessment,
    live: Collection[int],
    min_replication_factor: int,
) -> TopicAssessment:
    if topic is before:
        return assessed
    old = before.partitions
    same_config = topic.config == before.config and len(old) == len(topic.partitions)
    health = tuple(
        assessed.partitions[i] if same_config and old[i] is p else classify(p, topic.config, live)
        for i, p in enumerate(topic.partitions)
    )
    return TopicAssessment(health, tuple(topic_hazards(topic, min_replication_factor)))
