"""Broker log dirs, table-tested: parsing DescribeLogDirs answers, merging rounds (offline and
missing dirs keep the replicas they lost, silent brokers their last known dirs), the events,
growth per hour."""

from __future__ import annotations

from typing import Any

import pytest

from kafka_watchdog.detection import disks
from kafka_watchdog.model.disks import MISSING, BrokerDisks, LogDir
from kafka_watchdog.model.events import EventKind, LogDirChange
from kafka_watchdog.model.snapshot import frozen_map
from kafka_watchdog.sources.logdirs import parse_broker


def answer(path: str, error: int = 0, **partitions: int) -> dict[str, Any]:
    """One log dir as kafka-python returns it; partitions as topic_partition=bytes."""
    topics: dict[str, list[dict[str, Any]]] = {}
    for key, size in partitions.items():
        topic, _, p = key.rpartition("_")
        topics.setdefault(topic, []).append(
            {"partition_index": int(p), "partition_size": size, "offset_lag": 0,
             "is_future_key": False}
        )  # fmt: skip
    return {
        "error_code": error,
        "log_dir": path,
        "topics": [{"name": t, "partitions": ps} for t, ps in topics.items()],
        "total_bytes": 1000,
        "usable_bytes": 400,
    }


def test_parse() -> None:
    b = parse_broker(2, [answer("/d0", orders_0=10, orders_1=5), answer("/d1", 56)], 1.0)
    assert b.broker == 2 and b.taken_at == 1.0
    assert b.dirs["/d0"].replicas == {("orders", 0): 10, ("orders", 1): 5}
    assert (b.dirs["/d0"].size_bytes, b.dirs["/d0"].usable_bytes) == (15, 400)
    assert b.dirs["/d1"].error == "KAFKA_STORAGE_ERROR" and not b.dirs["/d1"].online
    assert b.topic_bytes() == {"orders": 15}


def good(at: float = 0.0) -> BrokerDisks:
    return parse_broker(2, [answer("/d0", a_0=10), answer("/d1", b_0=20, b_1=30)], at)


@pytest.mark.parametrize(
    ("case", "second", "state", "replicas", "kind"),
    [
        ("01 a dir goes offline: it keeps the replicas that lost a copy",
         parse_broker(2, [answer("/d0", a_0=10), answer("/d1", 56)], 10.0),
         "KAFKA_STORAGE_ERROR", {("b", 0): 20, ("b", 1): 30}, EventKind.LOG_DIR_OFFLINE),
        ("02 the broker stops listing a dir", parse_broker(2, [answer("/d0", a_0=10)], 10.0),
         MISSING, {("b", 0): 20, ("b", 1): 30}, EventKind.LOG_DIR_OFFLINE),
        ("03 nothing changed", good(10.0), None, {("b", 0): 20, ("b", 1): 30}, None),
        ("04 the broker does not answer: last known dirs, no event", "timed out", None,
         {("b", 0): 20, ("b", 1): 30}, None),
    ],
)  # fmt: skip
def test_merge_and_events(
    case: str,
    second: BrokerDisks | str,
    state: str | None,
    replicas: dict[tuple[str, int], int],
    kind: EventKind | None,
) -> None:
    first = disks.merge(frozen_map(), {2: good()}, 0.0)
    merged = disks.merge(first, {2: second}, 10.0)
    d1 = merged[2].dirs["/d1"]
    assert (d1.error, dict(d1.replicas)) == (state, replicas), case
    found = disks.events("c", first, merged, 10.0)
    assert [e.kind for e in found] == ([kind] if kind else []), case
    if kind is not None:
        change = found[0].change
        assert isinstance(change, LogDirChange)
        assert change.partitions == (("b", 0), ("b", 1)) and found[0].broker == 2
        assert "b-0, b-1" in found[0].detail
    if isinstance(second, str):
        assert (merged[2].error, merged[2].unknown_since) == ("timed out", 10.0), case
        later = disks.merge(merged, {2: "timed out"}, 20.0)
        assert later[2].unknown_since == 10.0  # since the first failed round


def test_a_dir_back_online_is_an_event_and_first_seen_offline_is_one_too() -> None:
    offline = parse_broker(2, [answer("/d0", a_0=10), answer("/d1", 56)], 10.0)
    first = disks.merge(frozen_map(), {2: offline}, 10.0)
    seen = disks.events("c", frozen_map(), first, 10.0)
    assert [(e.kind, e.subject) for e in seen] == [(EventKind.LOG_DIR_OFFLINE, "broker 2 /d1")]
    back = disks.merge(first, {2: good(20.0)}, 20.0)
    assert [e.kind for e in disks.events("c", first, back, 20.0)] == [EventKind.LOG_DIR_ONLINE]
    # A dir seen for the first time online says nothing.
    assert disks.events("c", frozen_map(), disks.merge(frozen_map(), {2: good()}, 0.0), 0.0) == []


def test_growth_over_the_last_hour() -> None:
    history = disks.SizeHistory(window=3600.0, every=60.0)
    view = disks.merge(frozen_map(), {2: good()}, 0.0)
    assert history.with_growth(view, 0.0)[2].dirs["/d0"].growth_bytes_per_second is None
    bigger = parse_broker(2, [answer("/d0", a_0=3610), answer("/d1", b_0=20, b_1=30)], 1800.0)
    grown = history.with_growth(disks.merge(view, {2: bigger}, 1800.0), 1800.0)
    assert grown[2].dirs["/d0"].growth_bytes_per_second == 2.0  # 3600 B in 1800 s
    assert grown[2].dirs["/d1"].growth_bytes_per_second == 0.0
    # Points older than the hour go: growth is over the last hour.
    later = parse_broker(2, [answer("/d0", a_0=3610), answer("/d1", b_0=20, b_1=30)], 5400.0)
    flat = history.with_growth(disks.merge(grown, {2: later}, 5400.0), 5400.0)
    assert flat[2].dirs["/d0"].growth_bytes_per_second == 0.0


def test_partition_sizes_take_the_largest_online_replica() -> None:
    view = frozen_map(
        {
            1: BrokerDisks(1, frozen_map({"/d": LogDir("/d", None, frozen_map({("t", 0): 5}))})),
            2: BrokerDisks(2, frozen_map({"/d": LogDir("/d", None, frozen_map({("t", 0): 9}))})),
            3: BrokerDisks(
                3,
                frozen_map({"/d": LogDir("/d", "KAFKA_STORAGE_ERROR", frozen_map({("t", 0): 99}))}),
            ),
        }
    )
    assert disks.partition_sizes(view) == {("t", 0): 9}
