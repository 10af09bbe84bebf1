"""The offsets cycle evaluates lag, foresight and lag history in a thread of its own, and
publishes what it made together with the groups and offsets it was made from."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from bench.synthetic import populated_watcher
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.model.snapshot import GroupState
from kafka_watchdog.sources.errors import PartialAnswer


class AnsweringAdmin:
    """The two Admin API calls of an offsets cycle, answered from the synthetic view."""

    def __init__(self, watcher: ClusterWatcher) -> None:
        assert watcher.view.groups is not None and watcher.view.offsets is not None
        self.groups_answer = dict(watcher.view.groups.value)
        self.offsets_answer = dict(watcher.view.offsets.value)
        self.deaths: dict[str, int] = {}

    def start(self) -> None:
        pass

    async def groups(self, known: Sequence[str] = ()) -> dict[str, GroupState]:
        return self.groups_answer

    async def log_offsets(
        self, partitions: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[int | None, int | None]]:
        return {tp: self.offsets_answer[tp] for tp in partitions if tp in self.offsets_answer}


def answering(watcher: ClusterWatcher, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watcher, "admin", AnsweringAdmin(watcher))
    watcher._first_view.set()


async def test_the_loop_runs_while_a_cycle_is_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    # The evaluation waits for the event loop to release it: on the loop, it never would.
    watcher = populated_watcher(200, 10)
    answering(watcher, monkeypatch)
    started, release = threading.Event(), threading.Event()
    observe = watcher.lag.observe

    def waiting(*args: Any, **kwargs: Any) -> Mapping[str, Any]:
        started.set()
        assert release.wait(30), "the evaluation was never released"
        return observe(*args, **kwargs)

    monkeypatch.setattr(watcher.lag, "observe", waiting)
    cycle = asyncio.create_task(watcher._collect_offsets())
    try:
        assert await asyncio.to_thread(started.wait, 30)
        # Meanwhile the published lag is the last cycle's, whole.
        before = watcher.state.lag
        assert before and before is watcher._lag
    finally:
        release.set()
    await cycle
    after = watcher.state
    assert after.lag is not before and after.lag is watcher.lag.latest
    assert set(after.lag) == set(before)
    assert after.foresight is watcher._foresight and after.lag_history is watcher._lag_history


async def test_log_start_and_log_end_each_keep_their_last_known_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two ListOffsets requests: one may go unanswered alone. A restarted watchdog under a
    # lost KRaft quorum once published a log end without its log start, and the partition's
    # kafka_watchdog_partition_log_start_offset series vanished from /metrics.
    watcher = populated_watcher(200, 10)
    answering(watcher, monkeypatch)
    await watcher._collect_offsets()
    admin = watcher.admin
    assert isinstance(admin, AnsweringAdmin)
    assert watcher.view.offsets is not None
    before = watcher.view.offsets.value
    (no_start, no_end), known = sorted(admin.offsets_answer)[:2], sorted(admin.offsets_answer)[2]
    admin.offsets_answer[no_start] = (None, 2_000_000)
    admin.offsets_answer[no_end] = (5, None)
    admin.offsets_answer[known] = (7, 3_000_000)
    with pytest.raises(PartialAnswer, match="answered for 199 of 200"):
        await watcher._collect_offsets()  # published first, then told
    state = watcher.state
    assert watcher.view.offsets is not None
    offsets = watcher.view.offsets.value
    assert offsets[no_start] == (before[no_start][0], 2_000_000)
    assert offsets[no_end] == (5, before[no_end][1])
    assert offsets[known] == (7, 3_000_000)
    # Lag reads the log end: only the partition without one is unknown.
    assert no_end in state.unknown.partitions and no_start not in state.unknown.partitions
