"""The Admin API source in a child process of its own, one per cluster.

librdkafka aborts the whole process on an assertion when an Admin request's response
arrives after the request timed out (confluentinc/librdkafka#4605, open; seen here with a
broker paused under 500 consumer groups), and its destroy can wait forever on a broker that
was paused. A watchdog must not die, or hang, exactly when a broker does: so the librdkafka
client lives in a worker process. When the worker dies or stops answering, the stage that
asked reports the failure, the worker is replaced, and the next cycle carries on.

The worker runs the very same `AdminSource` on its own event loop; calls and answers cross
the process boundary pickled (snapshots' read-only mappings included).
"""

from __future__ import annotations

import asyncio
import contextlib
import copyreg
import logging
import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import MappingProxyType
from typing import Any

from kafka_watchdog.config.schema import ClusterConfig
from kafka_watchdog.model.parts import ClusterDescription, TopicMetadata
from kafka_watchdog.model.snapshot import GroupState, TopicConfig
from kafka_watchdog.sources import kafka_errors, worker_deaths
from kafka_watchdog.sources.admin import AdminSource
from kafka_watchdog.sources.errors import SourceError

log = logging.getLogger(__name__)
# How long the pool's thread gets to notice its killed worker and end.
CLOSE_GRACE = 3.0


def _proxy(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _reduce_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return _proxy, (dict(proxy),)


copyreg.pickle(MappingProxyType, _reduce_proxy)

# -- the worker process -----------------------------------------------------------------------

_worker_loop: asyncio.AbstractEventLoop | None = None
_worker_source: AdminSource | None = None


def _worker_init(
    cluster: ClusterConfig, request_timeout: float, max_concurrent: int, log_level: int
) -> None:
    global _worker_loop, _worker_source
    # The parent handles SIGINT/SIGTERM and stops the worker itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=max(log_level, logging.WARNING), format="%(levelname)s %(message)s")
    _worker_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_worker_loop)
    _worker_source = AdminSource(cluster, request_timeout, max_concurrent)
    _worker_source.start()


def _worker_call(method: str, args: tuple[Any, ...]) -> Any:
    assert _worker_loop is not None and _worker_source is not None
    return _worker_loop.run_until_complete(getattr(_worker_source, method)(*args))


def _worker_pid() -> int:
    return os.getpid()


# -- the parent's side ------------------------------------------------------------------------


class IsolatedAdminSource:
    """Same interface as AdminSource; every call runs in the cluster's worker process."""

    def __init__(
        self, cluster: ClusterConfig, request_timeout: float, max_concurrent: int = 8
    ) -> None:
        self.cluster = cluster
        self.request_timeout = request_timeout
        self.max_concurrent = max_concurrent
        self._pool: ProcessPoolExecutor | None = None
        self._pid: int | None = None
        self.restarts = 0
        self.deaths: Counter[str] = Counter()  # workers replaced, by why they ended
        self._ended: dict[int, str] = {}  # the last replaced pool's id -> how it ended

    def start(self) -> None:
        """Create the worker (idempotent); it starts on the first call."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(
                    self.cluster,
                    self.request_timeout,
                    self.max_concurrent,
                    logging.getLogger().getEffectiveLevel(),
                ),
            )

    async def _run(self, method: str, *args: Any) -> Any:
        self.start()
        assert self._pool is not None
        pool = self._pool
        # A call queues behind the others of this cluster: allow for a few of them.
        limit = 3 * (self.request_timeout + 5) + 10
        try:
            if self._pid is None:  # to kill it, should it hang
                self._pid = await asyncio.wait_for(
                    asyncio.wrap_future(pool.submit(_worker_pid)), limit
                )
            future = pool.submit(_worker_call, method, args)
            return await asyncio.wait_for(asyncio.wrap_future(future), limit)
        except BrokenProcessPool:
            how = self._replace(pool, None)
            raise SourceError(
                f"cluster {self.cluster.name!r}: the Admin API worker {how} with the {method} "
                "answer in flight: this cycle's answer is lost; a new worker answers the next",
                kafka_errors.WORKER,
            ) from None
        except TimeoutError:
            self._replace(pool, worker_deaths.HUNG)
            raise SourceError(
                f"cluster {self.cluster.name!r}: the Admin API worker did not answer {method} "
                f"within {limit:g}s: this cycle's answer is lost; it was restarted",
                kafka_errors.WORKER,
            ) from None

    def _replace(self, pool: ProcessPoolExecutor, cause: str | None) -> str:
        """Replace a dead (`cause` None: told by its exit code) or hung worker, count why
        it ended; returns how, for the message."""
        if self._pool is not pool:
            # Another call in flight replaced it already, and counted it.
            return self._ended.get(id(pool), "died")
        processes = list((getattr(pool, "_processes", None) or {}).values())
        code = processes[0].exitcode if processes else None
        cause = cause or worker_deaths.cause_of(code)
        how = worker_deaths.describe(cause, code)
        log.warning(
            "Admin API worker %s; starting a new one",
            how,
            extra={"kafka_cluster": self.cluster.name},
        )
        self.restarts += 1
        self.deaths[cause] += 1
        self._ended = {id(pool): how}  # only the last one: the other calls are in flight
        self._kill(pool)
        self._pool, self._pid = None, None
        return how

    def _kill(self, pool: ProcessPoolExecutor) -> None:
        pids = {self._pid} if self._pid is not None else set()
        # Before its first answer the worker's pid is only known to the pool.
        pids |= set(getattr(pool, "_processes", None) or {})
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        pool.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # The client only reads: nothing to flush, and its sockets close with the process.
        # Killed rather than asked to exit, which would wait for a call in flight (an
        # unreachable cluster makes every call wait out its timeout) and for librdkafka's
        # destroy (up to a second with brokers up; it has been seen to hang). The pool's
        # own thread then sees the worker gone and ends, releasing its queues.
        self._kill(pool)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(pool.shutdown, True), CLOSE_GRACE)
        self._pid = None

    async def describe_cluster(self) -> ClusterDescription:
        result: ClusterDescription = await self._run("describe_cluster")
        return result

    async def topics(self) -> list[TopicMetadata]:
        result: list[TopicMetadata] = await self._run("topics")
        return result

    async def log_offsets(
        self, partitions: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[int | None, int | None]]:
        result: dict[tuple[str, int], tuple[int | None, int | None]] = await self._run(
            "log_offsets", list(partitions)
        )
        return result

    async def groups(
        self, with_offsets: bool = True, known: Sequence[str] = ()
    ) -> dict[str, GroupState]:
        result: dict[str, GroupState] = await self._run("groups", with_offsets, list(known))
        return result

    async def topic_configs(self, topics: Iterable[str]) -> dict[str, TopicConfig]:
        result: dict[str, TopicConfig] = await self._run("topic_configs", list(topics))
        return result
