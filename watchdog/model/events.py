"""Typed change events: what happened between two snapshots of one cluster.

Each kind of event carries a payload of its own type, so a reader narrows with isinstance
instead of guessing what `before` and `after` hold. Every payload still has `before` and
`after` (the two sides of the change, as a person reads them in the event's detail).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kafka_watchdog.model.snapshot import Broker


class EventKind(StrEnum):
    BROKER_REGISTERED = "broker_registered"
    BROKER_GONE = "broker_gone"
    CONTROLLER_CHANGED = "controller_changed"  # the controller moved to another node
    CONTROLLER_REELECTED = "controller_reelected"  # a new election, the same node won
    ISR_SHRINK = "isr_shrink"  # replicas left the ISR, none joined
    ISR_EXPAND = "isr_expand"  # replicas joined the ISR, none left
    ISR_REPLACED = "isr_replaced"  # in one change, some left and others joined
    LEADER_CHANGED = "leader_changed"
    PARTITION_OFFLINE = "partition_offline"
    PARTITION_ONLINE = "partition_online"
    UNCLEAN_LEADER_ELECTION = "unclean_leader_election"
    LOG_TRUNCATION = "log_truncation"
    REASSIGNMENT_STARTED = "reassignment_started"
    REASSIGNMENT_FINISHED = "reassignment_finished"
    TOPIC_CREATED = "topic_created"
    TOPIC_DELETED = "topic_deleted"
    OFFSET_BEYOND_LOG_END = "offset_beyond_log_end"
    OFFSET_BELOW_LOG_START = "offset_below_log_start"
    LOG_DIR_OFFLINE = "log_dir_offline"
    LOG_DIR_ONLINE = "log_dir_online"


# -- payloads ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrokerChange:
    """broker_registered (before None) and broker_gone (after None)."""

    before: Broker | None
    after: Broker | None


@dataclass(frozen=True, slots=True)
class ControllerChange:
    """controller_changed and controller_reelected: (controller id, epoch) before and
    after; the epoch is None where it is not known."""

    before: tuple[int, int | None]
    after: tuple[int, int | None]


@dataclass(frozen=True, slots=True)
class IsrChange:
    """isr_shrink, isr_expand and isr_replaced: the ISR before and after."""

    before: tuple[int, ...]
    after: tuple[int, ...]

    @property
    def left(self) -> tuple[int, ...]:
        return tuple(r for r in self.before if r not in self.after)

    @property
    def joined(self) -> tuple[int, ...]:
        return tuple(r for r in self.after if r not in self.before)


@dataclass(frozen=True, slots=True)
class LeaderChange:
    """leader_changed, partition_offline, partition_online: leader ids, -1 for none."""

    before: int
    after: int


@dataclass(frozen=True, slots=True)
class UncleanElection:
    """(leader, ISR) before and after an unclean leader election."""

    before: tuple[int, tuple[int, ...]]
    after: tuple[int, tuple[int, ...]]

    @property
    def old_leader(self) -> int:
        return self.before[0]

    @property
    def old_isr(self) -> tuple[int, ...]:
        return self.before[1]

    @property
    def new_leader(self) -> int:
        return self.after[0]


@dataclass(frozen=True, slots=True)
class Truncation:
    """log_truncation: the log end offset before and after it went back."""

    before: int
    after: int

    @property
    def lost(self) -> int:
        return self.before - self.after


@dataclass(frozen=True, slots=True)
class ReplicasChange:
    """reassignment_started and reassignment_finished: the replica list before and after."""

    before: tuple[int, ...]
    after: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TopicChange:
    """topic_created (before None) and topic_deleted (after None): the topic id."""

    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class CommitBeyondEnd:
    """offset_beyond_log_end: the group's committed offset before (None if unknown) and
    after, and the log end it is beyond."""

    before: int | None
    after: int
    log_end: int


@dataclass(frozen=True, slots=True)
class CommitBelowStart:
    """offset_below_log_start: the group's committed offset (before) and the log start that
    passed it (after): the records in between were deleted before the group read them."""

    before: int
    after: int

    @property
    def skipped(self) -> int:
        return self.after - self.before


@dataclass(frozen=True, slots=True)
class LogDirChange:
    """log_dir_offline and log_dir_online: the dir's state before and after (None online,
    else the error: KAFKA_STORAGE_ERROR, or MISSING when the broker no longer lists it), and
    the partitions whose replica on it was lost (offline) or is back (online)."""

    before: str | None
    after: str | None
    path: str
    partitions: tuple[tuple[str, int], ...] = ()


Change = (
    BrokerChange
    | ControllerChange
    | IsrChange
    | LeaderChange
    | UncleanElection
    | Truncation
    | ReplicasChange
    | TopicChange
    | CommitBeyondEnd
    | CommitBelowStart
    | LogDirChange
)

# What counts as what (docs/metrics.md, docs/alerting.md): a replica leaving the ISR is
# counted by isr_shrinks_total and the isr_shrink_rate rule whether others joined in the same
# change or not; a replica joining, by isr_expands_total. A controller election is every new
# controller epoch: controller_changes_total counts those that moved it to another node,
# controller_elections_total all of them, and controller_flapping judges all of them.
ISR_LEFT = (EventKind.ISR_SHRINK, EventKind.ISR_REPLACED)
ISR_JOINED = (EventKind.ISR_EXPAND, EventKind.ISR_REPLACED)
CONTROLLER_ELECTED = (EventKind.CONTROLLER_CHANGED, EventKind.CONTROLLER_REELECTED)

PAYLOAD: dict[EventKind, type[Change]] = {
    EventKind.BROKER_REGISTERED: BrokerChange,
    EventKind.BROKER_GONE: BrokerChange,
    EventKind.CONTROLLER_CHANGED: ControllerChange,
    EventKind.CONTROLLER_REELECTED: ControllerChange,
    EventKind.ISR_SHRINK: IsrChange,
    EventKind.ISR_EXPAND: IsrChange,
    EventKind.ISR_REPLACED: IsrChange,
    EventKind.LEADER_CHANGED: LeaderChange,
    EventKind.PARTITION_OFFLINE: LeaderChange,
    EventKind.PARTITION_ONLINE: LeaderChange,
    EventKind.UNCLEAN_LEADER_ELECTION: UncleanElection,
    EventKind.LOG_TRUNCATION: Truncation,
    EventKind.REASSIGNMENT_STARTED: ReplicasChange,
    EventKind.REASSIGNMENT_FINISHED: ReplicasChange,
    EventKind.TOPIC_CREATED: TopicChange,
    EventKind.TOPIC_DELETED: TopicChange,
    EventKind.OFFSET_BEYOND_LOG_END: CommitBeyondEnd,
    EventKind.OFFSET_BELOW_LOG_START: CommitBelowStart,
    EventKind.LOG_DIR_OFFLINE: LogDirChange,
    EventKind.LOG_DIR_ONLINE: LogDirChange,
}
"""The payload type of each kind of event."""


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    cluster: str
    subject: str  # "broker 2", "orders-3", "group billing orders-3", "controller"
    change: Change  # of type PAYLOAD[kind]
    observed_at: float  # when the watchdog saw the change (the newer snapshot)
    source_time: float | None = None  # when the source wrote it (znode mtime), if known
    topic: str | None = None
    partition: int | None = None
    broker: int | None = None
    group: str | None = None
    detail: str = ""  # one human sentence: what, and what it means

    def __post_init__(self) -> None:
        if not isinstance(self.change, PAYLOAD[self.kind]):
            raise TypeError(
                f"a {self.kind.value} event carries a {PAYLOAD[self.kind].__name__}, "
                f"not a {type(self.change).__name__}"
            )

    @property
    def before(self) -> object:
        return self.change.before

    @property
    def after(self) -> object:
        return self.change.after

    @property
    def delay(self) -> float | None:
        """Detection delay: from the write at the source to the watchdog seeing it."""
        return None if self.source_time is None else self.observed_at - self.source_time
