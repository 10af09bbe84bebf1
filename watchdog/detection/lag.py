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
# Commit samples a CommitWindow keeps for rates (the foresight's): about one per window /
# RATE_POINTS, plus the newest.
RATE_POINTS = 8


def lag_messages(committed: int, log_end: int) -> tuple[int, bool]:
    """(lag, raced): never negative; `raced` when the commit was newer than the log end read."""
    lag = log_end - committed
    return (0, True) if lag < 0 else (lag, False)


def lag_seconds_at_least(points: Sequence[Point], committed: int) -> bool:
    """Whether `lag_seconds` can only give a lower bound: the committed offset is older than
    the oldest recorded point and the history shows no growth to extrapolate from (one
    point: right after a start, or a partition nobody writes to)."""
    if not points or committed >= points[-1][0] or committed >= points[0][0]:
        return False
    return len(points) < 2 or points[-1][0] <= points[0][0]


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
    """Burrow's rules over the samples inside the window (oldest first).

    When the window holds fewer than `min_samples` (collection cycles slowed down by a
    fault: each one waits out a timeout), the latest `min_samples` samples are judged
    instead: a slow cycle is not a reason to forget a status. UNKNOWN only while fewer than
    `min_samples` samples exist at all."""
    recent = [s for s in samples if now - s.at <= window]
    if len(recent) < min_samples:
        if len(samples) < min_samples:
            return LagStatus.UNKNOWN
        recent = list(samples)[-min_samples:]
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

    def lag_seconds_at_least(self, committed: int) -> bool:
        """`lag_seconds_at_least` over these points."""
        offsets = self._offsets
        if not offsets or committed >= offsets[-1] or committed >= offsets[0]:
            return False
        return len(offsets) < 2 or offsets[-1] <= offsets[0]


class CommitWindow:
    """`evaluate` for one group-partition, kept up to date sample by sample in constant
    memory instead of over a list of samples.

    Each of Burrow's questions is about whether something happened inside the window: a
    zero lag, a pair of consecutive samples where the offset went back, moved, or the lag
    decreased. A pair lies inside the window when its earlier sample does, so remembering
    when each last happened (the earlier sample's time) answers it; the number of samples
    in the window needs only the times of the last `min_samples`. Unlike a capped list of
    samples, every sample of the window counts however fast the offsets are polled. When
    the window holds fewer than `min_samples` (slow cycles), the last `min_samples` are
    judged, as `evaluate` does: their pairs are those whose earlier sample is not older than
    the oldest of them.

    For rates (consumed and produced records per second, the foresight's) it also keeps a
    trail of samples inside the window thinned to about one per window / RATE_POINTS, and the
    newest: any two kept samples but neighbours are a step apart, so at most 2 x RATE_POINTS
    + 2 whatever the poll rate (fewer when polls are far apart than half a step). The oldest
    of them is less than window / RATE_POINTS younger than the oldest sample inside the
    window.
    """

    __slots__ = (
        "_at",
        "_committed",
        "_lag",
        "_times",
        "_trail_at",
        "_trail_offsets",
        "drop",
        "min_samples",
        "move",
        "rewind",
        "window",
        "zero",
    )

    def __init__(self, min_samples: int, window: float) -> None:
        self.min_samples = min_samples
        self.window = window
        # The rates' trail: times, and (committed, lag) pairs, flat (no object per sample).
        self._trail_at = array("d")
        self._trail_offsets = array("q")
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
        self._keep(committed, lag, at)

    def _keep(self, committed: int, lag: int, at: float) -> None:
        times, offsets = self._trail_at, self._trail_offsets
        # The newest replaces the previous newest while it is less than a step after the
        # sample kept before that (which bounds how far the oldest kept can be from the
        # oldest of the window); otherwise it is kept too.
        if len(times) >= 2 and at - times[-2] < self.window / RATE_POINTS:
            times[-1] = at
            offsets[-2:] = array("q", (committed, lag))
        else:
            times.append(at)
            offsets.extend((committed, lag))
        # Samples older than the window never count again (rates read inside it).
        old = bisect.bisect_left(times, at - self.window)
        if old:
            del times[:old]
            del offsets[: 2 * old]

    def trail(self) -> tuple[Sample, ...]:
        """The kept samples, oldest first (all inside the window as of the newest)."""
        offsets = self._trail_offsets
        return tuple(
            Sample(offsets[2 * i], offsets[2 * i + 1], at) for i, at in enumerate(self._trail_at)
        )

    def status(self, owned: bool, now: float, window: float) -> LagStatus:
        if len(self._times) < self.min_samples:
            return LagStatus.UNKNOWN
        oldest = self._times[0]  # of the last min_samples
        # Inside the window; when it holds fewer than min_samples, among the last ones.
        start = oldest if now - oldest > window else None

        def inside(at: float | None) -> bool:
            if at is None:
                return False
            return at >= start if start is not None else now - at <= window

        if inside(self.zero):
            return LagStatus.OK
        if inside(self.rewind):
            return LagStatus.REWIND
        if not inside(self.move):
            return LagStatus.STALL if owned else LagStatus.STOP
        if not inside(self.drop):
            return LagStatus.WARN
        return LagStatus.OK
