"""What detection concluded about one snapshot: the health of each partition (TopicCommand's
definitions) and the risky settings of each topic. Computed once per snapshot
(watchdog/detection/assess.py) and published with it, so the metrics, the web handlers and
the rules read one answer instead of classifying the partitions each on their own."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from kafka_watchdog.model.snapshot import ClusterSnapshot, PartitionState, TopicState, frozen_map


@dataclass(frozen=True, slots=True)
class PartitionHealth:
    under_replicated: bool
    under_min_isr: bool
    at_min_isr: bool
    unavailable: bool
    offline: bool
    preferred_leader: bool


# The flags of PartitionHealth that are states a partition can be in (the sets TopicCommand's
# --describe flags print), in the order the metrics list them.
HEALTH_FLAGS = ("under_replicated", "under_min_isr", "at_min_isr", "offline", "unavailable")


class Hazard(StrEnum):
    """A topic setting that turns one broker failure into data loss or an outage."""

    UNCLEAN_ENABLED = "unclean_leader_election_enabled"
    MIN_ISR_ONE = "min_insync_replicas_1_with_replication_factor_3_or_more"
    MIN_ISR_ABOVE_RF = "min_insync_replicas_above_replication_factor"
    RF_BELOW_FLOOR = "replication_factor_below_floor"

    @property
    def meaning(self) -> str:
        return _MEANING[self]


_MEANING = {
    Hazard.UNCLEAN_ENABLED: "an out-of-sync replica may become leader: acknowledged records "
    "are lost",
    Hazard.MIN_ISR_ONE: "acks=all is acknowledged by the leader alone: its failure loses records",
    Hazard.MIN_ISR_ABOVE_RF: "acks=all producers can never succeed (NOT_ENOUGH_REPLICAS)",
    Hazard.RF_BELOW_FLOOR: "fewer copies than the configured floor",
}


@dataclass(frozen=True, slots=True)
class TopicAssessment:
    partitions: tuple[PartitionHealth, ...]  # in the order of TopicState.partitions
    hazards: tuple[Hazard, ...] = ()


@dataclass(frozen=True, slots=True)
class Assessment:
    """Per topic of the snapshot it was made of (same names)."""

    topics: Mapping[str, TopicAssessment] = field(default_factory=frozen_map)

    def partitions(
        self, snapshot: ClusterSnapshot
    ) -> Iterator[tuple[TopicState, PartitionState, PartitionHealth]]:
        """Every partition of `snapshot` (the one assessed) with its health."""
        for topic in snapshot.topics.values():
            assessed = self.topics.get(topic.name)
            if assessed is None:
                continue
            for p, health in zip(topic.partitions, assessed.partitions, strict=True):
                yield topic, p, health
