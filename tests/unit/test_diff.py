"""diff(previous, current): each case is numbered and says what it proves.

Cases are (description, previous, current, expected events as (kind, subject) pairs).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from kafka_watchdog.detection.diff import Differ, diff, remember_leaders
from kafka_watchdog.model.events import EventKind as K
from kafka_watchdog.model.snapshot import (
    Broker,
    ClusterSnapshot,
    GroupState,
    LeaderRecovery,
    PartitionState,
    TopicState,
    frozen_map,
)

T0, T1 = 1000.0, 1010.0


def p(leader: int, isr: tuple[int, ...], n: int = 0, **kw: object) -> PartitionState:
    return PartitionState("t", n, leader, (1, 2, 3), isr, **kw)  # type: ignore[arg-type]


def snap(
    *parts: PartitionState,
    at: float = T1,
    brokers: tuple[int, ...] = (1, 2, 3),
    controller: int | None = 1,
    epoch: int | None = 5,
    topic_id: str | None = "id1",
    groups: dict[str, dict[tuple[str, int], int]] | None = None,
) -> ClusterSnapshot:
    topics = {"t": TopicState("t", tuple(parts), topic_id=topic_id)} if parts else {}
    return ClusterSnapshot(
        cluster="c",
        taken_at=at,
        cluster_id="x",
        brokers=frozen_map({b: Broker(b, "h", 9000 + b) for b in brokers}),
        controller_id=controller,
        controller_epoch=epoch,
        topics=frozen_map(topics),
        groups=frozen_map(
            {
                g: GroupState(g, "Stable", 1, offsets=frozen_map(o))
                for g, o in (groups or {}).items()
            }
        ),
    )


OK = p(1, (1, 2, 3))
CASES = [
    ("01 nothing changed: no events", snap(OK), snap(OK), []),
    ("02 a follower dropped out of the ISR", snap(OK), snap(p(1, (1, 3))), [(K.ISR_SHRINK, "t-0")]),
    ("03 it came back", snap(p(1, (1, 3))), snap(OK), [(K.ISR_EXPAND, "t-0")]),
    (
        "04 one replica out, another in within one change: one event saying both",
        snap(p(1, (1, 2))),
        snap(p(1, (1, 3))),
        [(K.ISR_REPLACED, "t-0")],
    ),
    (
        "05 clean leader change: new leader was in the ISR",
        snap(OK),
        snap(p(2, (2, 3))),
        [(K.ISR_SHRINK, "t-0"), (K.LEADER_CHANGED, "t-0")],
    ),
    (
        "06 the last ISR member died: offline, ISR keeps the last leader as Kafka does",
        snap(p(3, (3,))),
        snap(p(-1, (3,))),
        [(K.PARTITION_OFFLINE, "t-0")],
    ),
    (
        "07 offline partition comes back with its last ISR member: clean",
        snap(p(-1, (3,))),
        snap(p(3, (3,))),
        [(K.PARTITION_ONLINE, "t-0")],
    ),
    (
        "08 the seed incident: offline, then a stale follower becomes leader: unclean",
        snap(p(-1, (3,))),
        snap(p(1, (1,))),
        [
            (K.ISR_REPLACED, "t-0"),
            (K.PARTITION_ONLINE, "t-0"),
            (K.UNCLEAN_LEADER_ELECTION, "t-0"),
        ],
    ),
    (
        "09 unclean election straight from a live leader (no offline snapshot in between)",
        snap(p(3, (3,))),
        snap(p(1, (1,))),
        [
            (K.ISR_REPLACED, "t-0"),
            (K.LEADER_CHANGED, "t-0"),
            (K.UNCLEAN_LEADER_ELECTION, "t-0"),
        ],
    ),
    (
        "10 RECOVERING appears without a visible leader change (ZooKeeper state node)",
        snap(p(1, (1,))),
        snap(p(1, (1,), leader_recovery=LeaderRecovery.RECOVERING)),
        [(K.UNCLEAN_LEADER_ELECTION, "t-0")],
    ),
    (
        "11 RECOVERING stays: reported once, not on every snapshot",
        snap(p(1, (1,), leader_recovery=LeaderRecovery.RECOVERING)),
        snap(p(1, (1,), leader_recovery=LeaderRecovery.RECOVERING)),
        [],
    ),
    (
        "12 log end offset went back on the same leader: truncation",
        snap(p(1, (1, 2, 3), log_end_offset=500)),
        snap(p(1, (1, 2, 3), log_end_offset=420)),
        [(K.LOG_TRUNCATION, "t-0")],
    ),
    (
        "13 high watermark dips right after a CLEAN leader change: not a loss",
        snap(p(1, (1, 2, 3), log_end_offset=500)),
        snap(p(2, (2, 3), log_end_offset=498)),
        [(K.ISR_SHRINK, "t-0"), (K.LEADER_CHANGED, "t-0")],
    ),
    (
        "14 unclean election with offsets going back: election AND truncation",
        snap(p(-1, (3,), log_end_offset=900)),
        snap(p(1, (1,), log_end_offset=700)),
        [
            (K.ISR_REPLACED, "t-0"),
            (K.PARTITION_ONLINE, "t-0"),
            (K.UNCLEAN_LEADER_ELECTION, "t-0"),
            (K.LOG_TRUNCATION, "t-0"),
        ],
    ),
    (
        "15 offsets unknown on one side: no truncation claim",
        snap(p(1, (1, 2, 3), log_end_offset=500)),
        snap(p(1, (1, 2, 3))),
        [],
    ),
    ("16 broker gone", snap(OK), snap(OK, brokers=(1, 2)), [(K.BROKER_GONE, "broker 3")]),
    ("17 broker back", snap(OK, brokers=(1, 2)), snap(OK), [(K.BROKER_REGISTERED, "broker 3")]),
    (
        "18 controller moved",
        snap(OK),
        snap(OK, controller=2, epoch=6),
        [(K.CONTROLLER_CHANGED, "controller")],
    ),
    (
        "19 same broker re-elected controller: the epoch tells; not a move",
        snap(OK),
        snap(OK, epoch=6),
        [(K.CONTROLLER_REELECTED, "controller")],
    ),
    (
        "19b same broker, the epoch known on one side only: nothing is known to change",
        snap(OK, epoch=None),
        snap(OK, epoch=6),
        [],
    ),
    (
        "20 controller unknown now (source cannot tell): no claim",
        snap(OK),
        snap(OK, controller=None),
        [],
    ),
    ("21 topic created", snap(), snap(OK), [(K.TOPIC_CREATED, "t")]),
    ("22 topic deleted", snap(OK), snap(), [(K.TOPIC_DELETED, "t")]),
    (
        "23 topic deleted and recreated between snapshots: its offsets restarting is no loss",
        snap(p(1, (1, 2, 3), log_end_offset=500)),
        snap(p(1, (1, 2, 3), log_end_offset=0), topic_id="id2"),
        [(K.TOPIC_DELETED, "t"), (K.TOPIC_CREATED, "t")],
    ),
    (
        "24 reassignment starts and finishes",
        snap(OK),
        snap(p(1, (1, 2, 3), adding_replicas=(4,))),
        [(K.REASSIGNMENT_STARTED, "t-0")],
    ),
    (
        "25 reassignment finished",
        snap(p(1, (1, 2, 3), removing_replicas=(3,))),
        snap(OK),
        [(K.REASSIGNMENT_FINISHED, "t-0")],
    ),
    (
        "26 committed offset beyond the log end (after a truncation): reported once",
        snap(p(1, (1, 2, 3), log_end_offset=500), groups={"g": {("t", 0): 480}}),
        snap(p(1, (1, 2, 3), log_end_offset=500), groups={"g": {("t", 0): 520}}),
        [(K.OFFSET_BEYOND_LOG_END, "group g t-0")],
    ),
    (
        "27 still beyond on the next snapshot: no repeat",
        snap(p(1, (1, 2, 3), log_end_offset=500), groups={"g": {("t", 0): 520}}),
        snap(p(1, (1, 2, 3), log_end_offset=500), groups={"g": {("t", 0): 520}}),
        [],
    ),
    (
        "28 committed offset equal to the log end is a caught-up group",
        snap(p(1, (1, 2, 3), log_end_offset=500), groups={"g": {("t", 0): 400}}),
        snap(p(1, (1, 2, 3), log_end_offset=500), groups={"g": {("t", 0): 500}}),
        [],
    ),
]


@pytest.mark.parametrize(
    ("case", "before", "after", "expected"), CASES, ids=[c[0][:2] for c in CASES]
)
def test_diff(
    case: str,
    before: ClusterSnapshot,
    after: ClusterSnapshot,
    expected: list[tuple[K, str]],
) -> None:
    got = [(e.kind, e.subject) for e in diff(before, after)]
    assert got == expected, case


def test_29_first_snapshot_has_no_events() -> None:
    assert diff(None, snap(p(-1, (3,)))) == []


def test_30_events_carry_cluster_times_and_numbers() -> None:
    before = snap(p(-1, (3,), log_end_offset=900), at=T0)
    after = snap(p(1, (1,), log_end_offset=700, source_time=T1 - 0.25), at=T1)
    events = {e.kind: e for e in diff(before, after)}
    unclean = events[K.UNCLEAN_LEADER_ELECTION]
    assert (unclean.cluster, unclean.topic, unclean.partition) == ("c", "t", 0)
    assert unclean.before == (-1, (3,)) and unclean.after == (1, (1,))
    assert unclean.observed_at == T1 and unclean.delay == pytest.approx(0.25)
    assert "new leader 1 was not in the last known ISR [3]" in unclean.detail
    truncation = events[K.LOG_TRUNCATION]
    assert (truncation.before, truncation.after) == (900, 700)
    assert "200 records lost" in truncation.detail


def test_31_snapshot_partition_lookup_is_safe() -> None:
    s = snap(OK)
    assert s.partition("t", 0) == OK
    assert s.partition("t", 1) is None and s.partition("nope", 0) is None
    assert replace(OK, leader=-1).offline


# A leader change through a moment with no leader: the controller may write leader -1 first
# and the new leader later (seen on a busy ZooKeeper-mode cluster when a leader was killed).
# Each case is a sequence of snapshots fed in order to one Differ, and the events expected at
# each step after the first: (kind, subject, before, after).
A1 = p(1, (1, 2, 3))
SEQUENCES = [
    (
        "32 A -> no leader -> B: offline, then back online AND a leader change from A to B",
        [A1, p(-1, (2, 3)), p(2, (2, 3))],
        [
            [(K.ISR_SHRINK, "t-0", (1, 2, 3), (2, 3)), (K.PARTITION_OFFLINE, "t-0", 1, -1)],
            [(K.PARTITION_ONLINE, "t-0", -1, 2), (K.LEADER_CHANGED, "t-0", 1, 2)],
        ],
    ),
    (
        "33 A -> no leader -> A: back online with the same leader: no leader change",
        [p(3, (3,)), p(-1, (3,)), p(3, (3,))],
        [
            [(K.PARTITION_OFFLINE, "t-0", 3, -1)],
            [(K.PARTITION_ONLINE, "t-0", -1, 3)],
        ],
    ),
    (
        "34 A -> no leader -> no leader -> B: the spell spans snapshots (the ISR shrinks "
        "meanwhile); the change is still from A",
        [A1, p(-1, (2, 3)), p(-1, (2,)), p(2, (2,))],
        [
            [(K.ISR_SHRINK, "t-0", (1, 2, 3), (2, 3)), (K.PARTITION_OFFLINE, "t-0", 1, -1)],
            [(K.ISR_SHRINK, "t-0", (2, 3), (2,))],
            [(K.PARTITION_ONLINE, "t-0", -1, 2), (K.LEADER_CHANGED, "t-0", 1, 2)],
        ],
    ),
    (
        "35 the watchdog started while the partition was offline: its leader before is "
        "unknown, so it comes back online and no change is claimed",
        [p(-1, (2, 3)), p(-1, (2, 3)), p(2, (2, 3))],
        [
            [],
            [(K.PARTITION_ONLINE, "t-0", -1, 2)],
        ],
    ),
    (
        "36 A -> no leader -> B outside the last ISR: a leader change AND an unclean election",
        [p(1, (1,)), p(-1, (1,)), p(2, (2,))],
        [
            [(K.PARTITION_OFFLINE, "t-0", 1, -1)],
            [
                (K.ISR_REPLACED, "t-0", (1,), (2,)),
                (K.PARTITION_ONLINE, "t-0", -1, 2),
                (K.LEADER_CHANGED, "t-0", 1, 2),
                (K.UNCLEAN_LEADER_ELECTION, "t-0", (-1, (1,)), (2, (2,))),
            ],
        ],
    ),
    (
        "37 A -> no leader -> B -> no leader -> B: each spell remembers its own leader",
        [A1, p(-1, (2, 3)), p(2, (2, 3)), p(-1, (2, 3)), p(2, (2, 3))],
        [
            [(K.ISR_SHRINK, "t-0", (1, 2, 3), (2, 3)), (K.PARTITION_OFFLINE, "t-0", 1, -1)],
            [(K.PARTITION_ONLINE, "t-0", -1, 2), (K.LEADER_CHANGED, "t-0", 1, 2)],
            [(K.PARTITION_OFFLINE, "t-0", 2, -1)],
            [(K.PARTITION_ONLINE, "t-0", -1, 2)],
        ],
    ),
]


@pytest.mark.parametrize(
    ("case", "states", "expected"), SEQUENCES, ids=[c[0][:2] for c in SEQUENCES]
)
def test_leader_change_through_no_leader(
    case: str,
    states: list[PartitionState],
    expected: list[list[tuple[K, str, object, object]]],
) -> None:
    differ = Differ()
    snaps = [snap(s, at=T0 + i) for i, s in enumerate(states)]
    assert differ(None, snaps[0]) == [], case
    got = [
        [(e.kind, e.subject, e.before, e.after) for e in differ(before, after)]
        for before, after in itertools.pairwise(snaps)
    ]
    assert got == expected, case


def test_38_online_and_leader_change_say_what_happened() -> None:
    differ = Differ()
    steps = [snap(A1, at=T0), snap(p(-1, (2, 3)), at=T0 + 1), snap(p(2, (2, 3)), at=T0 + 2)]
    differ(None, steps[0])
    differ(steps[0], steps[1])
    online, change = differ(steps[1], steps[2])
    assert online.detail == "t-0 is back online with leader 2 (leader 1 before it went offline)"
    assert change.detail == "t-0: leader moved from 1 to 2 (through a moment with no leader)"
    assert change.observed_at == T0 + 2
    same = Differ()
    back = [snap(p(3, (3,))), snap(p(-1, (3,))), snap(p(3, (3,)))]
    same(None, back[0])
    same(back[0], back[1])
    (online,) = same(back[1], back[2])
    assert online.detail == (
        "t-0 is back online with leader 3, the leader it had before it went offline"
    )


def test_39_the_memory_of_an_offline_spell_ends_with_the_spell_or_the_topic() -> None:
    offline = snap(p(-1, (2, 3)))
    assert remember_leaders({}, snap(A1), offline) == {("t", 0): 1}
    assert remember_leaders({("t", 0): 1}, offline, offline) == {("t", 0): 1}
    assert remember_leaders({("t", 0): 1}, offline, snap(p(2, (2, 3)))) == {}
    assert remember_leaders({("t", 0): 1}, offline, snap()) == {}  # topic deleted
    recreated = snap(p(-1, (2, 3)), topic_id="id2")
    assert remember_leaders({("t", 0): 1}, offline, recreated) == {}
    assert remember_leaders({}, None, offline) == {}  # started offline: unknown
    # Recreated while offline: the new incarnation coming back is no change of the old one's.
    differ = Differ()
    steps = [snap(A1), offline, recreated, snap(p(2, (2, 3)), topic_id="id2")]
    differ(None, steps[0])
    events = [differ(a, b) for a, b in itertools.pairwise(steps)]
    assert [(e.kind, e.subject) for e in events[-1]] == [(K.PARTITION_ONLINE, "t-0")]


def test_38_a_replaced_isr_and_a_reelection_say_what_happened() -> None:
    (isr,) = diff(snap(p(1, (1,))), snap(p(1, (2,))))
    assert isr.kind is K.ISR_REPLACED
    assert isr.detail == "t-0: ISR changed from [1] to [2] (out: [1], in: [2])"
    assert (isr.change.left, isr.change.joined) == ((1,), (2,))  # type: ignore[union-attr]
    (again,) = diff(snap(OK, controller=2, epoch=1), snap(OK, controller=2, epoch=3))
    assert again.kind is K.CONTROLLER_REELECTED
    assert again.detail == "controller re-elected on 2 (epoch 1 -> 3)"
    (moved,) = diff(snap(OK, controller=2, epoch=3), snap(OK, controller=1, epoch=4))
    assert moved.detail == "controller moved from 2 to 1 (epoch 3 -> 4)"
