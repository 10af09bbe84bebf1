"""Alerting state on disk: incidents, groups, silences, and the notification outbox.

SQLite (the standard library's, one file in `state_dir`) because a crash must neither lose a
queued page nor repeat a sent one: a notification is written to the outbox in the same
transaction as the group state that produced it, and deleted only once delivered. Without
a state_dir the database lives in memory: same behaviour, nothing kept across restarts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class AlertStore:
    def __init__(self, state_dir: Path | None) -> None:
        if state_dir is not None:
            state_dir.mkdir(parents=True, exist_ok=True)
            path = str(state_dir / "alerting.sqlite")
        else:
            path = ":memory:"
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)  # explicit transactions
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def load(self, name: str) -> Any:
        row = self.db.execute("SELECT value FROM state WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

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
        rows = self.db.execute(
            "SELECT id, receiver, target, payload, created, attempts, next_at FROM outbox o "
            "WHERE id = (SELECT MIN(id) FROM outbox i "
            "            WHERE i.receiver = o.receiver AND i.target = o.target) "
            "ORDER BY id"
        ).fetchall()
        return [
            Pending(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows if r[6] <= now
        ]

    def pending(self) -> list[Pending]:
        """Every undelivered row, oldest first (for a replica taking over)."""
        rows = self.db.execute(
            "SELECT id, receiver, target, payload, created, attempts FROM outbox ORDER BY id"
        ).fetchall()
        return [Pending(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

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
