"""One immutable view of a cluster at one moment.

Frozen, slotted dataclasses: a snapshot is shared by the detectors, the metrics collector and
the web handlers at once, so nothing may change it after it is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class ClusterMode(StrEnum):
    ZOOKEEPER = "zookeeper"
    KRAFT = "kraft"
    UNKNOWN = "unknown"


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

    @property
    def offline(self) -> bool:
        return self.leader < 0


@dataclass(frozen=True, slots=True)
class TopicState:
    name: str
    partitions: tuple[PartitionState, ...]
    internal: bool = False


def _frozen(mapping: Mapping[str, TopicState] | None = None) -> Mapping[str, TopicState]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    cluster: str  # the configured name: label kafka_cluster
    taken_at: float  # wall-clock seconds when the collection finished
    cluster_id: str | None
    brokers: Mapping[int, Broker]
    controller_id: int | None  # None when the source cannot know (managed clusters)
    topics: Mapping[str, TopicState] = field(default_factory=_frozen)
    mode: ClusterMode = ClusterMode.UNKNOWN

    @property
    def partition_count(self) -> int:
        return sum(len(t.partitions) for t in self.topics.values())
