"""Per-cluster lag bookkeeping: log end history, commit samples, and the evaluation.

Stateful (histories), but without I/O and with time passed in: the collection loop feeds it
one observation per offsets cycle, the metrics and alerting read its latest evaluation.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence

from kafka_watchdog.detection.lag import (
    Point,
    PointHistory,
    Sample,
    evaluate,
    lag_messages,
    lag_seconds,
)
from kafka_watchdog.model.lag import GroupLag, LagStatus, PartitionLag
from kafka_watchdog.model.parts import LogOffsets
from kafka_watchdog.model.snapshot import GroupState, frozen_map

TP = tuple[str, int]


class LagTracker:
    """`window` and `min_samples`: Burrow's evaluation window and the samples it needs;
    `history_points`: (log end, time) points kept per partition for lag in seconds."""

    def __init__(self, window: float, min_samples: int, history_points: int) -> None:
        self.window = window
        self.min_samples = min_samples
        self.history_points = history_points
        self._points: dict[TP, PointHistory] = {}
        self._samples: dict[tuple[str, TP], deque[Sample]] = {}
        self.races_total: Counter[str] = Counter()  # commit newer than the log end read
        # The last evaluation and race counts, read-only (published as they are).
        self.latest: Mapping[str, GroupLag] = frozen_map()
        self.races: Mapping[str, int] = frozen_map()
        self.evaluated_at: float | None = None  # the `at` of `latest`

    def log_end_points(self, topic: str, partition: int) -> tuple[Point, ...]:
        """The recorded (log end offset, time) points lag in seconds is read from."""
        history = self._points.get((topic, partition))
        return tuple(history.points) if history is not None else ()

    def samples(self, group: str, tp: TP) -> Sequence[Sample]:
        """The commit samples of one group-partition, oldest first (read-only: the
        foresight's rates come from them)."""
        return self._samples.get((group, tp), ())

    def observe(
        self, groups: Mapping[str, GroupState], offsets: LogOffsets, at: float
    ) -> Mapping[str, GroupLag]:
        """Record one cycle (group offsets read BEFORE log offsets) and evaluate it."""
        for tp, (_, end) in offsets.items():
            if end is None:
                continue
            history = self._points.get(tp)
            if history is None:
                history = self._points[tp] = PointHistory(self.history_points)
            history.record(end, at)
        for tp in self._points.keys() - offsets.keys():
            del self._points[tp]  # the partition is gone

        # Enough samples to cover the window at any poll rate the config allows.
        keep = max(self.min_samples * 4, 64)
        result: dict[str, GroupLag] = {}
        seen: set[tuple[str, TP]] = set()
        for group_id, group in groups.items():
            parts = []
            for tp, committed in sorted(group.offsets.items()):
                key = (group_id, tp)
                seen.add(key)
                end = offsets.get(tp, (None, None))[1]
                history = self._points.get(tp)
                if end is None:
                    parts.append(PartitionLag(*tp, committed, None, None, None, LagStatus.ERROR))
                    continue
                lag, raced = lag_messages(committed, end)
                if raced:
                    self.races_total[group_id] += 1
                samples = self._samples.get(key)
                if samples is None:
                    samples = self._samples[key] = deque(maxlen=keep)
                samples.append(Sample(committed, lag, at))
                status = evaluate(
                    samples,
                    tp in group.assigned,
                    at,
                    self.window,
                    self.min_samples,
                )
                seconds = lag_seconds(history.points, committed, at) if history else None
                parts.append(PartitionLag(*tp, committed, end, lag, seconds, status))
            worst = max((p.status for p in parts), key=lambda s: s.severity, default=LagStatus.OK)
            result[group_id] = GroupLag(group_id, group.state, group.members, tuple(parts), worst)
        for key in self._samples.keys() - seen:
            del self._samples[key]  # group deleted or stopped committing that partition
        for group_id in self.races_total.keys() - groups.keys():
            del self.races_total[group_id]
        self.latest, self.evaluated_at = frozen_map(result), at
        self.races = frozen_map(self.races_total)
        return self.latest
