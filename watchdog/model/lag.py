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
    ERROR = "ERROR"  # the partition is gone (its topic deleted, or not watched)
    UNKNOWN = "UNKNOWN"  # not enough samples yet, or a log end never read

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
    # Set while this partition's lag is not a current answer: its log end could not be
    # read (no leader, ListOffsets failed), so the values above are the last known ones
    # (or None, never read). The time it became so. (A status UNKNOWN with current values
    # only means too few samples yet.)
    unknown_since: float | None = None
    # lag_seconds is only a lower bound: the log end history does not reach back to the
    # committed offset (right after a start, or on a partition nobody writes to).
    lag_seconds_at_least: bool = False


@dataclass(frozen=True, slots=True)
class GroupLag:
    group: str
    state: str
    members: int
    partitions: tuple[PartitionLag, ...]
    status: LagStatus  # the worst partition's
    # Set while the group itself is unknown (its coordinator did not answer, its listing
    # failed): everything above is its last known lag, carried since then.
    unknown_since: float | None = None

    @property
    def stale_since(self) -> float | None:
        """The oldest time any of this group's lag became unknown (group or partition)."""
        times = [p.unknown_since for p in self.partitions if p.unknown_since is not None]
        if self.unknown_since is not None:
            times.append(self.unknown_since)
        return min(times, default=None)

    def by_topic(self) -> dict[str, list[PartitionLag]]:
        out: dict[str, list[PartitionLag]] = {}
        for p in self.partitions:
            out.setdefault(p.topic, []).append(p)
        return out
