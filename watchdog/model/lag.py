"""Consumer lag as published: per group, per partition, with a status. Values only; how
they are computed is detection's business (watchdog/detection/lag.py, lag_tracker.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LagStatus(StrEnum):
    OK = "OK"
    WARN = "WARN"
    STALL = "STALL"
    STOP = "STOP"
    REWIND = "REWIND"
    ERROR = "ERROR"  # the partition is gone or its log end is unknown
    UNKNOWN = "UNKNOWN"  # not enough samples in the window yet

    @property
    def severity(self) -> int:
        """For the group's overall status: the worst partition wins."""
        return _SEVERITY[self]


_SEVERITY = {
    LagStatus.OK: 0,
    LagStatus.UNKNOWN: 1,
    LagStatus.WARN: 2,
    LagStatus.REWIND: 3,
    LagStatus.STALL: 4,
    LagStatus.STOP: 5,
    LagStatus.ERROR: 6,
}


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int
    log_end: int | None
    lag: int | None  # None when the log end is unknown
    lag_seconds: float | None
    status: LagStatus


@dataclass(frozen=True, slots=True)
class GroupLag:
    group: str
    state: str
    members: int
    partitions: tuple[PartitionLag, ...]
    status: LagStatus  # the worst partition's

    def by_topic(self) -> dict[str, list[PartitionLag]]:
        out: dict[str, list[PartitionLag]] = {}
        for p in self.partitions:
            out.setdefault(p.topic, []).append(p)
        return out
