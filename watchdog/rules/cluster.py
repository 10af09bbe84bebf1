"""Brokers and the controller."""

from __future__ import annotations

import time
from collections.abc import Iterator

from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import Concern, PromQL, RuleSpec, Settings


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
    if snap.controller_id is None and "controller" not in snap.sources:
        # No source has answered about the controller yet (KRaft: the quorum stage, right
        # after a start or while it times out): unknown, not missing. partly_blind says so;
        # an open alert holds (alerting/holding.py).
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
        prometheus=PromQL(
            Concern.AVAILABILITY,
            # min: gone as soon as one replica of an HA deployment sees it gone.
            "min by (kafka_cluster, broker) (kafka_watchdog_broker_up) == 0",
            "Broker {{ $labels.broker }} is not registered in Kafka cluster "
            "{{ $labels.kafka_cluster }}",
            "Broker {{ $labels.broker }} was registered or holds replicas, and has not been "
            "registered for $for: its partitions are under-replicated, or offline where it "
            "was the last in-sync replica.",
        ),
    ),
    RuleSpec(
        "controller_missing",
        "critical",
        "No active controller is known although the cluster reports one normally.",
        (),
        controller_missing,
        for_=60,
        prometheus=PromQL(
            Concern.CONTROLLER,
            # Only on a fresh view (kafka_watchdog_up) of a cluster with brokers, as above.
            "max by (kafka_cluster) (kafka_watchdog_brokers > 0 and kafka_watchdog_up == 1"
            " unless kafka_watchdog_controller_id)",
            "No active controller in Kafka cluster {{ $labels.kafka_cluster }}",
            "The watchdog sees {{ $value }} brokers but no active controller for $for: no "
            "leader elections, ISR changes or topic changes happen, and a broker failure "
            "now leaves its partitions offline.",
        ),
    ),
)
