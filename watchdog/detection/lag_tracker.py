"""Per-cluster lag bookkeeping: log end history, commit samples, and the evaluation.

Stateful (histories), but without I/O and with time passed in: the collection loop feeds it
one observation per offsets cycle, the metrics and alerting read its latest evaluation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from kafka_watchdog.detection.lag import (
    CommitWindow,
    Point,
    PointHistory,
    Sample,
    lag_messages,
)
from kafka_watchdog.model.lag import GroupLag, LagStatus, PartitionLag
from kafka_watchdog.model.parts import LogOffsets
from kafka_watchdog.model.snapshot import GroupState, frozen_map

TP = tuple[str, int]
NONE_UNKNOWN: Mapping[Any, float] = frozen_map()


class LagTracker:
    """`window` and `min_samples`: Burrow's evaluation window and the samples it needs;
    `history_points`: (log end, time) points kept per partition for lag in seconds."""

    def __init__(self, window: float, min_samples: int, history_points: int) -> None:
        self.window = window
        self.min_samples = min_samples
        self.history_points = history_points
        self._points: dict[TP, PointHistory] = {}
        # group -> partition -> Burrow's evaluation kept up to date in constant memory, and
        # the few points the foresight's rates need (a group at a time: an unknown group
        # keeps all).
        self._samples: dict[str, dict[TP, CommitWindow]] = {}
        self.races_total: Counter[str] = Counter()  # commit newer than the log end read
        # The last evaluation and race counts, read-only (published as they are).
        self.latest: Mapping[str, GroupLag] = frozen_map()
        self.races: Mapping[str, int] = frozen_map()
        self.evaluated_at: float | None = None  # the `at` of `latest`

    def log_end_points(self, topic: str, partition: int) -> tuple[Point, ...]:
        """The recorded (log end offset, time) points lag in seconds is read from."""
        history = self._points.get((topic, partition))
        return history.points if history is not None else ()

    def samples(self, group: str, tp: TP) -> Sequence[Sample]:
        """A few commit samples of one group-partition inside the window, oldest first, about
        window / RATE_POINTS apart and the newest (what the foresight's rates read: the
        oldest and the newest inside the window; CommitWindow says how close to the
        window's oldest the oldest kept is)."""
        commits = self._samples.get(group, {}).get(tp)
        return commits.trail() if commits is not None else ()

    def observe(
        self,
        groups: Mapping[str, GroupState],
        offsets: LogOffsets,
        at: float,
        unknown_groups: Mapping[str, float] = NONE_UNKNOWN,
        unknown_partitions: Mapping[TP, float] = NONE_UNKNOWN,
    ) -> Mapping[str, GroupLag]:
        """Record one cycle (group offsets read BEFORE log offsets) and evaluate it.

        `groups` holds every group that exists as far as anyone knows: those answered this
        cycle and, in `unknown_groups` (id -> unknown since), those whose coordinator did
        not answer, with their last known state. `offsets` holds every partition, those
        whose offsets could not be read this cycle (`unknown_partitions`) with their last
        known ones. Nothing is forgotten, reset or re-judged on a missing answer: an unknown
        group keeps its last evaluation (marked unknown since), an unknown partition its
        last lag, and both keep their samples. Only a group absent from `groups` (deleted)
        or a partition it no longer commits loses its history."""
        for tp, (_, end) in offsets.items():
            if end is None or tp in unknown_partitions:
                continue  # a carried log end is not a new point
            history = self._points.get(tp)
            if history is None:
                history = self._points[tp] = PointHistory(self.history_points)
            history.record(end, at)
        for tp in self._points.keys() - offsets.keys():
            del self._points[tp]  # the partition is gone

        previous = self.latest
        result: dict[str, GroupLag] = {}
        for group_id, group in groups.items():
            last = previous.get(group_id)
            since = unknown_groups.get(group_id)
            if since is not None:
                # Its coordinator did not answer: its last evaluation stands, samples kept.
                if last is not None:
                    result[group_id] = replace(last, unknown_since=since)
                continue
            last_parts = {(p.topic, p.partition): p for p in last.partitions} if last else {}
            group_samples = self._samples.setdefault(group_id, {})
            for tp in group_samples.keys() - group.offsets.keys():
                del group_samples[tp]  # the group no longer commits that partition
            parts = []
            for tp, committed in sorted(group.offsets.items()):
                if tp not in offsets:  # its topic is gone (or not watched)
                    parts.append(PartitionLag(*tp, committed, None, None, None, LagStatus.ERROR))
                    continue
                end = offsets[tp][1]
                p_since = unknown_partitions.get(tp)
                if p_since is not None or end is None:
                    # No current log end: the last known lag stands (never one: unknown).
                    p_since = at if p_since is None else p_since
                    before = last_parts.get(tp)
                    if before is not None:
                        parts.append(replace(before, unknown_since=before.unknown_since or p_since))
                    else:
                        parts.append(
                            PartitionLag(
                                *tp, committed, None, None, None, LagStatus.UNKNOWN, p_since
                            )
                        )
                    continue
                lag, raced = lag_messages(committed, end)
                if raced:
                    self.races_total[group_id] += 1
                samples = group_samples.get(tp)
                if samples is None:
                    samples = group_samples[tp] = CommitWindow(self.min_samples, self.window)
                samples.add(committed, lag, at)
                status = samples.status(tp in group.assigned, at, self.window)
                history = self._points.get(tp)
                parts.append(
                    PartitionLag(
                        *tp,
                        committed,
                        end,
                        lag,
                        history.lag_seconds(committed, at) if history is not None else None,
                        status,
                        None,  # read this cycle (a status may still be UNKNOWN: few samples)
                        history is not None and history.lag_seconds_at_least(committed),
                    )
                )
            worst = max((p.status for p in parts), key=lambda s: s.severity, default=LagStatus.OK)
            result[group_id] = GroupLag(group_id, group.state, group.members, tuple(parts), worst)
        for group_id in self._samples.keys() - groups.keys():
            del self._samples[group_id]  # the group is gone
        for group_id in self.races_total.keys() - groups.keys():
            del self.races_total[group_id]
        self.latest, self.evaluated_at = frozen_map(result), at
        self.races = frozen_map(self.races_total)
        return self.latest
