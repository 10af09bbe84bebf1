"""Lag in messages, in seconds, and Burrow-style status: numbered cases."""

from __future__ import annotations

import pytest

from kafka_watchdog.detection.lag import (
    LagStatus,
    PointHistory,
    Sample,
    evaluate,
    lag_messages,
    lag_seconds,
    lag_seconds_at_least,
)


def test_01_lag_is_never_negative_and_the_race_is_flagged() -> None:
    assert lag_messages(90, 100) == (10, False)
    assert lag_messages(100, 100) == (0, False)
    assert lag_messages(105, 100) == (0, True)


# 10 records/s: offset 0 at t=0, 100 at t=10, 200 at t=20, now t=25.
STEADY = [(0, 0.0), (100, 10.0), (200, 20.0)]
SECONDS = [
    ("02 caught up", STEADY, 200, 25.0, 0.0),
    ("03 beyond the last point (newer log end not polled yet)", STEADY, 250, 25.0, 0.0),
    ("04 exactly on a point", STEADY, 100, 25.0, 15.0),
    ("05 interpolated between points", STEADY, 150, 25.0, 10.0),
    ("06 older than the history: extrapolated at the recorded rate", STEADY, -50, 25.0, 30.0),
    ("07 one point only: at least as old as it", [(100, 10.0)], 50, 25.0, 15.0),
    (
        "08 burst then idle: the time the offset was first reached",
        [(0, 0.0), (100, 1.0)],
        50,
        60.0,
        59.5,
    ),
]


@pytest.mark.parametrize(
    ("case", "points", "committed", "now", "expected"), SECONDS, ids=[c[0][:2] for c in SECONDS]
)
def test_lag_seconds(
    case: str, points: list[tuple[int, float]], committed: int, now: float, expected: float
) -> None:
    assert lag_seconds(points, committed, now) == pytest.approx(expected), case


def test_09_no_history_no_answer() -> None:
    assert lag_seconds([], 5, 10.0) is None


def test_10_history_keeps_first_time_an_offset_was_reached_and_resets_on_truncation() -> None:
    h = PointHistory(max_points=3)
    for offset, at in [(10, 1.0), (10, 2.0), (20, 3.0), (30, 4.0), (40, 5.0)]:
        h.record(offset, at)
    assert list(h.points) == [(20, 3.0), (30, 4.0), (40, 5.0)]
    h.record(5, 6.0)
    assert list(h.points) == [(5, 6.0)]


def s(committed: int, lag: int, at: float) -> Sample:
    return Sample(committed, lag, at)


W = 100.0
STATUS = [
    ("11 too few samples", [s(1, 5, 90)], True, LagStatus.UNKNOWN),
    (
        "12 lag hit zero in the window: OK",
        [s(1, 5, 80), s(6, 0, 90), s(7, 3, 99)],
        True,
        LagStatus.OK,
    ),
    (
        "13 offsets went back: REWIND",
        [s(50, 5, 80), s(40, 15, 90), s(45, 12, 99)],
        True,
        LagStatus.REWIND,
    ),
    (
        "14 no progress, nobody owns the partition: STOP",
        [s(5, 5, 80), s(5, 8, 90), s(5, 9, 99)],
        False,
        LagStatus.STOP,
    ),
    (
        "15 no progress while a member owns it: STALL",
        [s(5, 5, 80), s(5, 8, 90), s(5, 9, 99)],
        True,
        LagStatus.STALL,
    ),
    (
        "16 moving but lag never decreases: WARN",
        [s(5, 5, 80), s(7, 6, 90), s(9, 6, 99)],
        True,
        LagStatus.WARN,
    ),
    (
        "17 moving and lag decreasing: OK",
        [s(5, 9, 80), s(9, 6, 90), s(12, 3, 99)],
        True,
        LagStatus.OK,
    ),
    (
        "18 samples older than the window are ignored",
        [s(1, 0, -5), s(5, 5, 80), s(5, 8, 90), s(5, 9, 99)],
        False,
        LagStatus.STOP,
    ),
]


@pytest.mark.parametrize(
    ("case", "samples", "owned", "expected"), STATUS, ids=[c[0][:2] for c in STATUS]
)
def test_status(case: str, samples: list[Sample], owned: bool, expected: LagStatus) -> None:
    assert evaluate(samples, owned, 100.0, W, min_samples=3) is expected, case


def test_19_tracker_end_to_end_stop_then_recovery() -> None:
    from kafka_watchdog.detection.lag_tracker import LagTracker
    from kafka_watchdog.model.snapshot import GroupState, frozen_map

    tracker = LagTracker(window=30.0, min_samples=3, history_points=64)
    empty = lambda c: GroupState("g", "Empty", 0, offsets=frozen_map({("t", 0): c}))  # noqa: E731
    # Producer at 10/s, consumer gone at offset 100.
    for i in range(5):
        at = 10.0 * i
        result = tracker.observe({"g": empty(100)}, {("t", 0): (0, 100 + 100 * i)}, at)
    lag = result["g"].partitions[0]
    assert (lag.lag, lag.status) == (400, LagStatus.STOP)
    assert lag.lag_seconds == pytest.approx(40.0)
    assert result["g"].status is LagStatus.STOP
    # It comes back and catches up: OK.
    active = GroupState(
        "g", "Stable", 1, offsets=frozen_map({("t", 0): 600}), assigned=frozenset({("t", 0)})
    )
    result = tracker.observe({"g": active}, {("t", 0): (0, 600)}, 50.0)
    assert result["g"].status is LagStatus.OK and result["g"].partitions[0].lag_seconds == 0.0
    # A commit newer than the log end read: clamped and counted.
    ahead = GroupState("g", "Stable", 1, offsets=frozen_map({("t", 0): 700}))
    result = tracker.observe({"g": ahead}, {("t", 0): (0, 650)}, 60.0)
    assert result["g"].partitions[0].lag == 0 and tracker.races_total["g"] == 1
    # Group deleted: its state goes.
    assert tracker.observe({}, {("t", 0): (0, 650)}, 70.0) == {}
    assert tracker.races_total == {}


def _naive_seconds(points: list[tuple[int, float]], committed: int, now: float) -> float | None:
    """The linear scan lag_seconds replaced by a binary search (newest pair first)."""
    if not points:
        return None
    last_offset, _ = points[-1]
    if committed >= last_offset:
        return 0.0
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


@pytest.mark.parametrize("seed", range(20))
def test_20_compact_histories_answer_as_the_lists_did(seed: int) -> None:
    """CommitWindow (constant memory) gives evaluate's status after every sample, and keeps
    for rates a few samples of the window, the newest and one at most window / RATE_POINTS
    after the oldest; the flat PointHistory gives the linear scan's lag in seconds, over
    random sequences with idle spells, rewinds, catch-ups, truncations and gaps between
    polls."""
    import random

    from kafka_watchdog.detection.lag import RATE_POINTS, CommitWindow

    rng = random.Random(seed)
    window, min_samples = rng.choice([30.0, 100.0]), rng.choice([2, 3, 5])
    commits = CommitWindow(min_samples, window)
    history = PointHistory(max_points=rng.choice([3, 8, 64]))
    samples: list[Sample] = []
    committed, end, at = 100, 150, 0.0
    for _ in range(200):
        at += rng.choice([1.0, 10.0, 10.0, 10.0, 45.0])
        end += rng.choice([0, 0, 5, 50])
        if rng.random() < 0.03:
            end = rng.randrange(0, 100)  # truncated or recreated
        move = rng.random()
        if move < 0.4:
            committed = min(end, committed + rng.randrange(0, 60))
        elif move < 0.45:
            committed = max(0, committed - rng.randrange(1, 30))  # rewound
        elif move < 0.5:
            committed = end  # caught up
        lag, _ = lag_messages(committed, end)
        samples.append(Sample(committed, lag, at))
        commits.add(committed, lag, at)
        owned = rng.random() < 0.5
        assert commits.status(owned, at, window) is evaluate(
            samples, owned, at, window, min_samples
        )
        trail = commits.trail()
        inside = [x for x in samples if at - x.at <= window]
        assert len(trail) <= 2 * RATE_POINTS + 2
        assert trail[-1] == samples[-1] and set(trail) <= set(inside)
        assert trail[0].at - inside[0].at < window / RATE_POINTS or trail[0] == inside[0]
        history.record(end, at)
        probe = rng.randrange(0, end + 10)
        expected = _naive_seconds(list(history.points), probe, at)
        got = history.lag_seconds(probe, at)
        assert got == pytest.approx(expected) if expected is not None else got is None
        assert lag_seconds(list(history.points), probe, at) == got
        assert history.lag_seconds_at_least(probe) is lag_seconds_at_least(history.points, probe)
