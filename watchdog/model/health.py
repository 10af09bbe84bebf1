"""How well each collection stage of each cluster is doing: drives /readyz, `up` and the
self metrics. Immutable values: a collection loop replaces its cluster's health with the
answer of `succeeded`/`failed` and publishes it; time is always passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from kafka_watchdog.model.snapshot import frozen_map

# The reason of a failure whose answer was lost with the Admin API worker (sources'
# kafka_errors.WORKER).
WORKER = "worker"

# stage -> source. The metadata stage is what readiness is judged on: it is the view.
STAGES = {
    "metadata": "admin",
    "offsets": "admin",
    "groups": "admin",
    "configs": "admin",
    "quorum": "admin",
    "logdirs": "admin",
    "zookeeper": "zookeeper",
}


@dataclass(frozen=True, slots=True)
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
    # The first failed attempt since the last success: how long the stage has been blind.
    failing_since: float | None = None
    # The last attempt answered in part (some groups or topics refused or unreachable): the
    # rest of its answer was used, the parts it lacked keep their last known state.
    partial: bool = False
    partial_total: int = 0  # attempts that answered in part (they count as errors too)
    # Attempts whose answer was lost because the Admin API worker died or hung meanwhile.
    lost_total: int = 0

    @property
    def source(self) -> str:
        return STAGES.get(self.stage, "admin")

    def succeeded(self, started: float, finished: float) -> SourceHealth:
        return replace(
            self,
            attempts_total=self.attempts_total + 1,
            last_attempt=started,
            last_success=finished,
            last_duration=finished - started,
            last_error=None,
            last_reason=None,
            consecutive_failures=0,
            failing_since=None,
            partial=False,
        )

    def failed(
        self,
        started: float,
        finished: float,
        error: str,
        reason: str = "error",
        *,
        partial: bool = False,
    ) -> SourceHealth:
        """A failed attempt; `partial`: it answered for part of the cluster."""
        return replace(
            self,
            attempts_total=self.attempts_total + 1,
            errors_total=self.errors_total + 1,
            last_attempt=started,
            last_duration=finished - started,
            last_error=error,
            last_reason=reason,
            consecutive_failures=self.consecutive_failures + 1,
            failing_since=self.failing_since if self.consecutive_failures else started,
            partial=partial,
            partial_total=self.partial_total + (1 if partial else 0),
            lost_total=self.lost_total + (1 if reason == WORKER else 0),
        )

    def fresh(self, now: float, stale_after: float) -> bool:
        return self.last_success is not None and now - self.last_success <= stale_after


@dataclass(frozen=True, slots=True)
class ClusterHealth:
    cluster: str
    zookeeper_configured: bool = False
    stages: Mapping[str, SourceHealth] = field(default_factory=frozen_map)
    zookeeper_state: str | None = None  # CONNECTED / SUSPENDED / LOST / CONNECTING

    def __post_init__(self) -> None:
        if not self.stages:  # a new cluster: every stage it has, never tried
            wanted = [s for s in STAGES if s != "zookeeper" or self.zookeeper_configured]
            object.__setattr__(self, "stages", frozen_map({s: SourceHealth(s) for s in wanted}))

    @property
    def admin(self) -> SourceHealth:
        return self.stages["metadata"]

    @property
    def zookeeper(self) -> SourceHealth | None:
        return self.stages.get("zookeeper")

    def sources(self) -> list[SourceHealth]:
        return list(self.stages.values())

    def with_stage(self, health: SourceHealth) -> ClusterHealth:
        return replace(self, stages=frozen_map({**self.stages, health.stage: health}))

    def with_zookeeper_state(self, state: str) -> ClusterHealth:
        return replace(self, zookeeper_state=state)

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
