"""Latest snapshot of a cluster plus a short history (the diff needs the one before)."""

from __future__ import annotations

from collections import deque

from kafka_watchdog.model.snapshot import ClusterSnapshot


class SnapshotStore:
    def __init__(self, history: int = 60) -> None:
        self._history: deque[ClusterSnapshot] = deque(maxlen=history)
        # Counts the snapshots that brought news: readers cache what they derive from
        # `latest` by it, so a snapshot that only differs in when it was taken keeps it.
        self.version = 0

    @property
    def latest(self) -> ClusterSnapshot | None:
        return self._history[-1] if self._history else None

    def put(self, snapshot: ClusterSnapshot, news: bool = True) -> ClusterSnapshot | None:
        """Store the newest snapshot; returns the one it replaces (for diffing). `news`
        False: it tells nothing the last one did not (model/incremental.same_content)."""
        previous = self.latest
        self._history.append(snapshot)
        if news:
            self.version += 1
        return previous

    def history(self) -> tuple[ClusterSnapshot, ...]:
        return tuple(self._history)
