"""What each cluster's collection loop publishes, and the board readers find it on.

A `ClusterState` is immutable: the loop builds a new one whenever something it knows
changes (a snapshot, a stage's health, the ZooKeeper session) and puts it on the
`ClusterBoard` in one assignment. The metrics, the web handlers and the alert rules read the
board, never the loop: whatever they hold stays consistent however long they hold it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from kafka_watchdog.model.assessment import Assessment
from kafka_watchdog.model.disks import BrokerDisks
from kafka_watchdog.model.events import Event, EventKind
from kafka_watchdog.model.foresight import GroupForesight
from kafka_watchdog.model.health import ClusterHealth
from kafka_watchdog.model.lag import GroupLag
from kafka_watchdog.model.lag_history import LagSeries
from kafka_watchdog.model.snapshot import ClusterSnapshot, frozen_map
from kafka_watchdog.model.unknown import NOTHING_UNKNOWN, Unknowns


@dataclass(frozen=True, slots=True)
class ClusterState:
    name: str
    health: ClusterHealth  # of each collection stage, and the ZooKeeper session
    stale_after: float  # a view older than this is not ready (collection.stale_after)
    snapshot: ClusterSnapshot | None = None  # None until the first view
    assessment: Assessment | None = None  # of `snapshot`: partition health, hazards
    # Counts the snapshots: everything below changes only with a new one, so readers
    # cache what they derive from a state by its version.
    version: int = 0
    events: tuple[Event, ...] = ()  # the latest events since the start, oldest first
    # (event kind, topic or "") -> events seen since the start; a deleted topic's go with it.
    event_counts: Mapping[tuple[str, str], int] = field(default_factory=frozen_map)
    lag: Mapping[str, GroupLag] = field(default_factory=frozen_map)
    lag_races: Mapping[str, int] = field(default_factory=frozen_map)  # commits past the end read
    # Every broker ever seen registered or holding a replica: one that vanishes stays
    # visible (broker_up 0, broker_gone) instead of silently dropping out.
    known_brokers: frozenset[int] = frozenset()
    zookeeper_malformed: int = 0  # znodes skipped because their data could not be parsed
    # What the stages could not answer for, and since when: those parts keep their last
    # known state in the snapshot and the lag, and alerts about them hold their state.
    unknown: Unknowns = NOTHING_UNKNOWN
    # When the events above begin (the watcher's start): older ones are not known.
    events_since: float = 0.0
    # Admin API worker processes replaced, by why they ended (abort, killed, exited, hung).
    admin_worker_restarts: Mapping[str, int] = field(default_factory=frozen_map)
    # Lag foresight of each group (time to catch up, retention risk), its lag over the last
    # hour, and the records deleted before it read them: (group, topic) -> records.
    foresight: Mapping[str, GroupForesight] = field(default_factory=frozen_map)
    lag_history: Mapping[str, LagSeries] = field(default_factory=frozen_map)
    records_skipped: Mapping[tuple[str, str], int] = field(default_factory=frozen_map)
    # Each broker's log dirs (DescribeLogDirs), the last known ones for a broker that does
    # not answer; empty until the first round.
    log_dirs: Mapping[int, BrokerDisks] = field(default_factory=frozen_map)

    def ready(self, now: float) -> tuple[bool, str]:
        return self.health.ready(now, self.stale_after)

    @property
    def zookeeper_state(self) -> str | None:
        """None without ZooKeeper; CONNECTING until the first session state is known."""
        if self.health.zookeeper is None:
            return None
        return self.health.zookeeper_state or "CONNECTING"

    def event_count(self, kind: EventKind, topic: str = "") -> int:
        return self.event_counts.get((kind.value, topic), 0)


class ClusterBoard:
    """The latest published state of each watched cluster, in the order they first
    published (each watcher publishes once when it is made: the config's order)."""

    def __init__(self, initial: Iterable[ClusterState] = ()) -> None:
        self._states = {state.name: state for state in initial}

    def publish(self, state: ClusterState) -> None:
        self._states[state.name] = state

    def get(self, name: str) -> ClusterState | None:
        return self._states.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._states)

    def states(self) -> tuple[ClusterState, ...]:
        return tuple(self._states.values())

    def __iter__(self) -> Iterator[ClusterState]:
        return iter(self.states())

    def __len__(self) -> int:
        return len(self._states)
