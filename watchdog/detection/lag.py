"""Consumer lag: in messages, in seconds, and a status per partition. Pure; time passed in.

Lag in seconds interpolates a recorded history of (log end offset, time) points: the time at
which the log end reached the committed offset is when the next record the group has not
consumed was written, so `now - that time` is how far behind the group is. The error is
bounded by one offsets poll interval when the produce rate is steady between two polls;
beyond the oldest point the rate of the recorded history is extrapolated and the result is
never less than the age of the oldest point.

Lag status follows Burrow's evaluation rules over a window of samples, with one deviation
forced by polling (OffsetFetch does not tell when an offset was committed): a partition whose
committed offset did not move over the window is STOP when no group member owns it (the
consumer is gone) and STALL when a member owns it (it is there but makes no progress).
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from kafka_watchdog.model.lag import LagStatus

Point = tuple[int, float]  # (log end offset, time)


def lag_messages(committed: int, log_end: int) -> tuple[int, bool]:
    """(lag, raced): never negative; `raced` when the commit was newer than the log end read."""
    lag = log_end - committed
    return (0, True) if lag < 0 else (lag, False)


def lag_seconds(points: Sequence[Point], committed: int, now: float) -> float | None:
    """How long ago the log end was at `committed`; None without any recorded point.
    `points` oldest first, offsets strictly increasing (as PointHistory keeps them)."""
    return _seconds([o for o, _ in points], [t for _, t in points], committed, now)


def _seconds(
    offsets: Sequence[int], times: Sequence[float], committed: int, now: float
) -> float | None:
    if not offsets:
        return None
    last_offset = offsets[-1]
    if committed >= last_offset:
        return 0.0
    # The two points around the committed offset (a binary search: offsets only grow).
    j = bisect.bisect_left(offsets, committed)
    if offsets[j] == committed:
        return max(0.0, now - times[j])
    if j > 0:
        (o1, t1), (o2, t2) = (offsets[j - 1], times[j - 1]), (offsets[j], times[j])
        reached = t1 + (committed - o1) / (o2 - o1) * (t2 - t1)
        return max(0.0, now - reached)
    first_offset, first_time = offsets[0], times[0]
    if len(offsets) >= 2 and last_offset > first_offset:
        rate = (last_offset - first_offset) / (times[-1] - first_time)
        reached = first_time - (first_offset - committed) / rate
        return max(now - first_time, now - reached)
    return max(0.0, now - first_time)


@dataclass(frozen=True, slots=True)
class Sample:
    committed: int
    lag: int
    at: float


def evaluate(
    samples: Sequence[Sample], owned: bool, now: float, window: float, min_samples: int
) -> LagStatus:
    """Burrow's rules over the samples inside the window (oldest first)."""
    recent = [s for s in samples if now - s.at <= window]
    if len(recent) < min_samples:
        return LagStatus.UNKNOWN
    if any(s.lag == 0 for s in recent):
        return LagStatus.OK
    pairs = list(itertools.pairwise(recent))
    if any(b.committed < a.committed for a, b in pairs):
        return LagStatus.REWIND
    if recent[0].committed == recent[-1].committed:
        return LagStatus.STALL if owned else LagStatus.STOP
    if all(b.lag >= a.lag for a, b in pairs):
        return LagStatus.WARN
    return LagStatus.OK


class PointHistory:
    """Recorded (log end offset, time) points of one partition: a point only when the offset
    moved, so an idle partition costs one point and the first time each offset was reached is
    kept (that is what lag in seconds needs). Kept in two flat arrays (16 bytes a point, not
    a tuple of two number objects: 7 times less at 10,000 busy partitions)."""

    __slots__ = ("_offsets", "_times", "max_points")

    def __init__(self, max_points: int) -> None:
        self.max_points = max_points
        self._offsets = array("q")
        self._times = array("d")

    @property
    def points(self) -> tuple[Point, ...]:
        return tuple(zip(self._offsets, self._times, strict=True))

    def record(self, log_end: int, at: float) -> None:
        offsets = self._offsets
        if offsets and log_end == offsets[-1]:
            return
        if offsets and log_end < offsets[-1]:
            del offsets[:]  # truncated or recreated: the old points describe another log
            del self._times[:]
        offsets.append(log_end)
        self._times.append(at)
        if len(offsets) > self.max_points:
            del offsets[0]
            del self._times[0]

    def lag_seconds(self, committed: int, now: float) -> float | None:
        """`lag_seconds` over these points."""
        return _seconds(self._offsets, self._times, committed, now)


class CommitWindow:
    """`evaluate` for one group-partition, kept up to date sample by sample in constant
    memory instead of over a list of samples.

    Each of Burrow's questions is about whether something happened inside the window: a
    zero lag, a pair of consecutive samples where the offset went back, moved, or the lag
    decreased. A pair lies inside the window when its earlier sample does, so remembering
    when each last happened (the earlier sample's time) answers it; the number of samples
    in the window needs only the times of the last `min_samples`. Unlike a capped list of
    samples, every sample of the window counts however fast the offsets are polled.
    """

    __slots__ = (
        "_at",
        "_committed",
        "_lag",
        "_times",
        "drop",
        "min_samples",
        "move",
        "rewind",
        "zero",
    )

    def __init__(self, min_samples: int) -> None:
        self.min_samples = min_samples
        self._committed = self._lag = 0
        self._at: float | None = None
        self._times: tuple[float, ...] = ()  # of the last min_samples samples
        # When each last happened (None: never): a sample with lag 0; a pair whose offset
        # went back, moved at all, whose lag went down (the earlier sample's time).
        self.zero: float | None = None
        self.rewind: float | None = None
        self.move: float | None = None
        self.drop: float | None = None

    def add(self, committed: int, lag: int, at: float) -> None:
        if self._at is not None:
            if committed < self._committed:
                self.rewind = self._at
            if committed != self._committed:
                self.move = self._at
            if lag < self._lag:
                self.drop = self._at
        if lag == 0:
            self.zero = at
        self._committed, self._lag, self._at = committed, lag, at
        self._times = (*self._times, at)[-self.min_samples :]

    def status(self, owned: bool, now: float, window: float) -> LagStatus:
        def inside(at: float | None) -> bool:
            return at is not None and now - at <= window

        if len(self._times) < self.min_samples or not inside(self._times[0]):
            return LagStatus.UNKNOWN
        if inside(self.zero):
            return LagStatus.OK
        if inside(self.rewind):
            return LagStatus.REWIND
        if not inside(self.move):
            return LagStatus.STALL if owned else LagStatus.STOP
        if not inside(self.drop):
            return LagStatus.WARN
        return LagStatus.OK
