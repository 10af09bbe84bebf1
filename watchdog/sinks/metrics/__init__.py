"""The /metrics exposition, built from the latest snapshots and evaluations.

A scrape never waits on Kafka: it only reads what the collection loops stored. The bulk of
the output (partitions, groups, kafka_exporter names) changes only when a watcher stores a
new snapshot, so it is built once per snapshot generation and reused, encoded and gzipped,
by every scrape until the next one; only the watchdog's own few series (ages, collection
health) are built for each scrape. Series of a deleted topic or group vanish with the next
snapshot. Every metric is documented in docs/metrics.md.
"""

from __future__ import annotations

import gzip
import time
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client import generate_latest as text_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from kafka_watchdog.alerting.service import AlertingService
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.sinks.metrics import alerts, cluster, compat, groups, own
from kafka_watchdog.sinks.metrics.families import Families, render

# Cached bodies kept: one per (format, set of clusters asked for), each for its generation.
CACHE_ENTRIES = 16
GZIP_LEVEL = 3  # cheap: the gzipped bulk is cached, the per-scrape part is small


@dataclass
class _Body:
    generations: tuple[int, ...]
    chunks: list[bytes]
    gzipped: bytes | None = field(default=None)

    def gzip(self) -> bytes:
        if self.gzipped is None:
            packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: gzip framing
            self.gzipped = b"".join([*map(packer.compress, self.chunks), packer.flush()])
        return self.gzipped


class MetricsRenderer:
    def __init__(
        self,
        watchers: Sequence[ClusterWatcher],
        config: MetricsConfig | None = None,
        process_registry: CollectorRegistry | None = REGISTRY,
        alerting: AlertingService | None = None,
    ) -> None:
        self.alerting = alerting
        self.watchers = list(watchers)
        self.config = config or MetricsConfig()
        # process_* and python_* of the daemon itself (RSS, CPU, GC), from prometheus_client.
        self.process_registry = process_registry
        self._per_cluster: dict[str, tuple[int, Families]] = {}
        self._compat: tuple[tuple[int, ...], Families] | None = None
        self._bodies: OrderedDict[tuple[bool, tuple[str, ...]], _Body] = OrderedDict()

    # -- the parts ------------------------------------------------------------------------

    def own_families(self, watchers: Sequence[ClusterWatcher], now: float) -> Families:
        fams = Families()
        own.build_info(fams)
        for watcher in watchers:
            own.collect(fams, watcher, now)
        if self.alerting is not None:
            alerts.collect(fams, self.alerting, {w.name for w in watchers})
        return fams

    def cluster_families(self, watcher: ClusterWatcher) -> Families:
        cached = self._per_cluster.get(watcher.name)
        if cached is not None and cached[0] == watcher.generation:
            return cached[1]
        fams = Families()
        snapshot = watcher.store.latest
        if snapshot is not None:
            cluster.collect(fams, watcher, snapshot, self.config)
            groups.collect(fams, watcher, self.config)
        fams.compact()
        self._per_cluster[watcher.name] = (watcher.generation, fams)
        return fams

    def compat_families(self, watchers: Sequence[ClusterWatcher]) -> Families | None:
        if not self.config.kafka_exporter_compat:
            return None
        key = tuple(w.generation for w in watchers)
        # Labels differ with the number of clusters shown, so a cache entry is per selection.
        if (
            self._compat is not None
            and self._compat[0] == key
            and len(watchers) == len(self.watchers)
        ):
            return self._compat[1]
        fams = Families()
        compat.collect(fams, watchers, with_cluster_label=len(watchers) > 1)
        fams.compact()
        if len(watchers) == len(self.watchers):
            self._compat = (key, fams)
        return fams

    def families(self, watchers: Sequence[ClusterWatcher], now: float) -> list[Families]:
        """Everything, in exposition order (used by the docs check)."""
        parts = [self.own_families(watchers, now)]
        parts += [self.cluster_families(w) for w in watchers]
        extra = self.compat_families(watchers)
        return parts + ([extra] if extra is not None else [])

    # -- the exposition -------------------------------------------------------------------

    def _bulk(self, watchers: Sequence[ClusterWatcher], openmetrics: bool) -> _Body:
        key = (openmetrics, tuple(w.name for w in watchers))
        generations = tuple(w.generation for w in watchers)
        body = self._bodies.get(key)
        if body is not None and body.generations == generations:
            self._bodies.move_to_end(key)
            return body
        parts = [self.cluster_families(w) for w in watchers]
        extra = self.compat_families(watchers)
        if extra is not None:
            parts.append(extra)
        chunks = render(parts, openmetrics) + ([b"# EOF\n"] if openmetrics else [])
        body = self._bodies[key] = _Body(generations, chunks)
        self._bodies.move_to_end(key)
        while len(self._bodies) > CACHE_ENTRIES:
            self._bodies.popitem(last=False)
        return body

    def chunks(
        self,
        watchers: Sequence[ClusterWatcher] | None = None,
        *,
        openmetrics: bool = False,
        gzipped: bool = False,
        now: float | None = None,
    ) -> list[bytes]:
        """The body of a /metrics answer, as chunks to write in order. Concatenated gzip
        members are one valid gzip stream (RFC 1952), so the cached gzipped bulk follows the
        fresh head as it is."""
        chosen = self.watchers if watchers is None else list(watchers)
        own_part = self.own_families(chosen, time.time() if now is None else now)
        head = b"".join([self._process(openmetrics).encode(), *render([own_part], openmetrics)])
        bulk = self._bulk(chosen, openmetrics)
        if gzipped:
            return [gzip.compress(head, GZIP_LEVEL), bulk.gzip()]
        return [head, *bulk.chunks]

    def exposition(
        self,
        watchers: Sequence[ClusterWatcher] | None = None,
        *,
        openmetrics: bool = False,
        gzipped: bool = False,
        now: float | None = None,
    ) -> bytes:
        """`chunks`, joined."""
        return b"".join(self.chunks(watchers, openmetrics=openmetrics, gzipped=gzipped, now=now))

    def _process(self, openmetrics: bool) -> str:
        if self.process_registry is None:
            return ""
        if openmetrics:
            text: str = openmetrics_latest(self.process_registry).decode()  # type: ignore[no-untyped-call]
            return text.removesuffix("# EOF\n")
        return text_latest(self.process_registry).decode()
