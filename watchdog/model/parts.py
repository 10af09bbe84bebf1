"""What each source reports, before it is merged into a ClusterSnapshot.

Sources build these; `assemble` (pure) merges them. Each part carries when it was taken, so
the snapshot can say which source said what and how old each part is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from kafka_watchdog.model.snapshot import (
    Broker,
    GroupState,
    PartitionState,
    TopicConfig,
    frozen_map,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timed(Generic[T]):
    value: T
    taken_at: float


@dataclass(frozen=True, slots=True)
class ClusterDescription:
    cluster_id: str | None
    controller_id: int | None  # as the brokers report it: random in KRaft (KIP-590)
    brokers: Mapping[int, Broker]


@dataclass(frozen=True, slots=True)
class TopicMetadata:
    name: str
    partitions: tuple[PartitionState, ...]
    internal: bool


@dataclass(frozen=True, slots=True)
class Quorum:
    """KRaft metadata quorum: its leader is the active controller."""

    leader_id: int
    leader_epoch: int
    voters: tuple[int, ...]
    observers: tuple[int, ...]


Reassignments = Mapping[tuple[str, int], tuple[tuple[int, ...], tuple[int, ...]]]


@dataclass(frozen=True, slots=True)
class QuorumAnswer:
    """`quorum` None with `supported` False: a ZooKeeper-mode cluster (no DescribeQuorum);
    with `supported` None: unknown (managed clusters that hide it, or not asked yet)."""

    quorum: Quorum | None
    supported: bool | None
    reassignments: Reassignments = field(default_factory=frozen_map)
    reason: str = ""


LogOffsets = Mapping[tuple[str, int], tuple[int | None, int | None]]


@dataclass(frozen=True, slots=True)
class AdminView:
    """The latest answer of each Admin API question (None: not answered yet)."""

    description: Timed[ClusterDescription] | None = None
    topics: Timed[tuple[TopicMetadata, ...]] | None = None
    offsets: Timed[LogOffsets] | None = None
    groups: Timed[Mapping[str, GroupState]] | None = None
    configs: Timed[Mapping[str, TopicConfig]] | None = None
    quorum: Timed[QuorumAnswer] | None = None


@dataclass(frozen=True, slots=True)
class ZkTopic:
    name: str
    topic_id: str | None
    partitions: tuple[PartitionState, ...]
    config_overrides: Mapping[str, str] = field(default_factory=frozen_map)


@dataclass(frozen=True, slots=True)
class ZkView:
    taken_at: float
    cluster_id: str | None
    brokers: Mapping[int, Broker]
    controller_id: int | None
    controller_epoch: int | None
    controller_time: float | None
    topics: Mapping[str, ZkTopic]
