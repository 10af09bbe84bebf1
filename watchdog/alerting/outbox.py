"""The alerting store, used from the event loop: every SQLite call runs on one thread of
its own, so a slow disk (synchronous=FULL waits for fsync) never stalls collection or
scrapes. One thread also means one connection used in order: a save of incident state and
the notifications it produced is still one transaction (AlertStore.save)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from kafka_watchdog.alerting.store import AlertStore, Pending

T = TypeVar("T")

Row = tuple[str, str, dict[str, Any]]  # (receiver, target, payload)


class Outbox:
    def __init__(self, state_dir: Path | None) -> None:
        self.state_dir = state_dir
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerting-db")
        self._store: AlertStore | None = None

    @property
    def path(self) -> str:
        return self._store.path if self._store is not None else "(not open)"

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def _require(self) -> AlertStore:
        if self._store is None:
            raise RuntimeError("Outbox.open() was not called")
        return self._store

    async def open(self) -> None:
        # The connection is made on the thread that will use it (sqlite3's rule).
        self._store = await self._run(AlertStore, self.state_dir)

    async def load(self, name: str) -> Any:
        return await self._run(self._require().load, name)

    async def save(self, state: dict[str, Any], rows: Iterable[Row] = (), now: float = 0.0) -> None:
        """State blobs and outbox rows, in one transaction."""
        await self._run(self._require().save, state, list(rows), now)

    async def due(self, now: float) -> list[Pending]:
        return await self._run(self._require().due, now)

    async def pending(self) -> list[Pending]:
        return await self._run(self._require().pending)

    async def delivered(self, row_id: int) -> None:
        await self._run(self._require().delivered, row_id)

    async def failed(self, row_id: int, error: str, next_at: float) -> None:
        await self._run(self._require().failed, row_id, error, next_at)

    async def queued(self) -> dict[str, int]:
        return await self._run(self._require().queued)

    async def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            await self._run(store.close)
        self._executor.shutdown(wait=False)
