"""Prometheus collector over the latest snapshots and evaluations.

`collect()` runs inside the /metrics handler: it only reads what the collection loops stored
and builds fresh metric families each time, so a scrape never waits on Kafka and the series of
a deleted topic or group vanish with it. Every metric is documented in docs/metrics.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from watchdog.app.watcher import ClusterWatcher
from watchdog.config.schema import MetricsConfig
from watchdog.sinks.metrics import cluster, compat, groups, own
from watchdog.sinks.metrics.families import Families


class WatchdogCollector(Collector):
    def __init__(self, watchers: Sequence[ClusterWatcher], config: MetricsConfig | None = None):
        self.watchers = watchers
        self.config = config or MetricsConfig()

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on what was collected; no up-front description

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        fams = Families()
        own.build_info(fams)
        for watcher in self.watchers:
            own.collect(fams, watcher, now)
            snapshot = watcher.store.latest
            if snapshot is None:
                continue
            cluster.collect(fams, watcher, snapshot, self.config)
            groups.collect(fams, watcher, self.config)
        if self.config.kafka_exporter_compat:
            compat.collect(fams, self.watchers, with_cluster_label=len(self.watchers) > 1)
        yield from fams
