"""How well each source of each cluster is doing: drives /readyz, `up` and the self metrics.

Pure state updated by the collection loops; time is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class SourceHealth:
    """One source (admin, zookeeper) of one cluster."""

    source: str
    last_attempt: float | None = None
    last_success: float | None = None
    last_duration: float | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    errors_total: int = 0
    attempts_total: int = 0

    def succeeded(self, started: float, finished: float) -> None:
        self.attempts_total += 1
        self.last_attempt = started
        self.last_success = finished
        self.last_duration = finished - started
        self.last_error = None
        self.consecutive_failures = 0

    def failed(self, started: float, finished: float, error: str) -> None:
        self.attempts_total += 1
        self.errors_total += 1
        self.last_attempt = started
        self.last_duration = finished - started
        self.last_error = error
        self.consecutive_failures += 1

    def fresh(self, now: float, stale_after: float) -> bool:
        return self.last_success is not None and now - self.last_success <= stale_after


@dataclass(slots=True)
class ClusterHealth:
    cluster: str
    admin: SourceHealth = field(default_factory=lambda: SourceHealth("admin"))
    zookeeper: SourceHealth | None = None
    zookeeper_state: str | None = None  # CONNECTED / SUSPENDED / LOST / CONNECTING

    def sources(self) -> list[SourceHealth]:
        return [self.admin] + ([self.zookeeper] if self.zookeeper else [])

    def ready(self, now: float, stale_after: float) -> tuple[bool, str]:
        """Ready means a fresh Admin API view; ZooKeeper trouble degrades but does not block."""
        if self.admin.fresh(now, stale_after):
            return True, "fresh"
        if self.admin.last_success is None:
            why = self.admin.last_error or "no collection has finished yet"
            return False, f"no view of the cluster yet: {why}"
        age = now - self.admin.last_success
        why = f"; last error: {self.admin.last_error}" if self.admin.last_error else ""
        return False, f"view is {age:.0f}s old (stale after {stale_after:.0f}s){why}"
