"""A missing answer is not an answer (issue 13): unknown parts keep their last known state,
marked unknown since when, and alerts on them hold. The pure parts, table-driven: the
"unknown since" bookkeeping, the lag tracker on partial answers, the rules' held findings,
the incident book's holding, and the evaluation's view of a stale cluster."""

from __future__ import annotations

import dataclasses

import pytest

from kafka_watchdog.alerting.evaluation import effective_rules, evaluate
from kafka_watchdog.alerting.holding import holding
from kafka_watchdog.alerting.incidents import Alert, AlertBook, State
from kafka_watchdog.detection.assess import assess
from kafka_watchdog.detection.lag import Sample, lag_seconds_at_least
from kafka_watchdog.detection.lag import evaluate as lag_status
from kafka_watchdog.detection.lag_tracker import LagTracker
from kafka_watchdog.model.health import ClusterHealth
from kafka_watchdog.model.lag import GroupLag, LagStatus, PartitionLag
from kafka_watchdog.model.snapshot import (
    Broker,
    ClusterSnapshot,
    GroupState,
    PartitionState,
    TopicConfig,
    TopicState,
    frozen_map,
)
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.model.unknown import Unknowns, carry, unknown_since
from kafka_watchdog.rules.finding import Finding

NOW = 10_000.0

# -- unknown since --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "previous", "unknown", "expected"),
    [
        ("01 a newly unknown part gets now", {}, ["g"], {"g": NOW}),
        ("02 a part that stays unknown keeps its first time", {"g": 5.0}, ["g"], {"g": 5.0}),
        ("03 a part answered again drops out", {"g": 5.0, "h": 6.0}, ["h"], {"h": 6.0}),
        ("04 nothing unknown", {"g": 5.0}, [], {}),
    ],
)
def test_unknown_since(
    case: str, previous: dict[str, float], unknown: list[str], expected: dict[str, float]
) -> None:
    assert dict(unknown_since(previous, unknown, NOW)) == expected, case


def test_05_carry_keeps_the_last_known_state_of_unknown_parts_only() -> None:
    last = {"a": 1, "b": 2, "gone": 3}
    # b unknown: carried; "new" unknown and never seen: stays out; gone answered absent: gone.
    assert dict(carry(last, {"a": 10}, ["b", "new"])) == {"a": 10, "b": 2}


def test_06_a_group_missing_from_an_incomplete_listing_is_held() -> None:
    unknown = Unknowns(groups=frozen_map({"g": 5.0}), group_listing=7.0)
    assert unknown.group_held("g", {"g": 1}) == 5.0  # unknown itself
    assert unknown.group_held("h", {}) == 7.0  # not in the answer, which is incomplete
    assert unknown.group_held("h", {"h": 1}) is None  # answered
    assert Unknowns().group_held("h", {}) is None  # complete answer without it: gone
    assert unknown.oldest("groups") == 5.0 and unknown.parts("groups") == 1


# -- the lag tracker on partial answers ------------------------------------------------------

TP = ("t", 0)


def stopped(committed: int) -> GroupState:
    return GroupState("g", "Empty", 0, offsets=frozen_map({TP: committed}))


def tracker_at_stop() -> LagTracker:
    """A group gone (STOP) at offset 100 while the log end grows 100 a cycle."""
    tracker = LagTracker(window=30.0, min_samples=3, history_points=64)
    for i in range(5):
        tracker.observe({"g": stopped(100)}, {TP: (0, 200 + 100 * i)}, 10.0 * i)
    assert tracker.latest["g"].status is LagStatus.STOP
    return tracker


def test_07_an_unknown_group_keeps_its_last_lag_and_its_samples() -> None:
    tracker = tracker_at_stop()
    before = tracker.latest["g"]
    # Its coordinator does not answer for three cycles: carried, marked, not re-judged.
    for i in range(3):
        result = tracker.observe(
            {"g": stopped(100)}, {TP: (0, 700 + 100 * i)}, 50.0 + 10 * i, {"g": 50.0}
        )
        assert result["g"] == dataclasses.replace(before, unknown_since=50.0)
    # Back: judged on its samples at once (it was not forgotten): still STOP, not UNKNOWN.
    result = tracker.observe({"g": stopped(100)}, {TP: (0, 1000)}, 80.0)
    assert result["g"].status is LagStatus.STOP and result["g"].unknown_since is None
    assert result["g"].partitions[0].lag == 900


def test_08_a_partition_without_a_log_end_keeps_its_last_lag() -> None:
    tracker = tracker_at_stop()
    last = tracker.latest["g"].partitions[0]
    # Its leader is gone: the log end carried by the caller, marked unknown.
    result = tracker.observe({"g": stopped(100)}, {TP: (0, 600)}, 50.0, {}, {TP: 45.0})
    part = result["g"].partitions[0]
    assert part == dataclasses.replace(last, unknown_since=45.0)
    assert result["g"].status is LagStatus.STOP  # not ERROR: the partition is there


def test_09_a_deleted_group_and_a_gone_topic_are_real_answers() -> None:
    tracker = tracker_at_stop()
    # The topic is gone (not in the offsets any more): ERROR, as before.
    result = tracker.observe({"g": stopped(100)}, {}, 50.0)
    assert result["g"].partitions[0].status is LagStatus.ERROR
    # The group is gone from a complete answer: its lag and history go.
    assert tracker.observe({}, {TP: (0, 700)}, 60.0) == {}
    result = tracker.observe({"g": stopped(100)}, {TP: (0, 800)}, 70.0)
    assert result["g"].status is LagStatus.UNKNOWN  # a new history: too few samples yet
    assert result["g"].partitions[0].unknown_since is None  # but its values are current


@pytest.mark.parametrize(
    ("case", "samples", "expected"),
    [
        # Slow cycles (a fault makes each one wait out a timeout): one sample in the window.
        ("10 a starved window judges the latest min_samples",
         [Sample(5, 50, 10), Sample(5, 60, 40), Sample(5, 70, 99)], LagStatus.STOP),
        ("11 fewer samples than min_samples at all: unknown",
         [Sample(5, 60, 40), Sample(5, 70, 99)], LagStatus.UNKNOWN),
    ],
)  # fmt: skip
def test_status_on_a_starved_window(case: str, samples: list[Sample], expected: LagStatus) -> None:
    assert lag_status(samples, False, 100.0, 20.0, 3) is expected, case


@pytest.mark.parametrize(
    ("case", "points", "committed", "expected"),
    [
        ("12 one point, committed before it: a lower bound", [(100, 1.0)], 50, True),
        ("13 a flat history (nobody writes): a lower bound", [(100, 1.0), (100, 9.0)], 50, True),
        ("14 growth to extrapolate from: an estimate", [(100, 1.0), (200, 9.0)], 50, False),
        ("15 committed inside the history: exact", [(100, 1.0), (200, 9.0)], 150, False),
        ("16 caught up: exact zero", [(100, 1.0)], 100, False),
    ],
)
def test_lag_seconds_lower_bound(
    case: str, points: list[tuple[int, float]], committed: int, expected: bool
) -> None:
    # (A flat history is one point: PointHistory records a point only when the end moves.)
    assert lag_seconds_at_least(points, committed) is expected, case


# -- the rules on carried lag ----------------------------------------------------------------


def state(lag: GroupLag | None = None, **fields: object) -> ClusterState:
    health = ClusterHealth("prod")
    health = health.with_stage(health.admin.succeeded(NOW, NOW))
    snap = ClusterSnapshot(
        "prod",
        NOW,
        "c",
        frozen_map({1: Broker(1, "h", 1)}),
        1,
        topics=frozen_map(
            {"t": TopicState("t", (PartitionState("t", 0, 1, (1,), (1,)),), config=TopicConfig(1))}
        ),
        groups=frozen_map({"g": GroupState("g", "Empty")}),
    )
    base = ClusterState("prod", health, stale_after=60.0, snapshot=snap, assessment=assess(snap, 1))
    lags = frozen_map({"g": lag} if lag is not None else {})
    return dataclasses.replace(base, lag=lags, **fields)  # type: ignore[arg-type]


def group(*parts: PartitionLag, since: float | None = None) -> GroupLag:
    worst = max((p.status for p in parts), key=lambda s: s.severity)
    return GroupLag("g", "Empty", 0, parts, worst, since)


def part(
    lag: int | None, status: LagStatus, since: float | None = None, seconds: float = 900.0,
    at_least: bool = False,
) -> PartitionLag:  # fmt: skip
    end = None if lag is None else 100 + lag
    return PartitionLag("t", 0, 100, end, lag, seconds, status, since, at_least)


RULE_CASES = [
    # (case, group lag, rule, expected: None no finding, "real", or the unknown_since)
    ("17 STOP read this cycle: a real finding", group(part(200_000, LagStatus.STOP)),
     "consumer_stalled", "real"),
    ("18 STOP carried (coordinator gone): held", group(part(200_000, LagStatus.STOP),
     since=50.0), "consumer_stalled", 50.0),
    ("19 too few samples after a start: held since the start, not absent",
     group(part(200_000, LagStatus.UNKNOWN)), "consumer_stalled", 1_000.0),
    ("19b a log end never read: held since then",
     group(part(None, LagStatus.UNKNOWN, since=40.0)), "consumer_stalled", 40.0),
    ("20 OK read this cycle: nothing", group(part(0, LagStatus.OK)), "consumer_stalled", None),
    ("21 lag over the threshold, read: real", group(part(200_000, LagStatus.STOP)),
     "consumer_lag", "real"),
    ("22 lag over the threshold, carried partition: held",
     group(part(200_000, LagStatus.STOP, since=30.0)), "consumer_lag", 30.0),
    ("23 log end never read: held (it could be anything)",
     group(part(None, LagStatus.UNKNOWN, since=30.0)), "consumer_lag", 30.0),
    ("24 lag under the threshold, read: nothing", group(part(5, LagStatus.OK)),
     "consumer_lag", None),
    ("25 seconds over the threshold, read: real", group(part(200_000, LagStatus.STOP)),
     "consumer_lag_seconds", "real"),
    ("26 a lower bound under the threshold (after a start): held",
     group(part(200_000, LagStatus.STOP, seconds=5.0, at_least=True)),
     "consumer_lag_seconds", 1_000.0),
    ("26b ... with too few samples for a status yet: still held",
     group(part(200_000, LagStatus.UNKNOWN, seconds=5.0, at_least=True)),
     "consumer_lag_seconds", 1_000.0),
    ("27 a lower bound over the threshold proves it: real",
     group(part(200_000, LagStatus.STOP, seconds=700.0, at_least=True)),
     "consumer_lag_seconds", "real"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "lag", "rule", "expected"), RULE_CASES)
def test_consumer_rules_on_carried_lag(
    case: str, lag: GroupLag, rule: str, expected: str | float | None
) -> None:
    rules = {rule: effective_rules({})[rule]}
    found = evaluate(rules, [state(lag, events_since=1_000.0)], NOW)[0]
    if expected is None:
        assert found == [], case
        return
    (finding,) = found
    assert finding.unknown_since == (None if expected == "real" else expected), case
    assert finding.labels["group"] == "g"


def test_28_findings_on_a_stale_view_are_marked_unknown_since_it_went_stale() -> None:
    health = ClusterHealth("prod")
    health = health.with_stage(health.admin.succeeded(NOW - 500, NOW - 500))
    health = health.with_stage(health.admin.failed(NOW - 400, NOW - 399, "down", "unreachable"))
    stale = state(group(part(200_000, LagStatus.STOP)), health=health)
    found = evaluate(effective_rules({}), [stale], NOW)[0]
    by_rule = {f.rule: f for f in found}
    assert by_rule["consumer_stalled"].unknown_since == NOW - 400
    assert by_rule["cluster_unseen"].unknown_since is None  # it judges the staleness itself


# -- the incident book: only a real answer changes an alert ----------------------------------


def finding(unknown: float | None = None) -> Finding:
    return Finding("consumer_stalled", "warning", {"kafka_cluster": "prod", "group": "g"},
                   "g is STOP", unknown_since=unknown)  # fmt: skip


# Steps: "real" (a finding from a current answer), "unknown" (from carried state), "absent".
BOOK_CASES = [
    ("29 firing, then carried: stays firing", 0,
     ["real", "unknown", "unknown", "real"], ["firing"] * 4),
    ("30 firing, carried, then really gone: resolves only then", 0,
     ["real", "unknown", "absent"], ["firing", "firing", "resolved"]),
    ("31 pending, carried past its for: stays pending, fires on the next real answer", 60,
     ["real", "unknown", "unknown", "real"], ["pending", "pending", "pending", "firing"]),
    ("32 carried state starts no alert", 0, ["unknown", "unknown"], [None, None]),
    ("33 a resolved alert is not re-opened by carried state", 0,
     ["real", "absent", "unknown"], ["firing", "resolved", "resolved"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "for_", "steps", "expected"), BOOK_CASES)
def test_incidents_hold_on_carried_state(
    case: str, for_: float, steps: list[str], expected: list[str | None]
) -> None:
    book = AlertBook({"consumer_stalled": for_}, flap_window=600, flap_count=3)
    got = []
    for i, step in enumerate(steps):
        at = 40.0 * i
        found = {"real": [finding()], "unknown": [finding(at)], "absent": []}[step]
        book.update(found, at)
        alert = book.alerts.get(finding().fingerprint)
        got.append(alert.state.value if alert is not None else None)
    assert got == expected, case


def test_34_an_alert_on_a_group_missing_from_an_incomplete_listing_holds() -> None:
    rules = effective_rules({})
    book = AlertBook({"consumer_stalled": 0}, flap_window=600, flap_count=3)
    book.update([finding()], 0.0)
    # Restarted mid-fault: the group's coordinator did not answer ListGroups, so the
    # watchdog does not even know the group; the listing is incomplete since 5.
    blind = state(unknown=Unknowns(group_listing=5.0))
    blind = dataclasses.replace(blind, snapshot=dataclasses.replace(blind.snapshot, groups={}))
    assert book.update([], 10.0, holding=holding(rules, [blind], 10.0)) == []
    alert = book.alerts[finding().fingerprint]
    assert alert.state is State.FIRING and alert.finding.unknown_since == 5.0
    # A complete listing without it: the group is gone, the alert resolves.
    gone = dataclasses.replace(blind, unknown=Unknowns())
    (resolved,) = book.update([], 20.0, holding=holding(rules, [gone], 20.0))
    assert resolved.state is State.RESOLVED


@pytest.mark.parametrize(
    ("case", "fired_at", "now", "held"),
    [
        ("35 an event alert from before a restart holds for keep_firing_for", 100.0, 500.0, True),
        ("36 ... and resolves once keep_firing_for has passed", 100.0, 100.0 + 3601, False),
        ("37 an event alert of this process resolves as its rule says", 2_000.0, 2_500.0, False),
    ],
)
def test_event_alerts_from_before_a_restart(
    case: str, fired_at: float, now: float, held: bool
) -> None:
    rules = effective_rules({})
    f = Finding("unclean_leader_election", "critical",
                {"kafka_cluster": "prod", "topic": "t", "partition": "0"}, "lost")  # fmt: skip
    alert = Alert(f, State.FIRING, fired_at, fired_at, fired_at=fired_at)
    since = holding(rules, [state(events_since=1_000.0)], now)(alert)
    assert (since is not None) is held, case


def test_38_a_carried_controller_is_not_claimed() -> None:
    # The quorum reports no leader: the snapshot carries the last controller (so that the
    # change is seen as old -> new), the state says none is known since 9000.
    carried = state(unknown=Unknowns(controller=9_000.0))
    (found,) = evaluate({"controller_missing": effective_rules({})["controller_missing"]},
                        [carried], NOW)[0]  # fmt: skip
    assert "the last one was 1" in found.summary
    assert evaluate(effective_rules({}), [state()], NOW)[0] == []


def test_39_an_alert_on_a_topic_whose_configs_are_unknown_holds() -> None:
    # Right after a restart DescribeConfigs has not answered: min.insync.replicas is not
    # known, so under_min_isr cannot be judged; its alert holds instead of resolving.
    rules = effective_rules({})
    f = Finding("under_min_isr", "critical",
                {"kafka_cluster": "prod", "topic": "t", "partition": "0"}, "below")  # fmt: skip
    alert = Alert(f, State.FIRING, 1.0, 1.0, fired_at=1.0)
    blind = state(unknown=Unknowns(configs=frozen_map({"t": 9_000.0})))
    assert holding(rules, [blind], NOW)(alert) == 9_000.0
    assert holding(rules, [state()], NOW)(alert) is None


def test_40_no_answer_about_the_controller_is_not_a_missing_controller() -> None:
    # KRaft right after a start: metadata answered, the quorum stage not yet. No source has
    # said anything about the controller: no controller_missing finding, and an open one
    # holds (since the start) rather than resolving.
    rules = effective_rules({})
    base = state()
    assert base.snapshot is not None
    unasked = dataclasses.replace(
        base, snapshot=dataclasses.replace(base.snapshot, controller_id=None), events_since=7.0
    )
    assert evaluate({"controller_missing": rules["controller_missing"]}, [unasked], NOW)[0] == []
    f = Finding("controller_missing", "critical", {"kafka_cluster": "prod"}, "none")
    alert = Alert(f, State.FIRING, 1.0, 1.0, fired_at=1.0)
    assert holding(rules, [unasked], NOW)(alert) == 7.0
    # A quorum that answered "no leader" is a real answer: it fires, and nothing holds it.
    said = dataclasses.replace(
        unasked,
        snapshot=dataclasses.replace(
            unasked.snapshot, sources=frozen_map({"controller": ("quorum", NOW)})
        ),
    )
    (found,) = evaluate({"controller_missing": rules["controller_missing"]}, [said], NOW)[0]
    assert found.summary == "no active controller is known"
    assert holding(rules, [said], NOW)(alert) is None


def test_41_under_min_isr_holds_until_the_configs_answer_after_a_restart() -> None:
    # Restarted while a partition's ISR was short: the first snapshot (metadata) comes
    # before DescribeConfigs has answered or even failed, so min.insync.replicas is not
    # known and no finding is made: the alert holds since the start, it does not resolve.
    rules = effective_rules({})
    f = Finding("under_min_isr", "critical",
                {"kafka_cluster": "prod", "topic": "t", "partition": "0"}, "below")  # fmt: skip
    alert = Alert(f, State.FIRING, 1.0, 1.0, fired_at=1.0)
    base = state(events_since=7.0)
    assert base.snapshot is not None
    topics = {"t": dataclasses.replace(base.snapshot.topics["t"], config=TopicConfig())}
    unasked = dataclasses.replace(
        base, snapshot=dataclasses.replace(base.snapshot, topics=frozen_map(topics))
    )
    assert evaluate({"under_min_isr": rules["under_min_isr"]}, [unasked], NOW)[0] == []
    assert holding(rules, [unasked], NOW)(alert) == 7.0
    # Its configs answered (min.insync.replicas 1, ISR 1 of 1): a real answer, it resolves.
    assert holding(rules, [base], NOW)(alert) is None
    # The topic is gone: a real answer too.
    gone = dataclasses.replace(base, snapshot=dataclasses.replace(base.snapshot, topics={}))
    assert holding(rules, [gone], NOW)(alert) is None


def test_42_partly_blind_holds_until_its_stage_has_tried_after_a_restart() -> None:
    rules = effective_rules({})
    f = Finding("partly_blind", "warning", {"kafka_cluster": "prod", "stage": "groups"}, "part")
    alert = Alert(f, State.FIRING, 1.0, 1.0, fired_at=1.0)
    started = state(events_since=7.0)  # the groups stage has not finished an attempt yet
    assert holding(rules, [started], NOW)(alert) == 7.0
    health = started.health
    tried = health.with_stage(health.stages["groups"].succeeded(NOW - 1, NOW))
    assert holding(rules, [dataclasses.replace(started, health=tried)], NOW)(alert) is None
