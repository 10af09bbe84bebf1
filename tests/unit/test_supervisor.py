"""The supervisor: every long-running task started and stopped in one place, in bounded time."""

from __future__ import annotations

import asyncio

import pytest

from kafka_watchdog.app import supervisor as module
from kafka_watchdog.app.supervisor import Supervisor


async def test_01_a_loop_that_fails_is_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "RESTART_PAUSE", 0.0)
    runs = 0
    third = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            third.set()
            await asyncio.Event().wait()  # runs on from here
        raise RuntimeError("a bug")

    sup = Supervisor()
    sup.start("flaky", flaky)
    await asyncio.wait_for(third.wait(), 10)
    assert sup.running() == ["flaky"]
    assert await sup.stop(grace=5) == []
    assert sup.running() == []


async def test_02_stop_cancels_every_task_and_names_none_left() -> None:
    started = asyncio.Event()
    cancelled: list[str] = []

    def forever(name: str) -> module.Loop:
        async def loop() -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(name)
                raise

        return loop

    sup = Supervisor()
    for name in ("a", "b", "c"):
        sup.start(name, forever(name))
    await started.wait()
    assert await sup.stop(grace=5) == []
    assert sorted(cancelled) == ["a", "b", "c"]
    with pytest.raises(RuntimeError):
        sup.start("late", forever("late"))


async def test_03_a_swallowed_cancellation_is_delivered_again() -> None:
    # Python 3.11's wait_for can swallow a cancellation: the loop goes on as if nothing
    # happened. Cancelled again at the next turn, it stops.
    turns = 0
    running = asyncio.Event()

    async def swallows_once() -> None:
        nonlocal turns
        running.set()
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                turns += 1
                if turns > 1:
                    raise

    sup = Supervisor()
    sup.start("swallower", swallows_once)
    await running.wait()
    assert await sup.stop(grace=10) == []
    assert turns == 2


async def test_04_a_task_that_will_not_stop_is_named_and_left_behind() -> None:
    release = asyncio.Event()
    running = asyncio.Event()

    async def stubborn() -> None:
        running.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    sup = Supervisor()
    sup.start("stubborn", stubborn)
    await running.wait()
    assert await sup.stop(grace=0.3) == ["stubborn"]
    release.set()  # let it end, so the test leaves no task behind
    (left,) = [t for t in asyncio.all_tasks() if t.get_name() == "stubborn"]
    await asyncio.wait_for(left, 10)
