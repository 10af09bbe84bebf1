"""Each group's total lag over the last hour, kept in fixed time buckets (the largest value
of each bucket, so a spike between two buckets is not lost). Stateful, no I/O, time passed
in: the collection loop feeds it each offsets cycle's lag, the status page draws it.

Memory: one small tuple per group (an hour of 30 s buckets is 120 values)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from kafka_watchdog.model.lag import GroupLag
from kafka_watchdog.model.lag_history import LagSeries
from kafka_watchdog.model.snapshot import frozen_map

SPAN = 3600.0
STEP = 30.0


def total_lag(group: GroupLag) -> int | None:
    known = [p.lag for p in group.partitions if p.lag is not None]
    return sum(known) if known else None


class LagHistory:
    def __init__(self, span: float = SPAN, step: float = STEP) -> None:
        self.step = step
        self.buckets = max(2, math.ceil(span / step))
        self._series: dict[str, LagSeries] = {}
        self.latest: Mapping[str, LagSeries] = frozen_map()

    def record(self, lag: Mapping[str, GroupLag], at: float) -> Mapping[str, LagSeries]:
        """Add one cycle; returns (and keeps in `latest`) the series of every group in
        `lag` (a group gone from it goes from the history too)."""
        bucket_start = math.floor(at / self.step) * self.step
        first = bucket_start - (self.buckets - 1) * self.step
        out: dict[str, LagSeries] = {}
        for group_id, group in lag.items():
            value = total_lag(group)
            old = self._series.get(group_id)
            values: list[int | None] = [None] * self.buckets
            if old is not None:
                shift = round((first - old.start) / self.step)
                for i, v in enumerate(old.values):
                    j = i - shift
                    if 0 <= j < self.buckets:
                        values[j] = v
            if value is not None:
                current = values[-1]
                values[-1] = value if current is None else max(current, value)
            out[group_id] = LagSeries(first, self.step, tuple(values))
        self._series = out
        self.latest = frozen_map(out)
        return self.latest
