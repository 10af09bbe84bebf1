"""One cluster's collection loops: sources -> store, with health bookkeeping.

A loop never dies: every failure is recorded (health, metrics, one log line on each change
of state) and the next cycle retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from watchdog.config.schema import ClusterConfig, CollectionConfig
from watchdog.model.health import ClusterHealth, SourceHealth
from watchdog.model.store import SnapshotStore
from watchdog.sources.admin import AdminSource, SourceError
from watchdog.sources.zookeeper import ZooKeeperSource

log = logging.getLogger(__name__)

# While a source stays broken, repeat its warning this often (the metric says it every scrape).
REPEAT_WARNING_AFTER = 300.0


class ClusterWatcher:
    def __init__(self, cluster: ClusterConfig, collection: CollectionConfig) -> None:
        self.cluster = cluster
        self.collection = collection
        self.store = SnapshotStore()
        self.health = ClusterHealth(
            cluster.name, zookeeper=SourceHealth("zookeeper") if cluster.zookeeper else None
        )
        self.admin = AdminSource(cluster, collection.request_timeout)
        self.zookeeper = (
            ZooKeeperSource(cluster, self._on_zookeeper_state) if cluster.zookeeper else None
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._last_warned: dict[str, float] = {}

    @property
    def name(self) -> str:
        return self.cluster.name

    def ready(self, now: float) -> tuple[bool, str]:
        return self.health.ready(now, self.collection.effective_stale_after)

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._admin_loop(), name=f"admin:{self.name}"))
        if self.zookeeper is not None:
            self._tasks.append(asyncio.create_task(self._zookeeper_loop(), name=f"zk:{self.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.admin.close()
        if self.zookeeper is not None:
            await self.zookeeper.close()

    def _on_zookeeper_state(self, state: str) -> None:
        if state != self.health.zookeeper_state:
            level = {"CONNECTED": logging.INFO, "CONNECTING": logging.DEBUG}.get(
                state, logging.WARNING
            )
            log.log(level, "ZooKeeper session %s", state, extra={"kafka_cluster": self.name})
        self.health.zookeeper_state = state

    async def _run_cycle(self, health: SourceHealth, step: Callable[[], Awaitable[None]]) -> None:
        started = time.time()
        try:
            await step()
        except SourceError as exc:
            self._record_failure(health, started, str(exc))
        except Exception as exc:  # a bug must not stop the watch of this cluster
            log.exception("collection failed unexpectedly", extra={"kafka_cluster": self.name})
            self._record_failure(health, started, f"internal error: {exc!r}")
        else:
            if health.consecutive_failures:
                log.info(
                    "%s source recovered after %d failed attempts",
                    health.source,
                    health.consecutive_failures,
                    extra={"kafka_cluster": self.name},
                )
            health.succeeded(started, time.time())

    def _record_failure(self, health: SourceHealth, started: float, error: str) -> None:
        now = time.time()
        changed = error != health.last_error
        health.failed(started, now, error)
        last = self._last_warned.get(health.source, 0.0)
        if changed or now - last >= REPEAT_WARNING_AFTER:
            self._last_warned[health.source] = now
            log.warning(
                "%s (retrying every %gs)",
                error,
                self.collection.metadata_interval,
                extra={"kafka_cluster": self.name, "source": health.source},
            )

    async def _admin_loop(self) -> None:
        async def collect() -> None:
            self.admin.start()
            self.store.put(await self.admin.fetch_metadata())

        await self._every(self.collection.metadata_interval, self.health.admin, collect)

    async def _zookeeper_loop(self) -> None:
        zk = self.zookeeper
        assert zk is not None and self.health.zookeeper is not None
        connected = False

        async def check() -> None:
            nonlocal connected
            if not connected:
                self._on_zookeeper_state("CONNECTING")
                await zk.start()
                connected = True
            await zk.broker_ids()

        await self._every(self.collection.metadata_interval, self.health.zookeeper, check)

    async def _every(
        self, interval: float, health: SourceHealth, step: Callable[[], Awaitable[None]]
    ) -> None:
        # Fixed-rate schedule: a slow cycle shortens the next sleep instead of drifting.
        next_run = time.monotonic()
        while True:
            await self._run_cycle(health, step)
            next_run += interval
            delay = next_run - time.monotonic()
            if delay < 0:
                next_run = time.monotonic()
                delay = 0
            await asyncio.sleep(delay)
