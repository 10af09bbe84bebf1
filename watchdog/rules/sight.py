"""The watchdog's own sight of a cluster: no fresh view, no ZooKeeper session, or a stage
that answers only in part."""

from __future__ import annotations

import time
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


# Stages whose blindness another rule already tells: no fresh metadata is cluster_unseen,
# a lost ZooKeeper session is zookeeper_session_lost.
TOLD_ELSEWHERE = frozenset({"metadata", "zookeeper"})
PARTS = {"groups": "consumer groups", "offsets": "partitions' log offsets", "configs": "topics"}


def partly_blind(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    for stage, blind in sorted(state.unknown.stages.items()):
        if stage in TOLD_ELSEWHERE:
            continue
        what = (
            f"answers for all but {blind.parts} {PARTS.get(stage, 'parts')}"
            if blind.partial and blind.parts
            else "answers only in part"
            if blind.partial
            else "gets no answer"
        )
        since = time.strftime("%H:%M:%S", time.gmtime(blind.since)) + "Z"
        yield rule.finding(
            state,
            f"the {stage} stage {what} since {since} ({blind.reason}); their last known "
            f"state is kept and alerts on them hold: {blind.detail}",
            float(blind.parts or 0),
            stage=stage,
        )


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
        "partly_blind",
        "warning",
        "A collection stage (groups, offsets, configs, quorum) answers only in part or not "
        "at all: what it lacks keeps its last known state and alerts on it hold.",
        ("stage",),
        partly_blind,
        for_=120,
        needs_snapshot=False,
        prometheus=PromQL(
            Concern.SELF,
            # The series exists exactly while the stage lacks part of its answer.
            "kafka_watchdog_unknown_since_timestamp_seconds > 0",
            "kafka-watchdog {{ $labels.instance }} is partly blind to Kafka cluster "
            "{{ $labels.kafka_cluster }} (stage {{ $labels.stage }})",
            "The {{ $labels.stage }} stage of the watchdog has answered only in part, or not "
            "at all, for $for (kafka_watchdog_unknown_since_timestamp_seconds says since "
            "when, kafka_watchdog_unknown_parts how much): what it lacks keeps its last known "
            "state and alerts on it hold. /api/clusters names the parts and the error.",
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
