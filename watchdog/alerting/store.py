"""Alerting state on disk: incidents, groups, silences, and the notification outbox.

SQLite (the standard library's, one file in `state_dir`) because a crash must neither lose a
queued page nor repeat a sent one: a notification is written to the outbox in the same
transaction as the group state that produced it, and deleted only once delivered. Without
a state_dir the database lives in memory: same behaviour, nothing kept across restarts.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    receiver TEXT NOT NULL,
    target TEXT NOT NULL,      -- which of the receiver's destinations (apprise:0, pagerduty)
    payload TEXT NOT NULL,     -- JSON, as the sender needs it
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_error TEXT
);
"""


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    receiver: str
    target: str
    payload: dict[str, Any]
    created: float
    attempts: int


class StateDirInUse(Exception):
    """Another process holds the state_dir's lock: two daemons would both page."""


class AlertStore:
    """The SQLite file, opened safely: an exclusive lock on the state_dir (two daemons on
    one state_dir would both page), an integrity check (a damaged file is moved aside and
    a fresh one started, with `lost` saying why), rows that cannot be read skipped and
    counted (`skipped`) instead of stopping every later delivery."""

    def __init__(self, state_dir: Path | None) -> None:
        self.lost: str | None = None  # why the previous state was set aside, if it was
        self.skipped = 0  # rows (or items of a state blob) that could not be read
        self._lock_file: IO[str] | None = None
        if state_dir is not None:
            state_dir.mkdir(parents=True, exist_ok=True)
            self._lock(state_dir)
            path = str(state_dir / "alerting.sqlite")
        else:
            path = ":memory:"
        self.path = path
        try:
            self.db = self._connect(path)
        except sqlite3.DatabaseError as exc:
            if path == ":memory:":
                raise
            self.lost = f"{path} is damaged ({exc}); moved aside, starting with fresh state"
            self._move_aside(path)
            self.db = self._connect(path)
        if self.lost:
            log.error("alerting state lost: %s", self.lost)

    def _lock(self, state_dir: Path) -> None:
        lock = (state_dir / "alerting.lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            holder = lock.read().strip()[:100] or "another process"
            lock.close()
            raise StateDirInUse(
                f"alerting.state_dir {state_dir} is in use by {holder}: two daemons on one "
                "state_dir would both page. Give each replica its own state_dir, and use "
                "alerting.ha for several replicas with one notifier"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"kafka-watchdog pid {os.getpid()}\n")
        lock.flush()
        self._lock_file = lock  # held until close (or the process ends)

    @staticmethod
    def _connect(path: str) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None)  # explicit transactions
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            if path != ":memory:":
                problems = [r[0] for r in db.execute("PRAGMA integrity_check(5)").fetchall()]
                if problems != ["ok"]:
                    raise sqlite3.DatabaseError("; ".join(map(str, problems))[:300])
            db.executescript(SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @staticmethod
    def _move_aside(path: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.replace(path + suffix, f"{path}.damaged-{stamp}{suffix}")

    def healthy(self) -> str | None:
        """None when the state file is where it should be, else why not (deleted, a
        directory gone, read-only): SQLite would go on writing to an unlinked file."""
        if self.path == ":memory:":
            return None
        if not os.path.exists(self.path):
            return f"{self.path} was deleted or its directory removed"
        if not os.access(os.path.dirname(self.path), os.W_OK):
            return f"{os.path.dirname(self.path)} is not writable"
        return None

    def close(self) -> None:
        self.db.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def load(self, name: str) -> Any:
        row = self.db.execute("SELECT value FROM state WHERE name = ?", (name,)).fetchone()
        if not row:
            return None
        try:
            return json.loads(row[0])
        except (ValueError, TypeError) as exc:
            self.skipped += 1
            log.error("alerting state %r is unreadable and was skipped: %s", name, exc)
            return None

    def save(
        self,
        state: dict[str, Any],
        notifications: Iterable[tuple[str, str, dict[str, Any]]] = (),
        now: float = 0.0,
    ) -> None:
        """Write state blobs and enqueue (receiver, target, payload) rows atomically."""
        with self._transaction():
            for name, value in state.items():
                self.db.execute(
                    "INSERT INTO state (name, value) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (name, json.dumps(value, separators=(",", ":"))),
                )
            for receiver, target, payload in notifications:
                self.db.execute(
                    "INSERT INTO outbox (receiver, target, payload, created, next_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (receiver, target, json.dumps(payload), now, now),
                )

    def _transaction(self) -> _Tx:
        return _Tx(self.db)

    def due(self, now: float) -> list[Pending]:
        """The oldest undelivered row of each (receiver, target), if it is due: rows of one
        destination go out in order (a resolve never overtakes its trigger)."""
        while True:
            rows = self.db.execute(
                "SELECT id, receiver, target, payload, created, attempts, next_at FROM outbox o "
                "WHERE id = (SELECT MIN(id) FROM outbox i "
                "            WHERE i.receiver = o.receiver AND i.target = o.target) "
                "ORDER BY id"
            ).fetchall()
            good, bad = self._parse(rows)
            if not bad:
                return [p for p, r in zip(good, rows, strict=True) if r[6] <= now]
            # A row that cannot be read would hold up its destination for good: skip it.
            for row_id in bad:
                self.db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    def pending(self) -> list[Pending]:
        """Every undelivered row, oldest first (for a replica taking over)."""
        rows = self.db.execute(
            "SELECT id, receiver, target, payload, created, attempts FROM outbox ORDER BY id"
        ).fetchall()
        return self._parse(rows)[0]

    def _parse(self, rows: list[Any]) -> tuple[list[Pending], list[int]]:
        good: list[Pending] = []
        bad: list[int] = []
        for r in rows:
            try:
                payload = json.loads(r[3])
                if not isinstance(payload, dict):
                    raise ValueError("not an object")
                good.append(
                    Pending(int(r[0]), str(r[1]), str(r[2]), payload, float(r[4]), int(r[5]))
                )
            except (ValueError, TypeError) as exc:
                self.skipped += 1
                bad.append(r[0])
                log.error(
                    "outbox row %s (to %s) is unreadable and was skipped: %s",
                    r[0],
                    str(r[1])[:64],
                    str(exc)[:200],
                )
        return good, bad

    def delivered(self, row_id: int) -> None:
        self.db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    def failed(self, row_id: int, error: str, next_at: float) -> None:
        self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE id = ?",
            (error[:500], next_at, row_id),
        )

    def queued(self) -> dict[str, int]:
        return dict(
            self.db.execute("SELECT receiver, COUNT(*) FROM outbox GROUP BY receiver").fetchall()
        )


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if kind is not None else "COMMIT")
