"""Prometheus collector over the latest snapshots.

`collect()` runs inside the /metrics handler: it only reads what the collection loops stored
and builds fresh metric families each time, so a scrape never waits on Kafka and a deleted
topic's series vanish with it.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable, Iterator, Sequence

import confluent_kafka
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from watchdog import __version__
from watchdog.app.watcher import ClusterWatcher

SCHEDULE_NOTE = " Collected on the watchdog's schedule, not at scrape time."
ZK_STATES = ("CONNECTED", "CONNECTING", "SUSPENDED", "LOST")


class WatchdogCollector(Collector):
    def __init__(self, watchers: Sequence[ClusterWatcher]) -> None:
        self.watchers = watchers

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on what was collected; no up-front description

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        build = GaugeMetricFamily(
            "kafka_watchdog_build_info",
            "Version of kafka-watchdog and of the libraries it reads Kafka with.",
            labels=["version", "python_version", "librdkafka_version"],
        )
        versions = [__version__, platform.python_version(), confluent_kafka.libversion()[0]]
        build.add_metric(versions, 1)
        yield build

        up = _gauge("up", "1 when the watchdog has a fresh view of the cluster, else 0.", [])
        age = _gauge("snapshot_age_seconds", "Age of the latest cluster view.", [])
        stage = ["source", "stage"]
        success = _gauge(
            "last_collection_success_timestamp_seconds",
            "When a collection stage last succeeded (Unix time).",
            stage,
        )
        duration = _gauge(
            "collection_duration_seconds", "Duration of the stage's last collection.", stage
        )
        attempts = _counter("collections", "Collections attempted per source and stage.", stage)
        errors = _counter("collection_errors", "Collections failed per source and stage.", stage)
        zk_state = _gauge(
            "zookeeper_session_state",
            "1 for the current state of the ZooKeeper session, 0 for the others.",
            ["state"],
        )
        info = _gauge("cluster_info", "Identity of the watched cluster.", ["cluster_id", "mode"])
        brokers = _gauge("brokers", "Brokers registered in the cluster metadata.", [])
        controller = _gauge(
            "controller_id", "Broker id of the active controller as the source reports it.", []
        )
        topics = _gauge("topics", "Topics watched (after the topic filters).", [])
        partitions = _gauge("partitions", "Partitions of the watched topics.", [])

        for watcher in self.watchers:
            name = watcher.name
            ready, _ = watcher.ready(now)
            up.add_metric([name], 1.0 if ready else 0.0)
            for health in watcher.health.sources():
                labels = [name, health.source, health.stage]
                if health.last_success is not None:
                    success.add_metric(labels, health.last_success)
                if health.last_duration is not None:
                    duration.add_metric(labels, health.last_duration)
                attempts.add_metric(labels, health.attempts_total)
                errors.add_metric(labels, health.errors_total)
            if watcher.health.zookeeper is not None:
                current = watcher.health.zookeeper_state or "CONNECTING"
                for state in ZK_STATES:
                    zk_state.add_metric([name, state], 1.0 if state == current else 0.0)
            snap = watcher.store.latest
            if snap is None:
                continue
            age.add_metric([name], max(0.0, now - snap.taken_at))
            info.add_metric([name, snap.cluster_id or "", snap.mode.value], 1)
            brokers.add_metric([name], len(snap.brokers))
            if snap.controller_id is not None:
                controller.add_metric([name], snap.controller_id)
            topics.add_metric([name], len(snap.topics))
            partitions.add_metric([name], snap.partition_count)

        yield from (up, age, success, duration, attempts, errors, zk_state, info, brokers)
        yield from (controller, topics, partitions)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        f"kafka_watchdog_{name}", doc + SCHEDULE_NOTE, labels=["kafka_cluster", *labels]
    )


def _counter(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(
        f"kafka_watchdog_{name}", doc + SCHEDULE_NOTE, labels=["kafka_cluster", *labels]
    )
