"""The rule registry: each rule declared once, and each declaration true to what it finds."""

from __future__ import annotations

import dataclasses
import math

import pytest
from pydantic import ValidationError

from kafka_watchdog.alerting.evaluation import effective_rules, evaluate
from kafka_watchdog.config.alerting import AlertingConfig, RuleOverride
from kafka_watchdog.detection.assess import assess
from kafka_watchdog.model.disks import BrokerDisks, LogDir
from kafka_watchdog.model.events import (
    CommitBelowStart,
    ControllerChange,
    Event,
    EventKind,
    IsrChange,
    Truncation,
    UncleanElection,
)
from kafka_watchdog.model.foresight import (
    GroupForesight,
    PartitionForesight,
    Rates,
    TopicForesight,
)
from kafka_watchdog.model.health import ClusterHealth
from kafka_watchdog.model.lag import GroupLag, LagStatus, PartitionLag
from kafka_watchdog.model.snapshot import (
    Broker,
    ClusterSnapshot,
    PartitionState,
    TopicConfig,
    TopicState,
    frozen_map,
)
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.model.unknown import Blind, Unknowns
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.registry import BY_NAME, RULES
from kafka_watchdog.rules.spec import DEFAULT_RUNBOOK_BASE_URL, DaemonOnly, RuleSpec

NOW = 10_000.0


def state(
    snapshot: ClusterSnapshot | None, *, fresh: bool = True, **fields: object
) -> ClusterState:
    health = ClusterHealth("prod", zookeeper_configured=True)
    if fresh:
        health = health.with_stage(health.admin.succeeded(NOW, NOW))
    else:
        health = health.with_stage(health.admin.failed(NOW - 300, NOW - 299, "unreachable"))
    base = ClusterState(
        "prod",
        health.with_zookeeper_state("CONNECTED"),
        stale_after=60.0,
        snapshot=snapshot,
        assessment=assess(snapshot, 2) if snapshot is not None else None,
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def snapshot(controller: int | None = 1) -> ClusterSnapshot:
    parts = (
        PartitionState("orders", 0, 1, (1, 2, 3), (1,)),  # under-replicated, under min ISR
        PartitionState("orders", 1, -1, (3,), (3,)),  # offline
        PartitionState("orders", 2, 1, (1, 2), (1, 2)),
    )
    risky = TopicState("risky", (PartitionState("risky", 0, 1, (1, 2), (1, 2)),),
                       config=TopicConfig(1, True))  # fmt: skip
    return ClusterSnapshot(
        cluster="prod",
        taken_at=NOW,
        cluster_id="c",
        brokers=frozen_map({i: Broker(i, "h", 1) for i in (1, 2)}),
        controller_id=controller,
        topics=frozen_map(
            {"orders": TopicState("orders", parts, config=TopicConfig(2, False)), "risky": risky}
        ),
        sources=frozen_map({"offsets": ("admin", NOW), "controller": ("zookeeper", NOW)}),
    )


def event(kind: EventKind, change: object, at: float, **where: object) -> Event:
    return Event(kind, "prod", "s", change, at, **where)  # type: ignore[arg-type]


EVENTS = (
    event(EventKind.UNCLEAN_LEADER_ELECTION, UncleanElection((1, (1,)), (2, (2,))), NOW - 5,
          topic="orders", partition=0),
    event(EventKind.LOG_TRUNCATION, Truncation(100, 40), NOW - 4, topic="orders", partition=0),
    *(event(EventKind.CONTROLLER_CHANGED, ControllerChange((1, i), (2, i + 1)), NOW - 10 + i,
            broker=2) for i in range(4)),
    *(event(EventKind.ISR_SHRINK, IsrChange((1, 2), (1,)), NOW - 60 + i / 10, topic="orders",
            partition=0, broker=2) for i in range(51)),
)  # fmt: skip

LAG = frozen_map(
    {
        "billing": GroupLag(
            "billing",
            "Empty",
            0,
            (
                PartitionLag("orders", 0, 10, 200_010, 200_000, 900.0, LagStatus.STOP),
                PartitionLag("orders", 2, 50, 40, 0, 0.0, LagStatus.STOP),
            ),
            LagStatus.STOP,
        )
    }
)

# Foresight: billing never catches up on orders, and retention reaches its unread records on
# orders-0 in 10 minutes; broker 2's second log dir failed; retention already deleted
# records billing had not read on orders-2.
FORESIGHT = frozen_map(
    {
        "billing": GroupForesight(
            "billing",
            frozen_map({"orders": TopicForesight("orders", math.inf, 600.0, 0)}),
            (
                PartitionForesight("orders", 0, Rates(0.0, 5.0, 60.0), math.inf, 600.0, "time"),
                PartitionForesight("orders", 2, Rates(0.0, 0.0, 60.0), 0.0, math.inf),
            ),
        )
    }
)
DISKS = frozen_map(
    {
        2: BrokerDisks(
            2,
            frozen_map(
                {
                    "/d0": LogDir("/d0", None, frozen_map({("orders", 2): 10})),
                    "/d1": LogDir("/d1", "KAFKA_STORAGE_ERROR", frozen_map({("orders", 0): 5})),
                }
            ),
            NOW,
        )
    }
)
SKIPPED = event(EventKind.OFFSET_BELOW_LOG_START, CommitBelowStart(10, 25), NOW - 3,
                topic="orders", partition=2, group="billing")  # fmt: skip

# (case, state): between them every rule of the registry finds something.
STATES = [
    ("01 broken partitions, a gone broker, data loss, rates, lag, foresight, disks", state(
        snapshot(), events=(*EVENTS, SKIPPED), lag=LAG, known_brokers=frozenset({1, 2, 3}),
        foresight=FORESIGHT, log_dirs=DISKS)),
    ("02 no controller known, ZooKeeper session lost", state(
        snapshot(controller=None), health=state(None).health.with_zookeeper_state("LOST"))),
    ("03 the watchdog lost sight of the cluster", state(None, fresh=False)),
    ("04 the groups stage answers in part", state(snapshot(), unknown=Unknowns(
        groups=frozen_map({"billing": NOW - 30}), stages=frozen_map({"groups": Blind(
            "groups", NOW - 30, "coordinator", "3 of 9 groups unread", 3, True)})))),
]  # fmt: skip


def findings() -> list[tuple[str, Finding]]:
    rules = effective_rules({})
    return [(case, f) for case, s in STATES for f in evaluate(rules, [s], NOW)[0]]


def test_01_each_rule_is_declared_once_with_a_runbook() -> None:
    assert len(BY_NAME) == len(RULES)
    for rule in RULES:
        assert rule.runbook == f"docs/runbooks/{rule.name}.md"
        assert rule.runbook_url() == f"{DEFAULT_RUNBOOK_BASE_URL}/{rule.name}.md"
        assert rule.summary.endswith("."), rule.name
        # The summary (docs, config help) names the threshold exactly when there is one.
        assert (rule.threshold is not None) == ("`threshold`" in rule.summary), rule.name


def test_02_every_rule_finds_its_condition_with_the_labels_it_declares() -> None:
    found = findings()
    fired = {f.rule for _, f in found}
    assert fired == set(BY_NAME), f"never fired: {sorted(set(BY_NAME) - fired)}"
    for case, f in found:
        declared = {"kafka_cluster", *BY_NAME[f.rule].labels}
        assert set(f.labels) == declared, (case, f.rule, sorted(f.labels))
        assert (f.severity, f.runbook) == (BY_NAME[f.rule].severity, BY_NAME[f.rule].runbook_url())


def test_03_a_cluster_without_a_view_is_held_and_only_judged_by_sight() -> None:
    rules = effective_rules({})
    lost, held = evaluate(rules, [STATES[2][1]], NOW)
    assert held == {"prod"}
    assert {f.rule for f in lost} == {"cluster_unseen"}  # needs_snapshot=False only
    just_started = state(None, fresh=False, health=ClusterHealth("prod"))
    assert evaluate(rules, [just_started], NOW) == ([], frozenset({"prod"}))


def test_04_runbook_links_are_absolute_from_one_base() -> None:
    wiki = "https://wiki.example.com/kafka/runbooks"
    config = AlertingConfig(
        runbook_base_url=wiki + "/",
        rules={"consumer_lag": RuleOverride(runbook="https://wiki.example.com/lag")},
    )
    rules = effective_rules(config.rules, config.runbook_base_url)
    assert rules["under_replicated"].runbook == f"{wiki}/under_replicated.md"
    assert rules["consumer_lag"].runbook == "https://wiki.example.com/lag"  # the rule's own
    assert AlertingConfig().runbook_base_url == DEFAULT_RUNBOOK_BASE_URL
    for relative in ("docs/runbooks", "wiki.example.com/kafka", "https://a b/c", "file:///x"):
        with pytest.raises(ValidationError, match="absolute http"):
            AlertingConfig(runbook_base_url=relative)


def test_05_a_rule_without_its_prometheus_form_is_refused_where_it_is_declared() -> None:
    # Engineers add rules while others change the registry: a declaration that says nothing
    # about Prometheus fails at import (and in mypy), it does not silently lack an alert.
    with pytest.raises(TypeError, match="prometheus"):
        RuleSpec("x", "warning", "X.", (), lambda rule, state, now: ())  # type: ignore[call-arg]
    daemon_only = RuleSpec(
        "x", "warning", "X.", (), lambda rule, state, now: (), prometheus=DaemonOnly("why")
    )
    assert isinstance(daemon_only.prometheus, DaemonOnly)
