"""Typed change events: what happened between two snapshots of one cluster."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    BROKER_REGISTERED = "broker_registered"
    BROKER_GONE = "broker_gone"
    CONTROLLER_CHANGED = "controller_changed"
    ISR_SHRINK = "isr_shrink"
    ISR_EXPAND = "isr_expand"
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


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    cluster: str
    subject: str  # "broker 2", "orders-3", "group billing orders-3", "controller"
    before: object
    after: object
    observed_at: float  # when the watchdog saw the change (the newer snapshot)
    source_time: float | None = None  # when the source wrote it (znode mtime), if known
    topic: str | None = None
    partition: int | None = None
    broker: int | None = None
    group: str | None = None
    detail: str = ""  # one human sentence: what, and what it means

    @property
    def delay(self) -> float | None:
        """Detection delay: from the write at the source to the watchdog seeing it."""
        return None if self.source_time is None else self.observed_at - self.source_time
