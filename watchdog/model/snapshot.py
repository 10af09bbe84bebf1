"""One immutable view of a cluster at one moment.

Frozen, slotted dataclasses: a snapshot is shared by the detectors, the metrics collector and
the web handlers at once, so nothing may change it after it is built. Collections inside are
tuples and read-only mappings for the same reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def frozen_map(mapping: Mapping[K, V] | None = None) -> Mapping[K, V]:
    return MappingProxyType(dict(mapping or {}))


class ClusterMode(StrEnum):
    ZOOKEEPER = "zookeeper"
    KRAFT = "kraft"
    UNKNOWN = "unknown"


class LeaderRecovery(StrEnum):
    """Kafka's leader_recovery_state: RECOVERING only after an unclean election (KIP-704)."""

    RECOVERED = "recovered"
    RECOVERING = "recovering"


@dataclass(frozen=True, slots=True)
class Broker:
    id: int
    host: str
    port: int
    rack: str | None = None


@dataclass(frozen=True, slots=True)
class PartitionState:
    topic: str
    partition: int
    leader: int  # -1 when the partition has no leader (offline)
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader_epoch: int | None = None
    adding_replicas: tuple[int, ...] = ()
    removing_replicas: tuple[int, ...] = ()
    leader_recovery: LeaderRecovery | None = None
    log_start_offset: int | None = None
    log_end_offset: int | None = None  # high watermark (ListOffsets latest, read_uncommitted)
    source_time: float | None = None  # when the source says this state was written (znode mtime)

    @property
    def offline(self) -> bool:
        return self.leader < 0

    @property
    def replication_factor(self) -> int:
        # During a reassignment the target size, as TopicCommand computes it.
        return len(self.replicas) - len(self.adding_replicas)


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """The settings that decide durability, broker defaults already resolved."""

    min_insync_replicas: int | None = None
    unclean_leader_election: bool | None = None
    # What retention deletes (lag foresight): -1 is no limit, None unknown.
    retention_ms: int | None = None
    retention_bytes: int | None = None  # per partition
    cleanup_policy: str | None = None  # "delete", "compact", "compact,delete"


@dataclass(frozen=True, slots=True)
class TopicState:
    name: str
    partitions: tuple[PartitionState, ...]
    topic_id: str | None = None  # changes when a topic is deleted and recreated
    internal: bool = False
    config: TopicConfig = field(default_factory=TopicConfig)


@dataclass(frozen=True, slots=True)
class GroupState:
    group_id: str
    state: str  # Stable, Empty, PreparingRebalance, CompletingRebalance, Dead, Unknown
    members: int = 0
    group_type: str | None = None  # classic / consumer (KIP-848)
    offsets: Mapping[tuple[str, int], int] = field(default_factory=frozen_map)
    assigned: frozenset[tuple[str, int]] = frozenset()  # partitions members own right now


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    cluster: str  # the configured name: label kafka_cluster
    taken_at: float  # wall-clock seconds when the collection finished
    cluster_id: str | None
    brokers: Mapping[int, Broker]
    controller_id: int | None  # None when the source cannot know (managed clusters)
    topics: Mapping[str, TopicState] = field(default_factory=frozen_map)
    mode: ClusterMode = ClusterMode.UNKNOWN
    controller_epoch: int | None = None
    groups: Mapping[str, GroupState] = field(default_factory=frozen_map)
    # Which source said each part ("partitions", "brokers", "controller", "offsets", "groups",
    # "configs") and when: (source, taken_at).
    sources: Mapping[str, tuple[str, float]] = field(default_factory=frozen_map)

    @property
    def partition_count(self) -> int:
        return sum(len(t.partitions) for t in self.topics.values())

    def partition(self, topic: str, partition: int) -> PartitionState | None:
        state = self.topics.get(topic)
        if state is None:
            return None
        if 0 <= partition < len(state.partitions):
            found = state.partitions[partition]
            if found.partition == partition:
                return found
        # A gap (a partition not read yet): fall back to a scan.
        return next((p for p in state.partitions if p.partition == partition), None)
