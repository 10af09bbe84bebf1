"""The alerting store, used from the event loop: every SQLite call runs on one thread of
its own, so a slow disk (synchronous=FULL waits for fsync) never stalls collection or
scrapes. One thread also means one connection used in order: a save of incident state and
the notifications it produced is still one transaction (AlertStore.save)."""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from kafka_watchdog.alerting.store import AlertStore, Pending, StateDirInUse

T = TypeVar("T")
log = logging.getLogger(__name__)

Row = tuple[str, str, dict[str, Any]]  # (receiver, target, payload)


class Outbox:
    """Also the state's health: `error` is why the state is not being kept right now (a
    failed write, a deleted file, an unusable state_dir), None when all is well; it is on
    /readyz and in kafka_watchdog_alerting_state_healthy."""

    def __init__(self, state_dir: Path | None) -> None:
        self.state_dir = state_dir
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerting-db")
        self._store: AlertStore | None = None
        self.write_error: str | None = None  # the last write failed, and why
        self.file_error: str | None = None  # the state file or dir is not usable, and why
        self.write_failures = 0
        self.degraded: str | None = None  # the state_dir could not be used at all

    @property
    def error(self) -> str | None:
        return self.degraded or self.file_error or self.write_error

    @property
    def lost(self) -> str | None:
        return self._store.lost if self._store is not None else None

    @property
    def skipped(self) -> int:
        return self._store.skipped if self._store is not None else 0

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """A write: its failure is recorded (and raised), its success clears the error."""
        try:
            result = await self._run(fn, *args)
        except (sqlite3.Error, OSError) as exc:
            self.write_failures += 1
            first = self.write_error is None
            self.write_error = f"cannot write the alerting state to {self.path}: {exc}"
            (log.error if first else log.debug)("%s (retried)", self.write_error)
            raise
        if self.write_error is not None:
            log.warning("alerting state writable again: %s", self.path)
        self.write_error = None
        return result

    async def check(self) -> str | None:
        """Look at the state file and dir (not only when a write fails)."""
        if self._store is not None:
            self.file_error = await self._run(self._store.healthy)
        return self.error

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
        """Raises StateDirInUse (another daemon has it). A state_dir that cannot be used
        otherwise (read-only, not creatable) leaves alerting running on a store in memory,
        reported as `degraded`: paging matters more than remembering."""
        # The connection is made on the thread that will use it (sqlite3's rule).
        try:
            self._store = await self._run(AlertStore, self.state_dir)
        except StateDirInUse:
            raise
        except (OSError, sqlite3.Error) as exc:
            self.degraded = (
                f"alerting.state_dir {self.state_dir} cannot be used ({exc}); the state is "
                "kept in memory only until it is fixed and the daemon restarted"
            )
            log.error("%s", self.degraded)
            self._store = await self._run(AlertStore, None)

    async def load(self, name: str) -> Any:
        return await self._run(self._require().load, name)

    async def save(self, state: dict[str, Any], rows: Iterable[Row] = (), now: float = 0.0) -> None:
        """State blobs and outbox rows, in one transaction."""
        await self._write(self._require().save, state, list(rows), now)

    async def due(self, now: float) -> list[Pending]:
        return await self._run(self._require().due, now)

    async def pending(self) -> list[Pending]:
        return await self._run(self._require().pending)

    async def delivered(self, row_id: int) -> None:
        await self._write(self._require().delivered, row_id)

    async def failed(self, row_id: int, error: str, next_at: float) -> None:
        await self._write(self._require().failed, row_id, error, next_at)

    async def queued(self) -> dict[str, int]:
        return await self._run(self._require().queued)

    async def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            await self._run(store.close)
        self._executor.shutdown(wait=False)
