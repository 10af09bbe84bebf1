"""One snapshot's assessment: every partition's health and every topic's hazards, computed
once when the snapshot is taken. Pure."""

from __future__ import annotations

from kafka_watchdog.detection.hazards import topic_hazards
from kafka_watchdog.detection.partition_health import classify
from kafka_watchdog.model.assessment import Assessment, TopicAssessment
from kafka_watchdog.model.snapshot import ClusterSnapshot, frozen_map


def assess(snapshot: ClusterSnapshot, min_replication_factor: int) -> Assessment:
    live = snapshot.brokers.keys()
    return Assessment(
        frozen_map(
            {
                topic.name: TopicAssessment(
                    tuple(classify(p, topic.config, live) for p in topic.partitions),
                    tuple(topic_hazards(topic, min_replication_factor)),
                )
                for topic in snapshot.topics.values()
            }
        )
    )
