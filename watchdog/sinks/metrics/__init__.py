"""The /metrics exposition, built from the latest snapshots and evaluations.

A scrape never waits on Kafka: it only reads what the collection loops stored. The bulk of
the output (partitions, groups, kafka_exporter names) changes only when a cluster's published
state holds a new snapshot, so it is built once per state version and reused, encoded and
compressed, by every scrape until the next one; only the watchdog's own few series (ages,
collection health, the process) are built for each scrape, and come after the bulk. Series of
a deleted topic or group vanish with the next snapshot. Every metric is documented in
docs/metrics.md.

The bulk is built in a thread (hundreds of milliseconds of CPU at 10,000 partitions): the
event loop goes on serving scrapes, the API and the collection meanwhile. A scrape that
arrives while a newer version is being built gets the bulk of the version before, whole
and consistent with its own series, rather than waiting for the build.
"""

from __future__ import annotations

import asyncio
import functools
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client import generate_latest as text_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from kafka_watchdog.alerting.status import AlertingStatus
from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.model.published import Published
from kafka_watchdog.model.state import ClusterBoard, ClusterState
from kafka_watchdog.sinks.metrics import alerts, cluster, compat, foresight, groups, own
from kafka_watchdog.sinks.metrics.families import Families, render

# Cached bodies kept: one per (format, set of clusters asked for), each for its versions.
CACHE_ENTRIES = 16
GZIP_LEVEL = 3  # cheap: the compressed bulk is cached, the per-scrape part is small
# How often the exposition is checked against the published versions (keep_ready), and for
# how long after a scrape in a format (OpenMetrics, gzip) that format is prepared in advance.
PREPARE_EVERY = 0.1
FORMAT_WANTED_FOR = 600.0
# A gzip member's header (RFC 1952): magic, deflate, no flags, no mtime, unknown OS.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def _deflate(chunks: Sequence[bytes], final: bool) -> tuple[bytes, int, int]:
    """Raw deflate of the chunks (one after the other, never joined), their CRC-32 and
    length. Not final: the stream ends with a sync flush (byte-aligned, no last block), so
    another raw deflate stream may follow it as one stream."""
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15)
    parts, crc, size = [], 0, 0
    for chunk in chunks:
        parts.append(packer.compress(chunk))
        crc, size = zlib.crc32(chunk, crc), size + len(chunk)
    parts.append(packer.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH))
    return b"".join(parts), crc, size


@dataclass(frozen=True, eq=False)  # `same`, never ==: that would compare whole maps
class _Inputs:
    """What a part of a cluster's bulk was built from."""

    objects: tuple[object, ...]  # compared by identity
    values: tuple[object, ...] = ()  # compared by equality

    def same(self, other: _Inputs) -> bool:
        return (
            len(self.objects) == len(other.objects)
            and all(a is b for a, b in zip(self.objects, other.objects, strict=True))
            and self.values == other.values
        )


@dataclass
class _Body:
    versions: tuple[int, ...]
    chunks: list[bytes]
    # What it was built from: a scrape's own series describe the same versions.
    states: tuple[ClusterState, ...] = ()
    # The chunks as raw deflate ending in a sync flush, their CRC-32 and length: made once,
    # on the first gzipped scrape.
    deflated: tuple[bytes, int, int] | None = field(default=None)
    # The deflate running in a thread (zlib lets the event loop run meanwhile).
    deflating: asyncio.Future[tuple[bytes, int, int]] | None = field(default=None)

    def deflate(self) -> tuple[bytes, int, int]:
        if self.deflated is None:
            self.deflated = _deflate(self.chunks, final=False)
        return self.deflated

    async def deflate_off_loop(self) -> tuple[bytes, int, int]:
        if self.deflated is not None:
            return self.deflated
        if self.deflating is None:
            self.deflating = asyncio.ensure_future(asyncio.to_thread(_deflate, self.chunks, False))
        deflated = await asyncio.shield(self.deflating)
        self.deflated = deflated
        return deflated


@dataclass
class _Build:
    versions: tuple[int, ...]
    future: asyncio.Future[_Body]


class MetricsRenderer:
    """Renders what the clusters (and alerting) published; never reads a loop's own state."""

    def __init__(
        self,
        board: ClusterBoard,
        config: MetricsConfig | None = None,
        process_registry: CollectorRegistry | None = REGISTRY,
        alerting: Published[AlertingStatus] | None = None,
        librdkafka_version: Published[str] | None = None,
    ) -> None:
        self.alerting = alerting
        # As the Admin API workers report it (the daemon's own process never loads it).
        self.librdkafka_version = librdkafka_version
        self.board = board
        self.config = config or MetricsConfig()
        # process_* and python_* of the daemon itself (RSS, CPU, GC), from prometheus_client.
        self.process_registry = process_registry
        # Per cluster: the version last built, and each part with the inputs it was built from.
        self._per_cluster: dict[str, tuple[int, list[Families]]] = {}
        self._cluster_parts: dict[tuple[str, str], tuple[_Inputs, Families]] = {}
        self._compat: tuple[tuple[int, ...], Families] | None = None
        self._bodies: OrderedDict[tuple[bool, tuple[str, ...]], _Body] = OrderedDict()
        # When a scrape last asked for OpenMetrics, and for gzip (keep_ready prepares them).
        self._wanted: dict[str, float] = {}
        # The builds running in a thread, per cache key; and the lock every build holds, since
        # the caches above are filled by builds in threads and by `chunks` on the caller's.
        self._building: dict[tuple[bool, tuple[str, ...]], _Build] = {}
        self._build_lock = threading.Lock()

    # -- the parts ------------------------------------------------------------------------

    def own_families(self, states: Sequence[ClusterState], now: float) -> Families:
        fams = Families()
        own.build_info(fams, self.librdkafka_version.value if self.librdkafka_version else "")
        for state in states:
            own.collect(fams, state, now)
        if self.alerting is not None:
            alerts.collect(fams, self.alerting.value, {s.name for s in states})
        return fams

    def cluster_families(self, state: ClusterState) -> list[Families]:
        """A cluster's bulk, in parts. A new version rebuilds only the parts whose inputs
        changed (objects compared by identity, since the watcher replaces what changed
        whole; plain values by equality): a version that brought new log dirs rebuilds the
        disk families, not the 200,000 partition and group lines of a large cluster."""
        cached = self._per_cluster.get(state.name)
        if cached is not None and cached[0] == state.version:
            return cached[1]
        snap, assessment, config = state.snapshot, state.assessment, self.config
        built: list[Families] = []
        if snap is None or assessment is None:
            for key in [k for k in self._cluster_parts if k[0] == state.name]:
                del self._cluster_parts[key]
            self._per_cluster[state.name] = (state.version, built)
            return built
        plan: list[tuple[str, _Inputs, Callable[[Families], None]]] = [
            (
                "cluster",
                _Inputs(
                    (snap, assessment, state.known_brokers, state.event_counts),
                    (state.unknown.controller,),
                ),
                lambda f: cluster.collect(f, state, snap, assessment, config),
            ),
            (
                "groups",
                _Inputs((snap.groups, state.lag, state.lag_races)),
                lambda f: groups.collect(f, state, config),
            ),
            (
                "foresight",
                _Inputs((state.foresight, state.records_skipped)),
                lambda f: foresight.collect(f, state, config),
            ),
            ("disks", _Inputs((state.log_dirs,)), lambda f: foresight.collect_disks(f, state)),
        ]
        for part, inputs, collect in plan:
            known = self._cluster_parts.get((state.name, part))
            if known is not None and known[0].same(inputs):
                built.append(known[1])
                continue
            fams = Families()
            collect(fams)
            fams.compact()
            self._cluster_parts[state.name, part] = (inputs, fams)
            built.append(fams)
        self._per_cluster[state.name] = (state.version, built)
        return built

    def compat_families(self, states: Sequence[ClusterState]) -> Families | None:
        if not self.config.kafka_exporter_compat:
            return None
        key = tuple(s.version for s in states)
        every = len(states) == len(self.board)
        # Labels differ with the number of clusters shown, so a cache entry is per selection.
        if self._compat is not None and self._compat[0] == key and every:
            return self._compat[1]
        fams = Families()
        compat.collect(fams, states, with_cluster_label=len(states) > 1)
        fams.compact()
        if every:
            self._compat = (key, fams)
        return fams

    def families(self, states: Sequence[ClusterState], now: float) -> list[Families]:
        """Everything, in exposition order (used by the docs check)."""
        parts = [self.own_families(states, now)]
        parts += [part for s in states for part in self.cluster_families(s)]
        extra = self.compat_families(states)
        return parts + ([extra] if extra is not None else [])

    # -- the exposition -------------------------------------------------------------------

    def _bulk(self, states: Sequence[ClusterState], openmetrics: bool) -> _Body:
        with self._build_lock:
            key = (openmetrics, tuple(s.name for s in states))
            versions = tuple(s.version for s in states)
            body = self._bodies.get(key)
            if body is not None and body.versions == versions:
                self._bodies.move_to_end(key)
                return body
            parts = [part for s in states for part in self.cluster_families(s)]
            extra = self.compat_families(states)
            if extra is not None:
                parts.append(extra)
            body = _Body(versions, render(parts, openmetrics), tuple(states))
            self._bodies[key] = body
            self._bodies.move_to_end(key)
            while len(self._bodies) > CACHE_ENTRIES:
                self._bodies.popitem(last=False)
            return body

    async def _bulk_off_loop(
        self, states: Sequence[ClusterState], openmetrics: bool, *, previous_ok: bool
    ) -> _Body:
        """The bulk for these versions, built in a thread if it is not cached (after the
        build running for earlier versions, if any: builds of one key end in the order they
        began, so an older one never replaces a newer one in the cache).

        With `previous_ok`, when a build was already running as this was asked (keep_ready
        started it at a new version), the bulk of the versions before is returned at once
        if there is one. Otherwise the build is waited for: without keep_ready running, an
        answer is always what was published when the call began."""
        key = (openmetrics, tuple(s.name for s in states))
        versions = tuple(s.version for s in states)
        body = self._bodies.get(key)
        if body is not None and body.versions == versions:
            return body
        build = self._building.get(key)
        running = build is not None
        if build is None or build.versions != versions:
            before = build.future if build is not None else None
            build = _Build(
                versions, asyncio.ensure_future(self._build_after(before, states, openmetrics))
            )
            self._building[key] = build
            build.future.add_done_callback(functools.partial(self._forget_build, key, build))
        if previous_ok and running and body is not None:
            return body
        return await asyncio.shield(build.future)

    async def _build_after(
        self,
        before: asyncio.Future[_Body] | None,
        states: Sequence[ClusterState],
        openmetrics: bool,
    ) -> _Body:
        if before is not None:
            await asyncio.wait([before])  # its outcome is its own callers' business
        return await asyncio.to_thread(self._bulk, states, openmetrics)

    def _forget_build(
        self, key: tuple[bool, tuple[str, ...]], build: _Build, _done: asyncio.Future[_Body]
    ) -> None:
        if self._building.get(key) is build:
            del self._building[key]
        if not build.future.cancelled():
            build.future.exception()  # retrieved: a caller who waited has it raised

    def chunks(
        self,
        states: Sequence[ClusterState] | None = None,
        *,
        openmetrics: bool = False,
        gzipped: bool = False,
        now: float | None = None,
    ) -> list[bytes]:
        """The body of a /metrics answer (every cluster, or `states`), as chunks to write in
        order: the cached bulk, then the fresh tail (the watchdog's own series).

        Gzipped, it is ONE gzip member: clients such as curl decode only the first member of
        a multi-member stream. The cached bulk is raw deflate ending in a sync flush, the tail
        is compressed on its own after it (a deflate stream may continue at a byte boundary
        with blocks that refer to nothing before them), and the trailer's CRC-32 continues
        the bulk's cached CRC over the tail alone: nothing of the bulk is compressed or
        checksummed again per scrape."""
        tail, bulk = self._parts(states, openmetrics, now)
        if gzipped:
            return self._gzipped(bulk.deflate(), tail)
        return [*bulk.chunks, tail]

    async def scrape(
        self,
        states: Sequence[ClusterState] | None = None,
        *,
        openmetrics: bool = False,
        gzipped: bool = False,
    ) -> list[bytes]:
        """`chunks` for an HTTP scrape: the bulk's deflate runs in a thread (or is the one
        `keep_ready` already started), and the formats asked for are remembered so that
        `keep_ready` prepares them before the next scrape."""
        now = time.time()
        self._wanted["text"] = now
        if openmetrics:
            self._wanted["openmetrics"] = now
        if gzipped:
            self._wanted["gzip"] = now
        chosen = self.board.states() if states is None else tuple(states)
        bulk = await self._bulk_off_loop(chosen, openmetrics, previous_ok=True)
        tail = self._tail(bulk.states, openmetrics, now)
        if gzipped:
            return self._gzipped(await bulk.deflate_off_loop(), tail)
        return [*bulk.chunks, tail]

    def _parts(
        self, states: Sequence[ClusterState] | None, openmetrics: bool, now: float | None
    ) -> tuple[bytes, _Body]:
        chosen = self.board.states() if states is None else tuple(states)
        bulk = self._bulk(chosen, openmetrics)
        return self._tail(bulk.states, openmetrics, now), bulk

    def _tail(self, states: Sequence[ClusterState], openmetrics: bool, now: float | None) -> bytes:
        """The per-scrape part: the process's and the watchdog's own series."""
        own_part = self.own_families(states, time.time() if now is None else now)
        return b"".join(
            [
                self._process(openmetrics).encode(),
                *render([own_part], openmetrics),
                b"# EOF\n" if openmetrics else b"",
            ]
        )

    @staticmethod
    def _gzipped(bulk: tuple[bytes, int, int], tail: bytes) -> list[bytes]:
        deflated, crc, size = bulk
        trailer = struct.pack("<II", zlib.crc32(tail, crc), (size + len(tail)) & 0xFFFFFFFF)
        return [GZIP_HEADER, deflated, _deflate([tail], final=True)[0], trailer]

    async def prepare(self) -> None:
        """Build the bulk of every cluster's exposition now, in each format scraped lately,
        and its deflate (in a thread) if gzip was: a scrape then only writes it out. Nothing
        when nobody scraped lately (a daemon that only pages builds no exposition)."""
        states = self.board.states()
        recent = time.time() - FORMAT_WANTED_FOR
        if self._wanted.get("text", 0) <= recent:
            return
        formats = [False] + ([True] if self._wanted.get("openmetrics", 0) > recent else [])
        for openmetrics in formats:
            body = await self._bulk_off_loop(states, openmetrics, previous_ok=False)
            if self._wanted.get("gzip", 0) > recent:
                await body.deflate_off_loop()

    async def keep_ready(self) -> None:
        """Prepare the exposition whenever a cluster publishes a new version (a supervised
        task of the daemon): building it costs up to a few hundred milliseconds at 10,000
        partitions, which a scrape would otherwise wait for after every offsets cycle."""
        prepared: tuple[int, ...] | None = None
        while True:
            versions = tuple(s.version for s in self.board.states())
            if versions != prepared:
                await self.prepare()
                prepared = versions
            await asyncio.sleep(PREPARE_EVERY)

    def exposition(
        self,
        states: Sequence[ClusterState] | None = None,
        *,
        openmetrics: bool = False,
        gzipped: bool = False,
        now: float | None = None,
    ) -> bytes:
        """`chunks`, joined."""
        return b"".join(self.chunks(states, openmetrics=openmetrics, gzipped=gzipped, now=now))

    def _process(self, openmetrics: bool) -> str:
        if self.process_registry is None:
            return ""
        if openmetrics:
            text: str = openmetrics_latest(self.process_registry).decode()  # type: ignore[no-untyped-call]
            return text.removesuffix("# EOF\n")
        return text_latest(self.process_registry).decode()
