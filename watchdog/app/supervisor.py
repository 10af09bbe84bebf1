"""The one place long-running tasks are started and stopped.

Every loop of the daemon (each cluster's collection stages, alert evaluation, delivery, the
Alertmanager push, the HA lock) runs as a task of one Supervisor. A task that ends with an
exception (a bug: the loops catch what they expect) is logged and started again after a
growing pause, so one broken loop cannot silently stop watching. `stop` cancels everything
at once and waits a bounded time: a task stuck in a call that ignores cancellation is
reported and left behind rather than holding up the exit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

Loop = Callable[[], Coroutine[Any, Any, None]]

# After an unexpected exit a task is restarted after this pause, doubled each time up to
# the maximum (reset when it ran for longer than the maximum).
RESTART_PAUSE = 1.0
RESTART_PAUSE_MAX = 60.0


class Supervisor:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    @property
    def stopping(self) -> bool:
        return self._stopping

    def start(self, name: str, loop: Loop, **log_extra: str) -> None:
        """Run `loop` as the task `name` (unique) until `stop`."""
        if self._stopping:
            raise RuntimeError("the supervisor is stopping")
        if name in self._tasks and not self._tasks[name].done():
            raise ValueError(f"a task named {name!r} is already running")
        self._tasks[name] = asyncio.create_task(self._keep(name, loop, log_extra), name=name)

    async def _keep(self, name: str, loop: Loop, log_extra: dict[str, str]) -> None:
        pause = RESTART_PAUSE
        while not self._stopping:
            began = asyncio.get_running_loop().time()
            try:
                await loop()
                return  # finished on its own: its work is done
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "task %s failed unexpectedly; restarting it in %gs",
                    name,
                    pause,
                    extra=log_extra,
                )
            if asyncio.get_running_loop().time() - began > RESTART_PAUSE_MAX:
                pause = RESTART_PAUSE
            await asyncio.sleep(pause)
            pause = min(pause * 2, RESTART_PAUSE_MAX)

    def running(self) -> list[str]:
        return [name for name, task in self._tasks.items() if not task.done()]

    async def stop(self, grace: float) -> list[str]:
        """Cancel every task and wait for them, `grace` seconds at most; returns the names
        of those still running then (left behind, and logged)."""
        self._stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        pending = {t for t in self._tasks.values() if not t.done()}
        while pending:
            # Cancelled again at each turn: Python 3.11's wait_for can swallow a
            # cancellation that races with its inner future finishing.
            for task in pending:
                task.cancel()
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            _, pending = await asyncio.wait(pending, timeout=min(0.25, remaining))
        left = sorted(t.get_name() for t in pending)
        for name in left:
            log.warning("task %s did not stop within %gs; leaving it behind", name, grace)
        self._tasks.clear()
        return left
