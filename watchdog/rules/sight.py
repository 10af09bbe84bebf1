"""The watchdog's own sight of a cluster: no fresh view, no ZooKeeper session."""

from __future__ import annotations

from collections.abc import Iterator

from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import RuleSpec, Settings


def unseen(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    if state.snapshot is None and not state.health.admin.consecutive_failures:
        return  # just started: not failing yet, only not done
    ready, reason = state.ready(now)
    if not ready:
        yield rule.finding(state, f"no fresh view of cluster {state.name}: {reason}")


def zookeeper_lost(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    session = state.zookeeper_state
    if session is not None and session != "CONNECTED":
        yield rule.finding(state, f"ZooKeeper session {session}: the ZooKeeper view is stale")


RULES = (
    RuleSpec(
        "cluster_unseen",
        "critical",
        "The watchdog has no fresh view of the cluster.",
        (),
        unseen,
        for_=60,
        needs_snapshot=False,
    ),
    RuleSpec(
        "zookeeper_session_lost",
        "warning",
        "The watchdog's ZooKeeper session is not connected.",
        (),
        zookeeper_lost,
        for_=60,
    ),
)
