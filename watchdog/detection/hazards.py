"""Risky topic configurations: the settings that turn one broker failure into data loss."""

from __future__ import annotations

from kafka_watchdog.model.assessment import Hazard
from kafka_watchdog.model.snapshot import TopicState


def replication_factor(topic: TopicState) -> int:
    return max((p.replication_factor for p in topic.partitions), default=0)


def topic_hazards(topic: TopicState, min_replication_factor: int) -> list[Hazard]:
    config = topic.config
    rf = replication_factor(topic)
    found = []
    if config.unclean_leader_election:
        found.append(Hazard.UNCLEAN_ENABLED)
    if config.min_insync_replicas == 1 and rf >= 3:
        found.append(Hazard.MIN_ISR_ONE)
    if config.min_insync_replicas is not None and rf and config.min_insync_replicas > rf:
        found.append(Hazard.MIN_ISR_ABOVE_RF)
    if rf and rf < min_replication_factor:
        found.append(Hazard.RF_BELOW_FLOOR)
    return found
