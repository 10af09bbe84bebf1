"""The watchdog's own sight of a cluster: no fresh view, no ZooKeeper session."""

from __future__ import annotations

from collections.abc import Iterator

from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import Concern, PromQL, RuleSpec, Settings


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
        prometheus=PromQL(
            Concern.SELF,
            # Per watchdog instance: a replica that cannot see the cluster is worth knowing.
            "kafka_watchdog_up == 0",
            "kafka-watchdog {{ $labels.instance }} has no fresh view of Kafka cluster "
            "{{ $labels.kafka_cluster }}",
            "The watchdog's view of Kafka cluster {{ $labels.kafka_cluster }} has been older "
            "than collection.stale_after for $for (kafka_watchdog_snapshot_age_seconds): "
            "the cluster is not watched and its other alerts are guesses. "
            "kafka_watchdog_collection_failing and /readyz give the failing stage and why.",
        ),
    ),
    RuleSpec(
        "zookeeper_session_lost",
        "warning",
        "The watchdog's ZooKeeper session is not connected.",
        (),
        zookeeper_lost,
        for_=60,
        prometheus=PromQL(
            Concern.SELF,
            'kafka_watchdog_zookeeper_session_state{state="CONNECTED"} == 0',
            "kafka-watchdog {{ $labels.instance }} lost its ZooKeeper session to Kafka "
            "cluster {{ $labels.kafka_cluster }}",
            "The watchdog's ZooKeeper session for Kafka cluster {{ $labels.kafka_cluster }} "
            "has not been connected for $for: ISR and leader changes are seen only at the "
            "Admin API's pace (collection.metadata_interval), not as they happen.",
        ),
    ),
)
