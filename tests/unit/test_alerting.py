"""Alerting's pure parts: the incident state machine, grouping and timing, silences and
inhibition, the rules, the outbox. Time is passed in; nothing touches the network."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from types import MappingProxyType

import pytest

from kafka_watchdog.alerting.dispatch import Dispatcher, Route, Timing
from kafka_watchdog.alerting.evaluation import effective_rules
from kafka_watchdog.alerting.evaluation import evaluate as evaluate_states
from kafka_watchdog.alerting.incidents import AlertBook, State
from kafka_watchdog.alerting.matching import Inhibition, Silence, muted
from kafka_watchdog.alerting.render import body, pagerduty_event, title
from kafka_watchdog.alerting.store import AlertStore
from kafka_watchdog.config.alerting import RuleOverride
from kafka_watchdog.detection.assess import assess
from kafka_watchdog.model.events import Event, EventKind, Truncation, UncleanElection
from kafka_watchdog.model.health import ClusterHealth
from kafka_watchdog.model.snapshot import Broker, ClusterSnapshot, PartitionState, TopicState
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.model.unknown import Unknowns
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import Settings


def finding(rule: str = "under_replicated", severity: str = "warning", **labels: str) -> Finding:
    return Finding(rule, severity, {"kafka_cluster": "prod", **labels}, f"{rule} {labels}")


# -- incidents: (case, for, [(time, present?)], expected state after each step) ---------------

INCIDENT_CASES = [
    ("01 fires at once when for is 0", 0, [(0, True)], ["firing"]),
    ("02 pending until for has passed", 60, [(0, True), (30, True), (60, True)],
     ["pending", "pending", "firing"]),
    ("03 a pending alert that goes away is forgotten", 60, [(0, True), (30, False)],
     ["pending", None]),
    ("04 a firing alert that goes away resolves", 0, [(0, True), (10, False)],
     ["firing", "resolved"]),
    ("05 a resolved alert that comes back starts a new episode", 0,
     [(0, True), (10, False), (20, True)], ["firing", "resolved", "firing"]),
    ("06 flapping: the third firing within the window is held firing", 0,
     [(0, True), (10, False), (20, True), (30, False), (40, True), (50, False), (60, False)],
     ["firing", "resolved", "firing", "resolved", "firing", "firing", "firing"]),
    ("07 a flapping alert resolves once quiet for a whole window", 0,
     [(0, True), (10, False), (20, True), (30, False), (40, True), (50, False), (641, False)],
     ["firing", "resolved", "firing", "resolved", "firing", "firing", "resolved"]),
    ("08 a resolved alert is dropped after a flap window", 0,
     [(0, True), (10, False), (700, False)], ["firing", "resolved", None]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "for_", "steps", "expected"), INCIDENT_CASES)
def test_incident_lifecycle(
    case: str, for_: float, steps: list[tuple[float, bool]], expected: list[str | None]
) -> None:
    book = AlertBook({"under_replicated": for_}, flap_window=600, flap_count=3)
    f = finding(topic="orders", partition="0")
    got = []
    for at, present in steps:
        book.update([f] if present else [], at)
        alert = book.alerts.get(f.fingerprint)
        got.append(alert.state.value if alert is not None else None)
    assert got == expected, case


def test_incident_book_round_trips_through_json() -> None:
    book = AlertBook({}, 600, 3)
    book.update([finding(topic="a", partition="1")], 5.0)
    again = AlertBook({}, 600, 3)
    again.load(book.to_json())
    assert again.alerts.keys() == book.alerts.keys()
    (alert,) = again.alerts.values()
    assert (alert.state, alert.fired_at, alert.finding.labels["topic"]) == (State.FIRING, 5.0, "a")


# -- dispatch -------------------------------------------------------------------------------

TIMING = Timing(("kafka_cluster", "rule"), group_wait=30, group_interval=300, repeat_interval=3600)
ROUTE = Route("oncall", frozenset({"critical", "warning"}))


def run(steps: list[tuple[float, list[Finding]]], silences: list[Silence] = ()) -> list[tuple]:  # type: ignore[assignment]
    """Feed findings at times; return (time, status, #firing, #resolved, first) per message."""
    book = AlertBook({}, flap_window=600, flap_count=99)
    dispatcher = Dispatcher([ROUTE], TIMING)
    sent = []
    for at, found in steps:
        book.update(found, at)
        quiet = muted(book.alerts.values(), silences, [], at)
        for n in dispatcher.tick(book.alerts, quiet, at):
            sent.append((at, n.status, len(n.firing), len(n.resolved), n.first))
    return sent


def urp(n: int) -> list[Finding]:
    return [finding(topic="orders", partition=str(p)) for p in range(n)]


def test_dispatch_01_many_alerts_make_one_message_after_group_wait() -> None:
    steps = [(0, urp(1)), (10, urp(3000)), (29, urp(3000)), (30, urp(3000)), (31, urp(3000))]
    assert run(steps) == [(30, "firing", 3000, 0, True)]


def test_dispatch_02_resolve_is_told_at_the_next_group_interval() -> None:
    steps = [(0, urp(2)), (30, urp(2)), (40, []), (329, []), (330, []), (400, [])]
    assert run(steps) == [(30, "firing", 2, 0, True), (330, "resolved", 0, 2, False)]


def test_dispatch_03_resolved_within_group_wait_is_never_told() -> None:
    assert run([(0, urp(1)), (10, []), (40, []), (400, [])]) == []


def test_dispatch_04_unchanged_group_repeats_at_repeat_interval() -> None:
    steps = [(0, urp(1)), (30, urp(1)), (1000, urp(1)), (3629, urp(1)), (3630, urp(1))]
    assert run(steps) == [(30, "firing", 1, 0, True), (3630, "firing", 1, 0, False)]


def test_dispatch_05_a_change_waits_for_the_group_interval() -> None:
    steps = [(0, urp(1)), (30, urp(1)), (60, urp(2)), (329, urp(2)), (330, urp(2))]
    assert run(steps) == [(30, "firing", 1, 0, True), (330, "firing", 2, 0, False)]


def test_dispatch_06_silenced_alerts_are_not_told() -> None:
    silence = Silence("s1", {"rule": "under_.*", "topic": "orders"}, 0, 1000)
    assert run([(0, urp(2)), (30, urp(2)), (60, urp(2))], [silence]) == []
    # Once the silence ends, the still-firing alerts are told.
    assert run([(0, urp(2)), (30, urp(2)), (1000, urp(2)), (1030, urp(2))], [silence]) == [
        (1030, "firing", 2, 0, True)
    ]


def test_dispatch_07_groups_split_by_group_by_labels() -> None:
    found = [*urp(2), finding("offline_partitions", "critical", topic="orders", partition="9")]
    sent = run([(0, found), (30, found)])
    assert sorted(sent) == [(30, "firing", 1, 0, True), (30, "firing", 2, 0, True)]


def test_dispatch_08_route_filters_severity() -> None:
    book = AlertBook({}, 600, 3)
    book.update([finding("risky_topic_config", "warning", topic="t")], 0)
    critical_only = Dispatcher([Route("pager", frozenset({"critical"}))], TIMING)
    assert critical_only.tick(book.alerts, set(), 100) == []


def test_inhibition_broker_gone_mutes_under_replication_of_its_cluster_only() -> None:
    book = AlertBook({}, 600, 3)
    gone = finding("broker_gone", "critical", broker="3")
    other = Finding("under_replicated", "warning", {"kafka_cluster": "dev", "topic": "x"}, "x")
    book.update([gone, *urp(3), other], 0)
    rule = Inhibition({"rule": "broker_gone"}, {"rule": "under_replicated"})
    quiet = muted(book.alerts.values(), [], [rule], 0)
    assert quiet == {f.fingerprint for f in urp(3)}


def test_render_lists_the_worst_first_and_counts_the_rest() -> None:
    book = AlertBook({}, 600, 3)
    found = [
        Finding("consumer_lag", "warning", {"kafka_cluster": "prod", "group": f"g{i}"}, f"g{i}",
                value=i, runbook="https://runbooks/lag")
        for i in range(15)
    ]  # fmt: skip
    book.update(found, 0)
    dispatcher = Dispatcher([ROUTE], TIMING)
    assert dispatcher.tick(book.alerts, set(), 0) == []  # group_wait
    (n,) = dispatcher.tick(book.alerts, set(), 30)
    text = body(n, max_listed=3)
    assert text.splitlines()[1:4] == ["- g14 (since 30s)", "- g13 (since 30s)", "- g12 (since 30s)"]
    assert "... and 12 more" in text and "Runbook: https://runbooks/lag" in text
    assert title(n) == "[WARNING] consumer_lag x15 on prod"
    event = pagerduty_event(n, "key", 3)
    assert (event["event_action"], event["dedup_key"]) == ("trigger", n.group_key)
    assert event["links"] == [{"href": "https://runbooks/lag", "text": "runbook"}]


# -- rules ----------------------------------------------------------------------------------


def snapshot(**partitions: tuple[int, tuple[int, ...], tuple[int, ...]]) -> ClusterSnapshot:
    parts = tuple(
        PartitionState("orders", int(p[1:]), leader, replicas, isr)
        for p, (leader, replicas, isr) in partitions.items()
    )
    return ClusterSnapshot(
        cluster="prod",
        taken_at=0,
        cluster_id="c",
        brokers=MappingProxyType({i: Broker(i, "h", 1) for i in (1, 2)}),
        controller_id=1,
        topics=MappingProxyType({"orders": TopicState("orders", parts)}),
    )


def view(
    snap: ClusterSnapshot | None,
    *,
    events: tuple[Event, ...] = (),
    known_brokers: frozenset[int] = frozenset(),
) -> ClusterState:
    """A published state with a fresh view (ready whatever `now` the test asks about)."""
    health = ClusterHealth("prod")
    health = health.with_stage(health.admin.succeeded(0.0, 0.0))
    return ClusterState(
        "prod",
        health,
        stale_after=1e9,
        snapshot=snap,
        assessment=assess(snap, 2) if snap is not None else None,
        events=events,
        known_brokers=known_brokers,
    )


def evaluate(rules: dict[str, Settings], state: ClusterState, now: float) -> list[Finding]:
    return evaluate_states(rules, [state], now)[0]


def test_rules_find_partition_states_and_a_gone_broker() -> None:
    snap = snapshot(p0=(1, (1, 2, 3), (1, 2)), p1=(-1, (3,), (3,)), p2=(1, (1, 2), (1, 2)))
    view_ = view(snap, known_brokers=frozenset({1, 2, 3}))
    found = {(f.rule, f.labels.get("partition"), f.labels.get("broker"))
             for f in evaluate(effective_rules({}), view_, 100)}  # fmt: skip
    assert ("under_replicated", "0", None) in found
    assert ("offline_partitions", "1", None) in found
    assert ("broker_gone", None, "3") in found
    assert not any(p == "2" for _, p, _ in found)


def test_rules_unclean_election_says_which_brokers_and_how_many_records() -> None:
    events = (
        Event(EventKind.UNCLEAN_LEADER_ELECTION, "prod", "orders-0",
              UncleanElection((1, (1,)), (2, (2,))), 100, topic="orders", partition=0),
        Event(EventKind.LOG_TRUNCATION, "prod", "orders-0", Truncation(250, 50), 101,
              topic="orders", partition=0),
    )  # fmt: skip
    view_ = view(snapshot(p0=(2, (1, 2), (2,))), events=events)
    rules = effective_rules({"under_replicated": RuleOverride(enabled=False)})
    (unclean,) = [f for f in evaluate(rules, view_, 200) if f.rule == "unclean_leader_election"]
    assert unclean.severity == "critical" and unclean.value == 200
    assert "broker 2 became leader outside the ISR [1]" in unclean.summary
    assert "200 records lost (log end 250 -> 50)" in unclean.summary
    # An hour later (keep_firing_for) the event rule stops finding it: the alert resolves.
    assert not [f for f in evaluate(rules, view_, 100 + 3601) if f.rule.startswith("unclean")]


def test_rule_overrides_switch_off_and_scope() -> None:
    from kafka_watchdog.config.schema_base import NameFilter

    snap = snapshot(p0=(1, (1, 2, 3), (1, 2)))
    view_ = view(snap)
    scoped = effective_rules(
        {
            "under_replicated": RuleOverride(
                topics=NameFilter(exclude=[__import__("re").compile("ord.*")])
            )
        }
    )
    assert not [f for f in evaluate(scoped, view_, 0) if f.rule == "under_replicated"]
    off = effective_rules({"under_replicated": RuleOverride(enabled=False)})
    assert not [f for f in evaluate(off, view_, 0) if f.rule == "under_replicated"]


# -- outbox ---------------------------------------------------------------------------------


def test_outbox_keeps_order_per_destination_and_survives_a_reopen(tmp_path: Path) -> None:
    store = AlertStore(tmp_path)
    now = time.time()
    rows = [
        ("oncall", "pagerduty", {"n": 1}),
        ("oncall", "pagerduty", {"n": 2}),
        ("oncall", "apprise:0", {"n": 3}),
    ]
    store.save({"alerts": [1]}, rows, now)
    due = store.due(now)
    assert [(r.target, r.payload["n"]) for r in due] == [("pagerduty", 1), ("apprise:0", 3)]
    store.failed(due[0].id, "503", now + 60)  # the trigger is retried later...
    assert [r.payload["n"] for r in store.due(now + 1)] == [3]  # ...and the resolve waits
    store.close()
    again = AlertStore(tmp_path)
    assert again.load("alerts") == [1]
    assert [r.payload["n"] for r in again.due(now + 61)] == [1, 3]
    assert again.queued() == {"oncall": 3}


def test_every_rule_has_a_runbook_and_is_documented() -> None:
    from kafka_watchdog.rules.registry import RULES

    docs = Path(__file__).resolve().parents[2] / "docs"
    text = (docs / "alerting.md").read_text()
    for rule in RULES:
        assert (docs / "runbooks" / f"{rule.name}.md").is_file(), rule.name
        assert f"`{rule.name}`" in text, rule.name


def test_unclean_election_waits_for_the_new_log_end_before_paging() -> None:
    event = Event(
        EventKind.UNCLEAN_LEADER_ELECTION, "prod", "orders-0",
        UncleanElection((-1, (1,)), (2, (2,))), 100, topic="orders", partition=0,
    )  # fmt: skip
    rules = effective_rules({})
    stale = view(snapshot(p0=(2, (1, 2), (2,))), events=(event,))

    def unclean(state: ClusterState, now: float) -> list[Finding]:
        return [f for f in evaluate(rules, state, now) if f.rule == "unclean_leader_election"]

    assert unclean(stale, 110) == []  # offsets not read since the election: wait
    (late,) = unclean(stale, 161)  # waited long enough: page without the figure
    assert "records lost: unknown" in late.summary and "the partition was offline" in late.summary
    fresh = snapshot(p0=(2, (1, 2), (2,)))
    part = dataclasses.replace(fresh.topics["orders"].partitions[0], log_end_offset=80)
    fresh = dataclasses.replace(
        fresh,
        topics=MappingProxyType({"orders": TopicState("orders", (part,))}),
        sources=MappingProxyType({"offsets": ("admin", 105.0)}),
    )
    read = view(fresh, events=(event,))
    (known,) = unclean(read, 110)
    assert "no truncation seen (log end 80 kept)" in known.summary
    # A read after the election that could not answer for the partition carries the old
    # leader's log end: not a sign that nothing was lost (a busy CI machine paged exactly
    # that claim before the new leader's log end was read).
    carried = dataclasses.replace(
        read, unknown=Unknowns(partitions=MappingProxyType({("orders", 0): 104.0}))
    )
    assert unclean(carried, 110) == []
    (late,) = unclean(carried, 161)
    assert "records lost: unknown" in late.summary


# -- senders and the outbox's thread ---------------------------------------------------------


async def test_senders_are_chosen_by_the_type_of_each_config_section() -> None:
    import aiohttp

    from kafka_watchdog.alerting.senders import senders_for
    from kafka_watchdog.config.alerting import ReceiverConfig

    receiver = ReceiverConfig.model_validate(
        {
            "name": "oncall",
            "apprise": ["json://hooks.example/a", "mailto://u:p@example.com"],
            "pagerduty": {"routing_key": "secret-key"},
            "alertmanager": {"url": "http://am.example:9093"},
        }
    )
    async with aiohttp.ClientSession() as session:
        senders = senders_for(receiver, session)
    assert [(s.kind, s.target, s.grouped) for s in senders] == [
        ("apprise", "apprise:0", True),
        ("apprise", "apprise:1", True),
        ("pagerduty", "pagerduty", True),
        ("alertmanager", "alertmanager", False),
    ]
    book = AlertBook({}, 600, 3)
    book.update([finding("offline_partitions", "critical", topic="t", partition="0")], 0)
    dispatcher = Dispatcher([Route("oncall", frozenset({"critical"}))], TIMING)
    assert dispatcher.tick(book.alerts, set(), 0) == []  # group_wait
    (n,) = dispatcher.tick(book.alerts, set(), 30)
    queued = [s.payload(n, 10) for s in senders]
    assert queued[3] is None  # Alertmanager groups alerts itself: nothing is queued for it
    assert "secret-key" not in str(queued) and "hooks.example" not in str(queued)


async def test_outbox_runs_sqlite_on_its_own_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from kafka_watchdog.alerting.outbox import Outbox

    threads: set[str] = set()
    save = AlertStore.save

    def recorded(self: AlertStore, *args: object) -> None:
        threads.add(threading.current_thread().name)
        save(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(AlertStore, "save", recorded)
    outbox = Outbox(tmp_path)
    await outbox.open()
    await outbox.save({"alerts": [1]}, [("oncall", "pagerduty", {"n": 1})], 5.0)
    assert [r.payload for r in await outbox.due(5.0)] == [{"n": 1}]
    assert await outbox.load("alerts") == [1]
    await outbox.close()
    assert len(threads) == 1 and next(iter(threads)).startswith("alerting-db")
    assert threading.current_thread().name not in threads


# -- a silence mutes, it never resolves (issue 10: PagerDuty got a resolve) ----------------


def test_dispatch_20_silencing_a_firing_alert_sends_no_resolve() -> None:
    # Fires and is told at 30; silenced from 100 while the fault holds: nothing at all is
    # sent (no resolve, no repeat), through the group interval and the repeat interval.
    silence = Silence("s1", {"topic": "orders"}, 100, 10_000)
    steps = [(0, urp(1)), (30, urp(1)), (100, urp(1)), (400, urp(1)), (3700, urp(1))]
    assert run(steps, [silence]) == [(30, "firing", 1, 0, True)]


def test_dispatch_21_the_silence_ends_and_the_still_firing_alert_is_told_again() -> None:
    silence = Silence("s1", {"topic": "orders"}, 100, 500)
    steps = [(0, urp(1)), (30, urp(1)), (100, urp(1)), (400, urp(1)), (500, urp(1))]
    steps += [(700, urp(1)), (800, urp(1))]
    assert run(steps, [silence]) == [(30, "firing", 1, 0, True), (500, "firing", 1, 0, False)]


def test_dispatch_22_a_muted_alert_that_really_ends_is_resolved() -> None:
    # Told at 30, silenced at 100, the fault ends at 200: the resolve is real and is told
    # (PagerDuty's incident must close), at the group's next interval.
    silence = Silence("s1", {"topic": "orders"}, 100, 10_000)
    steps = [(0, urp(1)), (30, urp(1)), (100, urp(1)), (200, []), (400, [])]
    assert run(steps, [silence]) == [(30, "firing", 1, 0, True), (400, "resolved", 0, 1, False)]


def test_dispatch_23_one_of_two_silenced_the_other_keeps_the_incident_open() -> None:
    # Partitions 0 and 1 told; partition 0 silenced: the group's next message lists only
    # partition 1 as firing and resolves nothing; partition 1 then ends while 0 is still
    # firing (muted): the group stays open, no resolve is sent.
    silence = Silence("s1", {"partition": "0"}, 100, 10_000)
    steps = [(0, urp(2)), (30, urp(2)), (100, urp(2)), (400, urp(2))]
    steps += [(500, [urp(2)[0]]), (800, [urp(2)[0]]), (1200, [urp(2)[0]])]
    sent = run(steps, [silence])
    assert sent == [(30, "firing", 2, 0, True), (400, "firing", 1, 0, False)], sent
