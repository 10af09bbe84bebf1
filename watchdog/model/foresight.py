"""Lag foresight as published: when each group catches up, and how long its unread records
have before retention deletes them. Values only; detection/foresight.py says how they are
computed and with which error."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kafka_watchdog.model.snapshot import frozen_map

NEVER = math.inf


@dataclass(frozen=True, slots=True)
class Rates:
    """A group-partition's rates over the lag window, in records per second."""

    consumed: float
    produced: float
    span: float  # seconds between the two samples the rates come from

    @property
    def net(self) -> float:
        """How fast the lag shrinks (negative: it grows)."""
        return self.consumed - self.produced


@dataclass(frozen=True, slots=True)
class PartitionForesight:
    topic: str
    partition: int
    rates: Rates | None  # None: fewer than two samples in the window
    # Seconds until the lag is gone at the current rates: 0 caught up, +Inf never (it falls
    # behind or nobody consumes), None unknown (no rates yet).
    catchup_seconds: float | None
    # Seconds until retention deletes the first record the group has not read: +Inf when
    # nothing unread is at risk, 0 when its deletion is due, None unknown.
    retention_seconds: float | None
    retention_basis: str = ""  # time | size | log start: which bound gave retention_seconds
    below_log_start: bool = False  # already lost: the committed offset is below the log start


@dataclass(frozen=True, slots=True)
class TopicForesight:
    topic: str
    catchup_seconds: float | None  # the slowest partition's: the topic is done when it is
    retention_seconds: float | None  # the soonest partition's
    retention_partition: int | None = None  # which partition that is


@dataclass(frozen=True, slots=True)
class GroupForesight:
    group: str
    topics: Mapping[str, TopicForesight] = field(default_factory=frozen_map)
    partitions: tuple[PartitionForesight, ...] = ()

    @property
    def catchup_seconds(self) -> float | None:
        return worst_catchup(t.catchup_seconds for t in self.topics.values())

    @property
    def retention_seconds(self) -> float | None:
        return soonest(t.retention_seconds for t in self.topics.values())


def worst_catchup(values: Iterable[float | None]) -> float | None:
    """The largest known value; None when none is known."""
    known = [v for v in values if v is not None]
    return max(known) if known else None


def soonest(values: Iterable[float | None]) -> float | None:
    """The smallest known value; None when none is known."""
    known = [v for v in values if v is not None]
    return min(known) if known else None
