"""diff(previous, current) -> the typed events that happened in between. Pure.

Judgement calls, each for a reason:
- The first snapshot yields no events: nothing is known to have *changed*; detectors judge the
  state itself (an offline partition at start-up is reported as offline, not as a change).
- An unclean leader election is a new leader that was not in the last known ISR, or the
  controller marking the partition RECOVERING (leader_recovery_state, KIP-704).
- A log end offset (high watermark) going backwards is a truncation, except right after a
  clean leader change: a new leader's high watermark may trail its predecessor's until the
  followers fetch again, and it holds every committed record, so nothing was lost.
- A topic whose id changed was deleted and recreated: its offsets restart, which is no loss.
- A leader change may pass through a moment with no leader: the controller writes leader -1
  first (its election failed, or ran after the dead leader was taken out of the ISR) and the
  new leader later, so the snapshots show A -> -1 [-> -1 ...] -> B. That is a leader change
  from A to B as much as A -> B is, reported when the partition comes back (next to
  partition_online). Two snapshots cannot tell it, so `diff` takes `last_leaders`: the leader
  each offline partition had before it went offline (`remember_leaders` carries it from one
  snapshot to the next; `Differ` does both). A partition already offline when the watchdog
  started has no known previous leader: it comes back online, and no change is claimed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kafka_watchdog.model.events import (
    BrokerChange,
    Change,
    CommitBelowStart,
    CommitBeyondEnd,
    ControllerChange,
    Event,
    EventKind,
    IsrChange,
    LeaderChange,
    ReplicasChange,
    TopicChange,
    Truncation,
    UncleanElection,
)
from kafka_watchdog.model.snapshot import (
    ClusterSnapshot,
    LeaderRecovery,
    PartitionState,
    TopicState,
    frozen_map,
)

# (topic, partition) of each offline partition -> the leader it had before it went offline.
LastLeaders = Mapping[tuple[str, int], int]
NO_LEADERS: LastLeaders = frozen_map()


def diff(
    previous: ClusterSnapshot | None,
    current: ClusterSnapshot,
    last_leaders: LastLeaders = NO_LEADERS,
) -> list[Event]:
    if previous is None:
        return []
    return [
        *_brokers(previous, current),
        *_controller(previous, current),
        *_topics(previous, current, last_leaders),
        *_groups(previous, current),
    ]


def remember_leaders(
    last_leaders: LastLeaders, previous: ClusterSnapshot | None, current: ClusterSnapshot
) -> LastLeaders:
    """The `last_leaders` to diff `current`'s successor with: for every partition offline in
    `current`, the leader it had before its offline spell began, when the watchdog saw it."""
    if previous is None:
        return NO_LEADERS
    kept: dict[tuple[str, int], int] = {}
    # A topic that is the very object `previous` held changed in nothing: its offline
    # partitions' spells go on, and what was remembered of them stands. Only the topics
    # that changed are looked at (model/incremental.py).
    unchanged = {
        name for name, topic in current.topics.items() if previous.topics.get(name) is topic
    }
    for key, leader in last_leaders.items():
        if key[0] in unchanged:
            kept[key] = leader
    for topic in current.topics.values():
        if topic.name in unchanged:
            continue
        old_topic = previous.topics.get(topic.name)
        if old_topic is None or _recreated(old_topic, topic):
            continue  # a new topic (or a new incarnation): no leader of it was seen before
        for p in topic.partitions:
            if not p.offline:
                continue
            key = (p.topic, p.partition)
            before = previous.partition(p.topic, p.partition)
            if before is None:
                continue
            if not before.offline:
                kept[key] = before.leader  # the spell begins now
            elif key in last_leaders:
                kept[key] = last_leaders[key]  # the spell goes on
    return frozen_map(kept) if kept else NO_LEADERS


class Differ:
    """`diff` with the memory it needs across snapshots (see `remember_leaders`); one per
    watched cluster, fed every snapshot in order."""

    def __init__(self) -> None:
        self.last_leaders: LastLeaders = NO_LEADERS

    def __call__(self, previous: ClusterSnapshot | None, current: ClusterSnapshot) -> list[Event]:
        events = diff(previous, current, self.last_leaders)
        self.last_leaders = remember_leaders(self.last_leaders, previous, current)
        return events


def _event(
    curr: ClusterSnapshot,
    kind: EventKind,
    subject: str,
    change: Change,
    detail: str,
    *,
    topic: str | None = None,
    partition: int | None = None,
    broker: int | None = None,
    group: str | None = None,
    source_time: float | None = None,
) -> Event:
    return Event(
        kind=kind,
        cluster=curr.cluster,
        subject=subject,
        change=change,
        observed_at=curr.taken_at,
        source_time=source_time,
        topic=topic,
        partition=partition,
        broker=broker,
        group=group,
        detail=detail,
    )


def _brokers(prev: ClusterSnapshot, curr: ClusterSnapshot) -> Iterator[Event]:
    for broker_id in sorted(prev.brokers.keys() - curr.brokers.keys()):
        broker = prev.brokers[broker_id]
        yield _event(
            curr,
            EventKind.BROKER_GONE,
            f"broker {broker_id}",
            BrokerChange(broker, None),
            f"broker {broker_id} ({broker.host}:{broker.port}) left the cluster",
            broker=broker_id,
        )
    for broker_id in sorted(curr.brokers.keys() - prev.brokers.keys()):
        broker = curr.brokers[broker_id]
        yield _event(
            curr,
            EventKind.BROKER_REGISTERED,
            f"broker {broker_id}",
            BrokerChange(None, broker),
            f"broker {broker_id} ({broker.host}:{broker.port}) registered",
            broker=broker_id,
        )


def _controller(prev: ClusterSnapshot, curr: ClusterSnapshot) -> Iterator[Event]:
    """A new controller node is a move; a new epoch on the same node is a re-election (the
    quorum or ZooKeeper elected again and the same node won: the controller was briefly
    unavailable, but did not move)."""
    if curr.controller_id is None or prev.controller_id is None:
        return  # unknown on one side: no claim either way
    before = (prev.controller_id, prev.controller_epoch)
    after = (curr.controller_id, curr.controller_epoch)
    if before == after:
        return
    epochs = (
        f" (epoch {prev.controller_epoch} -> {curr.controller_epoch})"
        if curr.controller_epoch is not None
        else ""
    )
    if curr.controller_id != prev.controller_id:
        kind = EventKind.CONTROLLER_CHANGED
        detail = f"controller moved from {prev.controller_id} to {curr.controller_id}{epochs}"
    elif prev.controller_epoch is not None and curr.controller_epoch is not None:
        kind = EventKind.CONTROLLER_REELECTED
        detail = f"controller re-elected on {curr.controller_id}{epochs}"
    else:
        return  # the same node, an epoch known on one side only: nothing is known to change
    yield _event(
        curr, kind, "controller", ControllerChange(before, after), detail, broker=curr.controller_id
    )


def _recreated(old: TopicState, new: TopicState) -> bool:
    return old.topic_id is not None and new.topic_id is not None and old.topic_id != new.topic_id


def _topics(
    prev: ClusterSnapshot, curr: ClusterSnapshot, last_leaders: LastLeaders
) -> Iterator[Event]:
    for name in sorted(prev.topics.keys() | curr.topics.keys()):
        old, new = prev.topics.get(name), curr.topics.get(name)
        recreated = old is not None and new is not None and _recreated(old, new)
        if old is not None and (new is None or recreated):
            yield _event(
                curr,
                EventKind.TOPIC_DELETED,
                name,
                TopicChange(old.topic_id, None),
                f"topic {name} was deleted",
                topic=name,
            )
        if new is not None and (old is None or recreated):
            yield _event(
                curr,
                EventKind.TOPIC_CREATED,
                name,
                TopicChange(None, new.topic_id),
                f"topic {name} was created with {len(new.partitions)} partitions",
                topic=name,
            )
        if old is None or new is None or recreated or old is new:
            continue  # the same object: nothing in it changed (model/incremental.py)
        for before in old.partitions:
            after = curr.partition(name, before.partition)
            if after is not None and after is not before:
                last_leader = last_leaders.get((name, before.partition))
                yield from _partition(curr, before, after, last_leader)


def _partition(
    curr: ClusterSnapshot, old: PartitionState, new: PartitionState, last_leader: int | None
) -> Iterator[Event]:
    """`last_leader`: when `old` is offline, the leader it had before (None if unknown)."""
    subject = f"{new.topic}-{new.partition}"

    def event(kind: EventKind, change: Change, detail: str) -> Event:
        return _event(
            curr,
            kind,
            subject,
            change,
            detail,
            topic=new.topic,
            partition=new.partition,
            source_time=new.source_time,
        )

    isr = IsrChange(old.isr, new.isr)
    removed, added = list(isr.left), list(isr.joined)
    if removed and added:
        # One change, one event (an unclean election replaces [1] by [2]): it says both.
        yield event(
            EventKind.ISR_REPLACED,
            isr,
            f"{subject}: ISR changed from {list(old.isr)} to {list(new.isr)} "
            f"(out: {removed}, in: {added})",
        )
    elif removed:
        yield event(
            EventKind.ISR_SHRINK,
            isr,
            f"{subject}: ISR shrank from {list(old.isr)} to {list(new.isr)} (out: {removed})",
        )
    elif added:
        yield event(
            EventKind.ISR_EXPAND,
            isr,
            f"{subject}: ISR grew from {list(old.isr)} to {list(new.isr)} (back: {added})",
        )

    leader_changed = old.leader != new.leader
    if leader_changed and new.offline:
        yield event(
            EventKind.PARTITION_OFFLINE,
            LeaderChange(old.leader, new.leader),
            f"{subject} is offline: no leader (last leader {old.leader}, ISR {list(new.isr)})",
        )
    elif leader_changed and old.offline:
        if last_leader is None:
            before_spell = ""
        elif last_leader == new.leader:
            before_spell = ", the leader it had before it went offline"
        else:
            before_spell = f" (leader {last_leader} before it went offline)"
        yield event(
            EventKind.PARTITION_ONLINE,
            LeaderChange(old.leader, new.leader),
            f"{subject} is back online with leader {new.leader}{before_spell}",
        )
        if last_leader is not None and last_leader != new.leader:
            yield event(
                EventKind.LEADER_CHANGED,
                LeaderChange(last_leader, new.leader),
                f"{subject}: leader moved from {last_leader} to {new.leader} "
                "(through a moment with no leader)",
            )
    elif leader_changed:
        yield event(
            EventKind.LEADER_CHANGED,
            LeaderChange(old.leader, new.leader),
            f"{subject}: leader moved from {old.leader} to {new.leader}",
        )

    unclean = False
    if leader_changed and not new.offline and new.leader not in old.isr:
        unclean = True
        yield event(
            EventKind.UNCLEAN_LEADER_ELECTION,
            UncleanElection((old.leader, old.isr), (new.leader, new.isr)),
            f"{subject}: unclean leader election: new leader {new.leader} was not in the last "
            f"known ISR {list(old.isr)}; records it had not replicated are lost",
        )
    elif (
        new.leader_recovery is LeaderRecovery.RECOVERING
        and old.leader_recovery is not LeaderRecovery.RECOVERING
    ):
        unclean = True
        yield event(
            EventKind.UNCLEAN_LEADER_ELECTION,
            UncleanElection((old.leader, old.isr), (new.leader, new.isr)),
            f"{subject}: unclean leader election: the controller marked leader {new.leader} "
            "RECOVERING",
        )

    if (
        old.log_end_offset is not None
        and new.log_end_offset is not None
        and new.log_end_offset < old.log_end_offset
        and (unclean or not leader_changed)
    ):
        lost = old.log_end_offset - new.log_end_offset
        yield event(
            EventKind.LOG_TRUNCATION,
            Truncation(old.log_end_offset, new.log_end_offset),
            f"{subject}: log end offset went back from {old.log_end_offset} to "
            f"{new.log_end_offset}: {lost} records lost",
        )

    if not (old.adding_replicas or old.removing_replicas) and (
        new.adding_replicas or new.removing_replicas
    ):
        yield event(
            EventKind.REASSIGNMENT_STARTED,
            ReplicasChange(old.replicas, new.replicas),
            f"{subject}: reassignment started (adding {list(new.adding_replicas)}, "
            f"removing {list(new.removing_replicas)})",
        )
    elif (old.adding_replicas or old.removing_replicas) and not (
        new.adding_replicas or new.removing_replicas
    ):
        yield event(
            EventKind.REASSIGNMENT_FINISHED,
            ReplicasChange(old.replicas, new.replicas),
            f"{subject}: reassignment finished, replicas now {list(new.replicas)}",
        )


def _log_ends_moved(prev: ClusterSnapshot, curr: ClusterSnapshot) -> bool:
    """Whether any partition's log end differs between the two (only topics that are not
    the same object are looked at)."""
    for name, topic in curr.topics.items():
        old = prev.topics.get(name)
        if old is topic:
            continue
        if old is None or len(old.partitions) != len(topic.partitions):
            return True
        if any(
            a.log_end_offset != b.log_end_offset
            for a, b in zip(old.partitions, topic.partitions, strict=True)
        ):
            return True
    return False


def _groups(prev: ClusterSnapshot, curr: ClusterSnapshot) -> Iterator[Event]:
    # A commit beyond the log end can only appear when a commit or a log end moved: with
    # the same groups and the same log ends (a ZooKeeper burst, a metadata cycle) there is
    # nothing to look at, and the groups' thousands of offsets are not walked.
    if curr.groups is prev.groups and not _log_ends_moved(prev, curr):
        return
    for group_id in sorted(curr.groups):
        group = curr.groups[group_id]
        before = prev.groups.get(group_id)
        for (topic, partition), committed in sorted(group.offsets.items()):
            state = curr.partition(topic, partition)
            below = _below_start(prev, curr, group_id, topic, partition, committed)
            if below is not None:
                yield below
            if state is None or state.log_end_offset is None or committed <= state.log_end_offset:
                continue
            old_state = prev.partition(topic, partition)
            old_committed = before.offsets.get((topic, partition)) if before else None
            was_beyond = (
                old_committed is not None
                and old_state is not None
                and old_state.log_end_offset is not None
                and old_committed > old_state.log_end_offset
            )
            if was_beyond:
                continue
            yield _event(
                curr,
                EventKind.OFFSET_BEYOND_LOG_END,
                f"group {group_id} {topic}-{partition}",
                CommitBeyondEnd(old_committed, committed, state.log_end_offset),
                f"group {group_id} committed {committed} on {topic}-{partition} but the "
                f"log ends at {state.log_end_offset}: its next fetch resets the offset "
                "(auto.offset.reset)",
                topic=topic,
                partition=partition,
                group=group_id,
            )


def _start_passed(snap: ClusterSnapshot, group_id: str, topic: str, partition: int) -> bool:
    group = snap.groups.get(group_id)
    committed = group.offsets.get((topic, partition)) if group is not None else None
    state = snap.partition(topic, partition)
    return (
        committed is not None
        and state is not None
        and state.log_start_offset is not None
        and committed < state.log_start_offset
    )


def _below_start(
    prev: ClusterSnapshot,
    curr: ClusterSnapshot,
    group_id: str,
    topic: str,
    partition: int,
    committed: int,
) -> Event | None:
    """offset_below_log_start when the log start passes a group's committed offset: the
    records in between were deleted before the group read them (once per spell)."""
    if not _start_passed(curr, group_id, topic, partition):
        return None
    if _start_passed(prev, group_id, topic, partition):
        return None
    state = curr.partition(topic, partition)
    assert state is not None and state.log_start_offset is not None
    start = state.log_start_offset
    return _event(
        curr,
        EventKind.OFFSET_BELOW_LOG_START,
        f"group {group_id} {topic}-{partition}",
        CommitBelowStart(committed, start),
        f"group {group_id} committed {committed} on {topic}-{partition} but the log now "
        f"starts at {start}: {start - committed} records were deleted by retention before "
        "the group read them (its next fetch resets: auto.offset.reset)",
        topic=topic,
        partition=partition,
        group=group_id,
    )


def records_skipped(
    prev: ClusterSnapshot | None, curr: ClusterSnapshot
) -> dict[tuple[str, str], int]:
    """(group, topic) -> records deleted unread between the two snapshots: the distance the
    log start moved past each group's committed offset since `prev` (counted once, however
    long the group stays behind)."""
    out: dict[tuple[str, str], int] = {}
    for group_id, group in curr.groups.items():
        before = prev.groups.get(group_id) if prev is not None else None
        for (topic, partition), committed in group.offsets.items():
            state = curr.partition(topic, partition)
            if state is None or state.log_start_offset is None:
                continue
            start = state.log_start_offset
            if committed >= start:
                continue
            counted = committed
            old_state = prev.partition(topic, partition) if prev is not None else None
            old_committed = before.offsets.get((topic, partition)) if before else None
            if (
                old_committed is not None
                and old_state is not None
                and old_state.log_start_offset is not None
                and old_committed < old_state.log_start_offset
            ):
                # Already behind then: what lay below that log start was counted.
                counted = max(committed, old_state.log_start_offset)
            if start > counted:
                key = (group_id, topic)
                out[key] = out.get(key, 0) + start - counted
    return out
