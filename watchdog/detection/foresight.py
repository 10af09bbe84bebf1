"""Lag foresight: when a group catches up, and how long before retention deletes what it has
not read. Pure functions, time passed in; `ForesightTracker` adds the one history they need
(how fast each log start moves).

Time to catch up (per group-partition) = lag / (consumed - produced) per second, both rates
from the two ends of the lag window's samples (committed offsets and log ends read on the
offsets schedule). 0 when the partition is caught up: no lag, or its oldest unread record is
younger than `caught_up_within` while the group consumes (a consumer that keeps pace always
carries the records produced since its last commit); +Inf when the lag does not shrink, and
at once when nothing was consumed over the window. Per topic the slowest
partition counts: the group is done with the topic when every partition is. Error: the
committed offset trails the consumer's real position by up to one commit interval, so the
consumption rate is off by at most consumed x commit interval / window span (production is
read exactly, from the high watermark); beyond that it is a forecast at constant rates.

Retention risk (per lagging partition) = seconds until the first unread record (the one at
the committed offset) is deleted, the smallest of three bounds:
- time (retention.ms): that record was written `lag_seconds` ago and its segment cannot be
  deleted before its newest record is retention.ms old, so it has at least
  retention.ms - lag_seconds, stretched by 1 / (1 - consumed/produced) while the group
  consumes (it moves to younger records). A lower bound: deletion waits for the segment to
  roll (segment.ms / segment.bytes) and for the broker's retention check
  (log.retention.check.interval.ms); lag_seconds may be short by one offsets interval.
- size (retention.bytes, per partition): the log keeps about retention.bytes, so the record
  goes once the records after it fill that; records per byte from the partition's size on
  disk (DescribeLogDirs) over its offsets. Off by one segment (deletion is per segment).
- log start: how fast the log start offset actually moves (any cause: retention, deletion
  by DeleteRecords), (committed - log start) / (start rate - consumed). Off by one segment:
  the log start moves in segment steps.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence

from kafka_watchdog.detection.lag import Sample
from kafka_watchdog.model.foresight import (
    NEVER,
    GroupForesight,
    PartitionForesight,
    Rates,
    TopicForesight,
    soonest,
    worst_catchup,
)
from kafka_watchdog.model.lag import GroupLag
from kafka_watchdog.model.parts import LogOffsets
from kafka_watchdog.model.snapshot import TopicConfig, frozen_map

TP = tuple[str, int]
_UNKNOWN: tuple[None, None] = (None, None)
# The log start's rate is measured over at most about this long (then from its last move on).
RENEW_AFTER = 3600.0


def rates(samples: Sequence[Sample], now: float, window: float) -> Rates | None:
    """Consumed and produced records per second between the oldest and the newest sample
    inside the window; None with fewer than two, or when the offsets went back (a rewind,
    a recreated topic: the difference says nothing about a rate)."""
    if len(samples) < 2:
        return None
    last = samples[-1]
    # The oldest sample inside the window (samples are in time order): a binary search,
    # this runs for every group-partition each offsets cycle.
    first = samples[min(bisect.bisect_left(samples, now - window, key=_at), len(samples) - 1)]
    span = last.at - first.at
    if span <= 0 or last.committed < first.committed:
        return None
    produced = (last.committed + last.lag) - (first.committed + first.lag)
    if produced < 0:
        return None
    return Rates((last.committed - first.committed) / span, produced / span, span)


def catchup_seconds(
    lag: int | None, lag_seconds: float | None, rate: Rates | None, caught_up_within: float
) -> float | None:
    if lag is None:
        return None
    if lag <= 0:
        return 0.0
    if rate is not None and rate.consumed <= 0:
        return NEVER  # nobody consumes: however young the backlog, it stays
    if lag_seconds is not None and lag_seconds <= caught_up_within:
        return 0.0
    if rate is None:
        return None
    if rate.net <= 0:
        return NEVER
    return lag / rate.net


def retention_seconds(
    *,
    committed: int,
    log_start: int | None,
    log_end: int | None,
    lag_seconds: float | None,
    rate: Rates | None,
    config: TopicConfig,
    partition_bytes: int | None = None,
    start_rate: float | None = None,
) -> tuple[float | None, str]:
    """(seconds, basis): see the module's docstring. (0, "lost") when the committed offset
    is already below the log start; (+Inf, "") when nothing unread is at risk (no lag, a
    compacted topic, no retention limit, or a group that consumes faster than it ages)."""
    if log_start is not None and committed < log_start:
        return 0.0, "lost"
    if log_end is None:
        return None, ""
    if committed >= log_end:
        return NEVER, ""
    if config.cleanup_policy is not None and "delete" not in config.cleanup_policy:
        return NEVER, ""  # compact only: retention never deletes
    # Without rates the group may as well have stopped: assume it consumes nothing.
    consumed = rate.consumed if rate is not None else 0.0
    produced = rate.produced if rate is not None else None
    bounds: list[tuple[float, str]] = []
    retention_ms = config.retention_ms
    if retention_ms is not None and retention_ms >= 0 and lag_seconds is not None:
        left = retention_ms / 1000.0 - lag_seconds
        # How fast the unread record ages, in seconds per second: 1 for a stopped group.
        stopped = 0.0 if consumed > 0 else 1.0  # nothing produced: consuming at all catches up
        aging = 1.0 - consumed / produced if produced else stopped
        if left <= 0:
            bounds.append((0.0, "time"))
        elif aging > 0:
            bounds.append((left / aging, "time"))
    retention_bytes = config.retention_bytes
    if (
        retention_bytes is not None
        and retention_bytes >= 0
        and partition_bytes
        and log_start is not None
        and log_end > log_start
    ):
        capacity = retention_bytes / (partition_bytes / (log_end - log_start))  # records
        unread = log_end - committed
        growing = (produced or 0.0) - consumed
        if unread >= capacity:
            bounds.append((0.0, "size"))
        elif growing > 0:
            bounds.append(((capacity - unread) / growing, "size"))
    if start_rate is not None and log_start is not None:
        closing = start_rate - consumed
        if closing > 0:
            bounds.append(((committed - log_start) / closing, "log start"))
    if not bounds:
        if retention_ms is None and retention_bytes is None:
            return None, ""  # the topic's configs are not known (yet)
        if retention_ms is not None and retention_ms >= 0 and lag_seconds is None:
            return None, ""  # the time bound needs the record's age
        return NEVER, ""
    return min(bounds)


def _at(sample: Sample) -> float:
    return sample.at


class StartHistory:
    """How fast one partition's log start moves: where it was when first seen (or when the
    reference was last renewed) and where it is now. Two points, not a list: it is kept for
    every consumed partition."""

    __slots__ = ("first", "last", "since")

    def __init__(self) -> None:
        self.first: int | None = None
        self.since = 0.0
        self.last: int | None = None

    def record(self, start: int, at: float, renew_after: float = math.inf) -> None:
        if self.first is None or self.last is None or start < self.last:
            # First seen, or recreated or truncated: another log.
            self.first, self.since, self.last = start, at, start
            return
        if start != self.last and at - self.since > renew_after:
            # Keep the rate recent: measure from the last move on.
            self.first, self.since = self.last, at
        self.last = start

    def rate(self, now: float) -> float | None:
        """Records per second the log start moved since the reference point; None before it
        moved at all (nothing says how fast it will)."""
        if self.first is None or self.last is None or self.last == self.first:
            return None
        return (self.last - self.first) / (now - self.since) if now > self.since else None


class ForesightTracker:
    """Per cluster: the log start histories, and the foresight of each cycle."""

    def __init__(self, window: float, caught_up_within: float) -> None:
        self.window = window
        self.caught_up_within = caught_up_within
        self._starts: dict[TP, StartHistory] = {}
        # The last forecast per group-partition: carried while its inputs are unknown.
        self._last: dict[tuple[str, TP], PartitionForesight] = {}

    def observe(
        self,
        lag: Mapping[str, GroupLag],
        samples: Callable[[str, TP], Sequence[Sample]],
        offsets: LogOffsets,
        configs: Mapping[str, TopicConfig],
        sizes: Mapping[TP, int],
        at: float,
    ) -> Mapping[str, GroupForesight]:
        """One offsets cycle: `samples(group, tp)` are the lag tracker's samples, `sizes`
        each partition's bytes on disk (its largest replica), when known."""
        # Each consumed partition's log start and how fast it moves, once per partition.
        starts: dict[TP, tuple[int | None, float | None]] = {}
        for g in lag.values():
            for p in g.partitions:
                tp = (p.topic, p.partition)
                if tp in starts:
                    continue
                start = offsets.get(tp, _UNKNOWN)[0]
                history = self._starts.get(tp)
                if start is not None:
                    if history is None:
                        history = self._starts[tp] = StartHistory()
                    history.record(start, at, renew_after=RENEW_AFTER)
                starts[tp] = (start, history.rate(at) if history is not None else None)
        for tp in self._starts.keys() - starts.keys():
            del self._starts[tp]
        no_config = TopicConfig()
        out: dict[str, GroupForesight] = {}
        for group_id, group in lag.items():
            parts = []
            for p in group.partitions:
                tp = (p.topic, p.partition)
                if p.lag == 0:  # most partitions of a healthy cluster: nothing to foresee
                    parts.append(PartitionForesight(p.topic, p.partition, None, 0.0, NEVER))
                    continue
                rate = rates(samples(group_id, tp), at, self.window)
                start, start_rate = starts[tp]
                seconds, basis = retention_seconds(
                    committed=p.committed,
                    log_start=start,
                    log_end=p.log_end,
                    lag_seconds=p.lag_seconds,
                    rate=rate,
                    config=configs.get(p.topic, no_config),
                    partition_bytes=sizes.get(tp),
                    start_rate=start_rate,
                )
                catchup = catchup_seconds(p.lag, p.lag_seconds, rate, self.caught_up_within)
                # Nothing to forecast from this cycle for one of the two (the group's lag,
                # the log's offsets or the commit rates are unknown, carried, or too few
                # yet): that one's last forecast stands, each on its own, rather than its
                # series vanishing for a group that still exists.
                last = self._last.get((group_id, tp))
                if last is not None and catchup is None:
                    catchup, rate = last.catchup_seconds, rate or last.rates
                if last is not None and seconds is None:
                    seconds, basis = last.retention_seconds, last.retention_basis
                parts.append(
                    PartitionForesight(
                        p.topic,
                        p.partition,
                        rate,
                        catchup,
                        seconds,
                        basis,
                        below_log_start=basis == "lost",
                    )
                )
            out[group_id] = GroupForesight(group_id, by_topic(parts), tuple(parts))
        self._last = {
            (group_id, (part.topic, part.partition)): part
            for group_id, g in out.items()
            for part in g.partitions
            if part.catchup_seconds is not None or part.retention_seconds is not None
        }
        return frozen_map(out)


def by_topic(parts: Sequence[PartitionForesight]) -> Mapping[str, TopicForesight]:
    topics: dict[str, list[PartitionForesight]] = {}
    for p in parts:
        topics.setdefault(p.topic, []).append(p)
    out = {}
    for topic, ps in topics.items():
        known = [p for p in ps if p.retention_seconds is not None]
        first = min(known, key=lambda p: p.retention_seconds or 0.0) if known else None
        catchup = worst_catchup(p.catchup_seconds for p in ps)
        if any(p.catchup_seconds is None for p in ps) and catchup is not None and catchup == 0:
            catchup = None  # some partitions unknown, the known ones done: not known yet
        out[topic] = TopicForesight(
            topic,
            catchup,
            soonest(p.retention_seconds for p in ps),
            first.partition if first is not None and first.retention_seconds != math.inf else None,
        )
    return frozen_map(out)
