"""The watchdog's own health: is it seeing each cluster, and how its collections fare."""

from __future__ import annotations

import platform

from kafka_watchdog import __version__
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.model.unknown import PART_STAGES
from kafka_watchdog.sinks.metrics.families import Families

ZK_STATES = ("CONNECTED", "CONNECTING", "SUSPENDED", "LOST")
C = "kafka_cluster"


def build_info(fams: Families, librdkafka_version: str = "") -> None:
    """`librdkafka_version` as the Admin API worker reported it (the daemon's own process
    does not load librdkafka); empty until a worker has started."""
    versions = [__version__, platform.python_version(), librdkafka_version]
    fams.gauge(
        "build_info", ["version", "python_version", "librdkafka_version"], scheduled=False
    ).add_metric(versions, 1)


def collect(fams: Families, cluster: ClusterState, now: float) -> None:
    name = cluster.name
    ready, _ = cluster.ready(now)
    fams.gauge("up", [C]).add_metric([name], 1.0 if ready else 0.0)
    stage = [C, "source", "stage"]
    success = fams.gauge("last_collection_success_timestamp_seconds", stage)
    duration = fams.gauge("collection_duration_seconds", stage)
    attempts = fams.counter("collections", stage)
    errors = fams.counter("collection_errors", stage)
    failing = fams.gauge("collection_failing", [*stage, "reason"])
    partial = fams.counter("partial_answers", stage)
    lost = fams.counter("collections_lost", stage)
    for health in cluster.health.sources():
        labels = [name, health.source, health.stage]
        if health.last_success is not None:
            success.add_metric(labels, health.last_success)
        if health.last_duration is not None:
            duration.add_metric(labels, health.last_duration)
        attempts.add_metric(labels, health.attempts_total)
        errors.add_metric(labels, health.errors_total)
        partial.add_metric(labels, health.partial_total)
        lost.add_metric(labels, health.lost_total)
        if health.last_reason is not None:
            failing.add_metric([*labels, health.last_reason], 1.0)
    unknown = cluster.unknown
    parts = fams.gauge("unknown_parts", [C, "stage"])
    since = fams.gauge("unknown_since_timestamp_seconds", [C, "stage"])
    for part_stage in PART_STAGES:
        parts.add_metric([name, part_stage], unknown.parts(part_stage))
    for blind_stage in sorted({*PART_STAGES, *unknown.stages}):
        oldest = unknown.oldest(blind_stage)
        if oldest is not None:
            since.add_metric([name, blind_stage], oldest)
    if cluster.admin_worker_restarts:
        restarts = fams.counter("admin_worker_restarts", [C, "cause"])
        for cause, count in sorted(cluster.admin_worker_restarts.items()):
            restarts.add_metric([name, cause], count)
    current = cluster.zookeeper_state
    if current is not None:
        zk_state = fams.gauge("zookeeper_session_state", [C, "state"])
        for state in ZK_STATES:
            zk_state.add_metric([name, state], 1.0 if state == current else 0.0)
        fams.counter("zookeeper_malformed_znodes", [C]).add_metric(
            [name], cluster.zookeeper_malformed
        )
    snap = cluster.snapshot
    if snap is not None:
        fams.gauge("snapshot_age_seconds", [C]).add_metric([name], max(0.0, now - snap.taken_at))
