"""How well each collection stage of each cluster is doing: drives /readyz, `up` and the
self metrics. Pure state updated by the collection loops; time is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# stage -> source. The metadata stage is what readiness is judged on: it is the view.
STAGES = {
    "metadata": "admin",
    "offsets": "admin",
    "groups": "admin",
    "configs": "admin",
    "quorum": "admin",
    "zookeeper": "zookeeper",
}


@dataclass(slots=True)
class SourceHealth:
    """One collection stage (metadata, offsets, ...) of one cluster."""

    stage: str
    last_attempt: float | None = None
    last_success: float | None = None
    last_duration: float | None = None
    last_error: str | None = None
    # One word for why the last attempt failed (authentication, tls, authorization,
    # unreachable, timeout, error); None after a success.
    last_reason: str | None = None
    consecutive_failures: int = 0
    errors_total: int = 0
    attempts_total: int = 0

    @property
    def source(self) -> str:
        return STAGES.get(self.stage, "admin")

    def succeeded(self, started: float, finished: float) -> None:
        self.attempts_total += 1
        self.last_attempt = started
        self.last_success = finished
        self.last_duration = finished - started
        self.last_error = None
        self.last_reason = None
        self.consecutive_failures = 0

    def failed(self, started: float, finished: float, error: str, reason: str = "error") -> None:
        self.attempts_total += 1
        self.errors_total += 1
        self.last_attempt = started
        self.last_duration = finished - started
        self.last_error = error
        self.last_reason = reason
        self.consecutive_failures += 1

    def fresh(self, now: float, stale_after: float) -> bool:
        return self.last_success is not None and now - self.last_success <= stale_after


@dataclass(slots=True)
class ClusterHealth:
    cluster: str
    zookeeper_configured: bool = False
    stages: dict[str, SourceHealth] = field(default_factory=dict)
    zookeeper_state: str | None = None  # CONNECTED / SUSPENDED / LOST / CONNECTING

    def __post_init__(self) -> None:
        for stage in STAGES:
            if stage != "zookeeper" or self.zookeeper_configured:
                self.stages.setdefault(stage, SourceHealth(stage))

    @property
    def admin(self) -> SourceHealth:
        return self.stages["metadata"]

    @property
    def zookeeper(self) -> SourceHealth | None:
        return self.stages.get("zookeeper")

    def sources(self) -> list[SourceHealth]:
        return list(self.stages.values())

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
