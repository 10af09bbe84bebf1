"""Latest snapshot of a cluster plus a short history (the diff needs the one before)."""

from __future__ import annotations

from collections import deque

from kafka_watchdog.model.snapshot import ClusterSnapshot


class SnapshotStore:
    def __init__(self, history: int = 60) -> None:
        self._history: deque[ClusterSnapshot] = deque(maxlen=history)
        self.version = 0  # counts puts: readers cache what they derive from `latest` by it

    @property
    def latest(self) -> ClusterSnapshot | None:
        return self._history[-1] if self._history else None

    def put(self, snapshot: ClusterSnapshot) -> ClusterSnapshot | None:
        """Store the newest snapshot; returns the one it replaces (for diffing)."""
        previous = self.latest
        self._history.append(snapshot)
        self.version += 1
        return previous

    def history(self) -> tuple[ClusterSnapshot, ...]:
        return tuple(self._history)
