"""Lag foresight, table-tested: rates, time to catch up, retention risk, the log start's
movement, the per-topic view, records deleted unread, and the lag history."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from kafka_watchdog.detection.diff import diff, records_skipped
from kafka_watchdog.detection.foresight import (
    ForesightTracker,
    StartHistory,
    by_topic,
    catchup_seconds,
    rates,
    retention_seconds,
)
from kafka_watchdog.detection.lag import Sample
from kafka_watchdog.detection.lag_history import LagHistory
from kafka_watchdog.model.events import CommitBelowStart, EventKind
from kafka_watchdog.model.foresight import PartitionForesight, Rates
from kafka_watchdog.model.lag import GroupLag, LagStatus, PartitionLag
from kafka_watchdog.model.snapshot import (
    Broker,
    ClusterSnapshot,
    GroupState,
    PartitionState,
    TopicConfig,
    TopicState,
    frozen_map,
)

INF = math.inf
NOW = 1_000.0
DAY_MS = 86_400_000


def s(committed: int, lag: int, at: float) -> Sample:
    return Sample(committed, lag, at)


@pytest.mark.parametrize(
    ("case", "samples", "window", "expected"),
    [
        ("01 no samples", [], 300, None),
        ("02 one sample", [s(0, 10, 990)], 300, None),
        ("03 consumes 5/s, produces 10/s", [s(0, 0, 900), s(500, 500, 1000)], 300, (5, 10, 100)),
        ("04 only the window counts", [s(0, 0, 0), s(100, 0, 800), s(300, 0, 1000)], 300,
         (1, 1, 200)),
        ("05 a rewind says nothing", [s(100, 0, 900), s(50, 10, 1000)], 300, None),
        ("06 a recreated topic says nothing", [s(100, 900, 900), s(100, 0, 1000)], 300, None),
        ("07 stopped, nothing produced", [s(7, 3, 900), s(7, 3, 1000)], 300, (0, 0, 100)),
        ("08 everything outside the window: the newest alone", [s(0, 0, 1), s(9, 0, 2)], 300,
         None),
    ],
)  # fmt: skip
def test_rates(
    case: str, samples: list[Sample], window: float, expected: tuple[float, ...] | None
) -> None:
    got = rates(samples, NOW, window)
    if expected is None:
        assert got is None, case
    else:
        assert got is not None and (got.consumed, got.produced, got.span) == expected, case


@pytest.mark.parametrize(
    ("case", "lag", "lag_seconds", "rate", "expected"),
    [
        ("01 no lag", 0, None, None, 0.0),
        ("02 lag unknown (no log end)", None, None, None, None),
        ("03 keeps pace: the oldest unread record is 5 s old", 100, 5.0, Rates(10, 10, 60), 0.0),
        ("04 no rates yet", 1_000, 600.0, None, None),
        ("05 shrinks 5/s: 1000 / 5", 1_000, 600.0, Rates(15, 10, 60), 200.0),
        ("06 falls behind: never", 1_000, 600.0, Rates(5, 10, 60), INF),
        ("07 nobody consumes, nothing produced: never", 1_000, 600.0, Rates(0, 0, 60), INF),
        ("08 exactly at pace with a backlog: never", 1_000, 600.0, Rates(10, 10, 60), INF),
        ("09 stopped with a young backlog: never, not caught up", 50, 5.0, Rates(0, 10, 60),
         INF),
    ],
)  # fmt: skip
def test_catchup(
    case: str, lag: int | None, lag_seconds: float | None, rate: Rates | None, expected: float
) -> None:
    assert catchup_seconds(lag, lag_seconds, rate, caught_up_within=60.0) == expected, case


DELETE = TopicConfig(retention_ms=3_600_000, retention_bytes=-1, cleanup_policy="delete")


@pytest.mark.parametrize(
    ("case", "kwargs", "expected"),
    [
        ("01 already below the log start: lost",
         dict(committed=5, log_start=10, log_end=20, lag_seconds=100.0), (0.0, "lost")),
        ("02 nothing unread", dict(committed=20, log_start=0, log_end=20, lag_seconds=0.0),
         (INF, "")),
        ("03 log end unknown", dict(committed=5, log_start=0, log_end=None, lag_seconds=None),
         (None, "")),
        ("04 stopped group, 1 h retention, oldest unread 50 min old: 10 min left",
         dict(committed=5, log_start=0, log_end=20, lag_seconds=3000.0), (600.0, "time")),
        ("05 consuming half the production rate: it ages half as fast, 20 min",
         dict(committed=5, log_start=0, log_end=20, lag_seconds=3000.0,
              rate=Rates(5, 10, 60)), (1200.0, "time")),
        ("06 consuming faster than produced: it never ages out",
         dict(committed=5, log_start=0, log_end=20, lag_seconds=3000.0,
              rate=Rates(20, 10, 60)), (INF, "")),
        ("07 overdue: deletion waits only for the segment roll or the retention check",
         dict(committed=5, log_start=0, log_end=20, lag_seconds=4000.0), (0.0, "time")),
        ("08 compacted topic: retention deletes nothing",
         dict(committed=5, log_start=0, log_end=20, lag_seconds=4000.0,
              config=TopicConfig(retention_ms=1, cleanup_policy="compact")), (INF, "")),
        ("09 configs not read yet", dict(committed=5, log_start=0, log_end=20,
         lag_seconds=10.0, config=TopicConfig()), (None, "")),
        ("10 no retention limit", dict(committed=5, log_start=0, log_end=20, lag_seconds=10.0,
         config=TopicConfig(retention_ms=-1, retention_bytes=-1, cleanup_policy="delete")),
         (INF, "")),
        ("11 size: 1000 records of 100 B, 50 kB kept, 400 unread, +10/s: 10 s",
         dict(committed=600, log_start=0, log_end=1000, lag_seconds=1.0, partition_bytes=100_000,
              rate=Rates(0, 10, 60),
              config=TopicConfig(retention_ms=-1, retention_bytes=50_000,
                                 cleanup_policy="delete")), (10.0, "size")),
        ("12 size: already more unread than the log keeps",
         dict(committed=100, log_start=0, log_end=1000, lag_seconds=1.0, partition_bytes=100_000,
              config=TopicConfig(retention_ms=-1, retention_bytes=50_000,
                                 cleanup_policy="delete")), (0.0, "size")),
        ("13 the log start moves 2/s, 100 records from the committed offset: 50 s",
         dict(committed=100, log_start=0, log_end=1000, lag_seconds=10.0, start_rate=2.0),
         (50.0, "log start")),
        ("14 the soonest bound wins (time 600 s vs log start 50 s)",
         dict(committed=100, log_start=0, log_end=1000, lag_seconds=3000.0, start_rate=2.0),
         (50.0, "log start")),
        ("15 time bound needs the record's age", dict(committed=5, log_start=0, log_end=20,
         lag_seconds=None), (None, "")),
    ],
)  # fmt: skip
def test_retention(case: str, kwargs: dict[str, object], expected: tuple[object, str]) -> None:
    kwargs.setdefault("rate", None)
    kwargs.setdefault("config", DELETE)
    assert retention_seconds(**kwargs) == expected, case  # type: ignore[arg-type]


def test_start_history_rate() -> None:
    h = StartHistory()
    h.record(0, 0.0)
    assert h.rate(100.0) is None  # never moved: nothing says how fast it will
    h.record(0, 50.0)
    h.record(100, 60.0)
    assert h.rate(100.0) == 1.0  # 100 records in the 100 s since it was first seen
    h.record(5, 110.0)  # went back: another log
    assert h.rate(120.0) is None
    h.record(50, 130.0, renew_after=30.0)  # 45 in 20 s
    assert h.rate(130.0) == 45 / 20
    h.record(80, 200.0, renew_after=30.0)  # older than 30 s: measured from the last move on
    assert (h.first, h.since, h.last) == (50, 200.0, 80)


def test_by_topic_takes_the_slowest_partition_and_the_soonest_risk() -> None:
    parts = [
        PartitionForesight("t", 0, None, 10.0, INF),
        PartitionForesight("t", 1, None, INF, 300.0, "time"),
        PartitionForesight("t", 2, None, 0.0, 900.0, "time"),
        PartitionForesight("u", 0, None, 0.0, None),
        PartitionForesight("u", 1, None, None, None),
    ]
    topics = by_topic(parts)
    assert (topics["t"].catchup_seconds, topics["t"].retention_seconds) == (INF, 300.0)
    assert topics["t"].retention_partition == 1
    # u: one partition done, one not known: the topic is not known to be done.
    assert (topics["u"].catchup_seconds, topics["u"].retention_seconds) == (None, None)


def test_tracker_end_to_end_a_stopped_group_on_a_short_retention_topic() -> None:
    """A stopped group (committed 0) on a topic produced at 10/s with 5 min retention."""
    tracker = ForesightTracker(window=300.0, caught_up_within=60.0)
    samples = [Sample(0, 1000, 800.0), Sample(0, 3000, 1000.0)]
    lag = frozen_map(
        {
            "g": GroupLag(
                "g",
                "Empty",
                0,
                (PartitionLag("t", 0, 0, 3000, 3000, 250.0, LagStatus.STOP),),
                LagStatus.STOP,
            )
        }
    )
    out = tracker.observe(
        lag,
        lambda group, tp: samples,
        frozen_map({("t", 0): (0, 3000)}),
        frozen_map({"t": TopicConfig(retention_ms=300_000, cleanup_policy="delete")}),
        {},
        NOW,
    )
    p = out["g"].partitions[0]
    assert p.rates == Rates(0.0, 10.0, 200.0)
    assert p.catchup_seconds == INF  # nobody consumes
    assert (p.retention_seconds, p.retention_basis) == (50.0, "time")  # 300 - 250
    assert out["g"].topics["t"].retention_seconds == 50.0


def test_tracker_carries_the_last_forecast_while_its_inputs_are_unknown() -> None:
    """A group whose coordinator is gone keeps its last lag with no current log end: the
    forecast must stand (carried) rather than its series vanish, then follow the next
    real answer."""
    tracker = ForesightTracker(window=300.0, caught_up_within=60.0)
    samples = [Sample(0, 1000, 800.0), Sample(0, 3000, 1000.0)]
    config = frozen_map({"t": TopicConfig(retention_ms=300_000, cleanup_policy="delete")})

    def group(lag: int | None, log_end: int | None, since: float | None) -> Any:
        part = PartitionLag("t", 0, 0, log_end, lag, 250.0 if lag else None, LagStatus.STOP)
        part = dataclasses.replace(part, unknown_since=since)
        return frozen_map({"g": GroupLag("g", "Empty", 0, (part,), LagStatus.STOP)})

    def observe(lag: Any, offsets: Any, at: float) -> Any:
        return tracker.observe(lag, lambda g, tp: samples, offsets, config, {}, at)

    known = observe(group(3000, 3000, None), frozen_map({("t", 0): (0, 3000)}), NOW)
    first = known["g"].partitions[0]
    assert first.catchup_seconds == INF and first.retention_seconds == 50.0
    blind = observe(group(None, None, NOW), frozen_map({("t", 0): (None, None)}), NOW + 1)
    assert blind["g"].partitions[0] == first
    assert blind["g"].topics["t"].catchup_seconds == INF
    # Rates unknown for a cycle (too few commit samples in the window) while the lag and
    # the retention bound are known: the time to catch up is carried on its own.
    thin = tracker.observe(
        group(3000, 3000, None), lambda g, tp: [], frozen_map({("t", 0): (0, 3000)}), config, {},
        NOW + 1.5,
    )  # fmt: skip
    assert thin["g"].partitions[0].catchup_seconds == INF
    assert thin["g"].partitions[0].retention_seconds is not None
    # The next answer replaces it: a group that is caught up is told so.
    back = observe(group(0, 3100, None), frozen_map({("t", 0): (0, 3100)}), NOW + 2)
    assert back["g"].partitions[0].catchup_seconds == 0.0


def snap(committed: int | None, start: int | None, end: int = 100) -> ClusterSnapshot:
    p = PartitionState("t", 0, 1, (1,), (1,), log_start_offset=start, log_end_offset=end)
    groups = {}
    if committed is not None:
        groups["g"] = GroupState("g", "Empty", offsets=frozen_map({("t", 0): committed}))
    return ClusterSnapshot(
        "c",
        NOW,
        "id",
        frozen_map({1: Broker(1, "h", 1)}),
        1,
        topics=frozen_map({"t": TopicState("t", (p,))}),
        groups=frozen_map(groups),
    )


@pytest.mark.parametrize(
    ("case", "prev", "curr", "events", "skipped"),
    [
        ("01 the log start passes the committed offset", snap(10, 5), snap(10, 30), [(10, 30)],
         20),
        ("02 it moves further: no new event, the counter grows by the move", snap(10, 30),
         snap(10, 50), [], 20),
        ("03 the group resumed past it", snap(10, 30), snap(60, 50), [], 0),
        ("04 log start unknown", snap(10, None), snap(10, None), [], 0),
        ("05 committed right at the log start: nothing lost", snap(30, 5), snap(30, 30), [], 0),
        ("06 a new commit, still below a moving start: only the new deletion counts",
         snap(10, 30), snap(20, 40), [], 10),
    ],
)  # fmt: skip
def test_records_deleted_unread(
    case: str,
    prev: ClusterSnapshot,
    curr: ClusterSnapshot,
    events: list[tuple[int, int]],
    skipped: int,
) -> None:
    found = [e for e in diff(prev, curr) if e.kind is EventKind.OFFSET_BELOW_LOG_START]
    assert [(e.change.before, e.change.after) for e in found] == events, case
    for e in found:
        assert isinstance(e.change, CommitBelowStart) and e.group == "g" and e.topic == "t"
    assert records_skipped(prev, curr).get(("g", "t"), 0) == skipped, case


def lagging(total: int) -> GroupLag:
    return GroupLag(
        "g", "Stable", 1, (PartitionLag("t", 0, 0, total, total, 1.0, LagStatus.OK),), LagStatus.OK
    )


def test_lag_history_keeps_the_largest_value_per_bucket_for_an_hour() -> None:
    h = LagHistory(span=120.0, step=30.0)  # 4 buckets
    h.record(frozen_map({"g": lagging(5)}), 0.0)
    h.record(frozen_map({"g": lagging(9)}), 10.0)  # same bucket: the larger value
    h.record(frozen_map({"g": lagging(7)}), 20.0)
    series = h.record(frozen_map({"g": lagging(3)}), 65.0)["g"]
    assert series.values == (None, 9, None, 3)
    assert series.points() == [(0.0, 9), (60.0, 3)]
    later = h.record(frozen_map({"g": lagging(1)}), 200.0)["g"]  # the first buckets age out
    assert later.values == (None, None, None, 1)
    assert h.record(frozen_map(), 210.0) == {}  # a deleted group goes
