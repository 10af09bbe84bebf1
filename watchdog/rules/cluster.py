"""Brokers and the controller."""

from __future__ import annotations

import time
from collections.abc import Iterator

from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import RuleSpec, Settings


def broker_gone(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    snap = state.snapshot
    if snap is None:
        return
    for broker in sorted(state.known_brokers - snap.brokers.keys()):
        held = sum(1 for t in snap.topics.values() for p in t.partitions if broker in p.replicas)
        yield rule.finding(
            state,
            f"broker {broker} is not registered; it holds replicas of {held} partitions",
            held,
            broker=broker,
        )


def controller_missing(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    snap = state.snapshot
    if snap is None or not state.ready(now)[0] or not snap.brokers:
        return
    if snap.controller_id is None:
        yield rule.finding(state, "no active controller is known")
    elif state.unknown.controller is not None:
        # The snapshot carries the last one (for the change to be seen as old -> new).
        yield rule.finding(
            state,
            f"no active controller is known (the last one was {snap.controller_id}; the "
            "sources report none since "
            + time.strftime("%H:%M:%S", time.gmtime(state.unknown.controller))
            + "Z)",
        )


RULES = (
    RuleSpec(
        "broker_gone",
        "critical",
        "A broker that was registered or holds replicas is not registered.",
        ("broker",),
        broker_gone,
        for_=30,
    ),
    RuleSpec(
        "controller_missing",
        "critical",
        "No active controller is known although the cluster reports one normally.",
        (),
        controller_missing,
        for_=60,
    ),
)
