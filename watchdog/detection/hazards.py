"""Risky topic configurations: the settings that turn one broker failure into data loss."""

from __future__ import annotations

from kafka_watchdog.model.snapshot import TopicState

UNCLEAN_ENABLED = "unclean_leader_election_enabled"
MIN_ISR_ONE = "min_insync_replicas_1_with_replication_factor_3_or_more"
MIN_ISR_ABOVE_RF = "min_insync_replicas_above_replication_factor"
RF_BELOW_FLOOR = "replication_factor_below_floor"

HAZARDS = {
    UNCLEAN_ENABLED: "an out-of-sync replica may become leader: acknowledged records are lost",
    MIN_ISR_ONE: "acks=all is acknowledged by the leader alone: its failure loses records",
    MIN_ISR_ABOVE_RF: "acks=all producers can never succeed (NOT_ENOUGH_REPLICAS)",
    RF_BELOW_FLOOR: "fewer copies than the configured floor",
}


def replication_factor(topic: TopicState) -> int:
    return max((p.replication_factor for p in topic.partitions), default=0)


def topic_hazards(topic: TopicState, min_replication_factor: int) -> list[str]:
    config = topic.config
    rf = replication_factor(topic)
    found = []
    if config.unclean_leader_election:
        found.append(UNCLEAN_ENABLED)
    if config.min_insync_replicas == 1 and rf >= 3:
        found.append(MIN_ISR_ONE)
    if config.min_insync_replicas is not None and rf and config.min_insync_replicas > rf:
        found.append(MIN_ISR_ABOVE_RF)
    if rf and rf < min_replication_factor:
        found.append(RF_BELOW_FLOOR)
    return found
