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

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from kafka_watchdog.model.lag import LagStatus

Point = tuple[int, float]  # (log end offset, time)


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
    """How long ago the log end was at `committed`; None without any recorded point."""
    if not points:
        return None
    last_offset, _ = points[-1]
    if committed >= last_offset:
        return 0.0
    # Newest first: find the two points around the committed offset.
    for i in range(len(points) - 1, 0, -1):
        (o1, t1), (o2, t2) = points[i - 1], points[i]
        if o1 <= committed <= o2:
            reached = t2 if o2 == o1 else t1 + (committed - o1) / (o2 - o1) * (t2 - t1)
            return max(0.0, now - reached)
    first_offset, first_time = points[0]
    if len(points) >= 2 and last_offset > first_offset:
        rate = (last_offset - first_offset) / (points[-1][1] - first_time)
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
    kept (that is what lag in seconds needs)."""

    __slots__ = ("points",)

    def __init__(self, max_points: int) -> None:
        self.points: deque[Point] = deque(maxlen=max_points)

    def record(self, log_end: int, at: float) -> None:
        if self.points and log_end == self.points[-1][0]:
            return
        if self.points and log_end < self.points[-1][0]:
            self.points.clear()  # truncated or recreated: the old points describe another log
        self.points.append((log_end, at))
