"""The Admin API source in a child process of its own, one per cluster.

librdkafka aborts the whole process on an assertion when an Admin request's response
arrives after the request timed out (confluentinc/librdkafka#4605, open; seen here with a
broker paused under 500 consumer groups), and its destroy can wait forever on a broker that
was paused. A watchdog must not die, or hang, exactly when a broker does: so the librdkafka
client lives in a worker process. When the worker dies or stops answering, the calls that
were waiting for it fail (the stages that asked report it), a new worker starts with the
next call, and the next cycle carries on.

The worker (sources/admin_worker.py) is a plain subprocess speaking worker_protocol over
its stdin and stdout: it imports only confluent-kafka and the model, starts no
multiprocessing resource tracker, serves every call it is sent at once (metadata does not
wait behind a DescribeConfigs of every topic), and dies with the daemon (a parent-death
signal and the end of its stdin), SIGKILL included.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kafka_watchdog.model.parts import ClusterDescription, TopicMetadata
from kafka_watchdog.model.snapshot import GroupState, TopicConfig
from kafka_watchdog.sources import kafka_errors, worker_deaths
from kafka_watchdog.sources import worker_protocol as protocol
from kafka_watchdog.sources.cluster_spec import AdminCluster, ClusterSpec
from kafka_watchdog.sources.errors import SourceError
from kafka_watchdog.sources.malloc import child_environment

log = logging.getLogger(__name__)
# How long a killed worker gets to be reaped when the source closes.
CLOSE_GRACE = 3.0
WORKER_MODULE = "kafka_watchdog.sources.admin_worker"


def _how_it_ended(returncode: int | None) -> tuple[str, str]:
    """(cause, description) of a worker whose stdout ended; `returncode` None: it did not
    exit within CLOSE_GRACE after closing its stdout (it hangs)."""
    cause = worker_deaths.HUNG if returncode is None else worker_deaths.cause_of(returncode)
    return cause, worker_deaths.describe(cause, returncode)


class _Worker:
    """One running worker process and the calls waiting for its answers."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.ids = itertools.count(1)
        self.ready: protocol.Ready | None = None
        self.decoder = protocol.Decoder()  # this worker's answers, as changes
        self.gone: str | None = None  # how it ended, once it has (for people)
        self.cause: str = worker_deaths.EXITED  # why, in one word (worker_deaths.CAUSES)
        self.reader_task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def fail_pending(self, error: BaseException) -> None:
        pending, self.pending = self.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()


class IsolatedAdminSource:
    """Same interface as AdminSource; every call runs in the cluster's worker process."""

    def __init__(
        self, cluster: AdminCluster, request_timeout: float, max_concurrent: int = 8
    ) -> None:
        self.cluster = cluster
        self.spec = ClusterSpec.of(cluster)
        self.request_timeout = request_timeout
        self.max_concurrent = max_concurrent
        self._worker: _Worker | None = None
        self._starting: asyncio.Lock | None = None
        self.restarts = 0  # workers replaced after they died or hung
        self.deaths: Counter[str] = Counter()  # workers replaced, by why they ended
        self.librdkafka_version: str | None = None  # as the worker reported it
        # Told the librdkafka version each time a worker starts (the app publishes it).
        self.on_ready: Callable[[str], None] | None = None

    @property
    def pid(self) -> int | None:
        """The running worker's pid (None when none runs)."""
        worker = self._worker
        return worker.pid if worker is not None and worker.gone is None else None

    def start(self) -> None:
        """Nothing to do: the worker starts with the first call (kept for the interface)."""

    @property
    def _limit(self) -> float:
        # A call waits for its own requests (each bounded by request_timeout + 5 in the
        # worker) and for a place among the requests in flight: allow for a few rounds.
        return 3 * (self.request_timeout + 5) + 10

    async def _spawn(self) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**20,
            env=child_environment(os.environ),
        )
        worker = _Worker(proc)
        assert proc.stdin is not None
        proc.stdin.write(
            protocol.frame(
                protocol.Start(
                    self.spec,
                    self.request_timeout,
                    self.max_concurrent,
                    logging.getLogger().getEffectiveLevel(),
                    os.getpid(),
                )
            )
        )
        worker.reader_task = asyncio.create_task(
            self._read_answers(worker), name=f"admin-worker-{self.spec.name}"
        )
        return worker

    async def _running(self) -> _Worker:
        worker = self._worker
        if worker is not None and worker.gone is None:
            return worker
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:  # concurrent first calls start one worker
            worker = self._worker
            if worker is None or worker.gone is not None:
                worker = self._worker = await self._spawn()
            return worker

    async def _read_answers(self, worker: _Worker) -> None:
        """Hands each answer to its caller until the worker's stdout ends."""
        stdout = worker.proc.stdout
        assert stdout is not None
        try:
            while True:
                message = await protocol.read(stdout)
                if isinstance(message, protocol.Ready):
                    worker.ready = message
                    self.librdkafka_version = message.librdkafka_version
                    if self.on_ready is not None:
                        self.on_ready(message.librdkafka_version)
                    continue
                call_id, ok, value = message
                if isinstance(value, protocol.Changes):
                    value = worker.decoder.decode(value)  # even if its caller gave up
                future = worker.pending.pop(call_id, None)
                if future is None or future.done():
                    continue  # its caller gave up (timed out or was cancelled)
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # it ended: below
        except (protocol.ProtocolError, ValueError, EOFError) as exc:  # corrupt stream
            log.error("Admin API worker sent garbage: %s", exc, extra=self._extra)
            worker.kill()
        returncode: int | None = None
        with contextlib.suppress(TimeoutError):
            returncode = await asyncio.wait_for(worker.proc.wait(), CLOSE_GRACE)
        if worker.gone is None:
            worker.cause, worker.gone = _how_it_ended(returncode)
            if returncode is None:
                worker.kill()
            self._lost(worker)

    @property
    def _extra(self) -> dict[str, str]:
        return {"kafka_cluster": self.spec.name}

    def _lost(self, worker: _Worker) -> None:
        """The worker died or was killed for hanging: its calls fail, the next call starts
        a new one."""
        if worker is not self._worker:
            return
        self._worker = None
        self.restarts += 1
        self.deaths[worker.cause] += 1
        log.warning(
            "Admin API worker (pid %d) %s; a new one starts with the next call",
            worker.pid,
            worker.gone,
            extra=self._extra,
        )
        worker.fail_pending(
            SourceError(
                f"cluster {self.spec.name!r}: the Admin API worker {worker.gone} with the "
                "answer in flight: this cycle's answer is lost; a new worker answers the next",
                kafka_errors.WORKER,
            )
        )

    async def _run(self, method: str, *args: Any) -> Any:
        worker = await self._running()
        call_id = next(worker.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.pending[call_id] = future
        assert worker.proc.stdin is not None
        try:
            try:
                worker.proc.stdin.write(protocol.frame((call_id, method, args)))
                await worker.proc.stdin.drain()
            except ConnectionError:
                pass  # it died just now: the reader sees its stdout end and fails the call
            return await asyncio.wait_for(future, self._limit)
        except TimeoutError:
            if worker.gone is None:
                worker.cause = worker_deaths.HUNG
                worker.gone = f"did not answer {method} within {self._limit:g}s (killed)"
                worker.kill()
                self._lost(worker)
            raise SourceError(
                f"cluster {self.spec.name!r}: the Admin API worker did not answer {method} "
                f"within {self._limit:g}s: this cycle's answer is lost; it was restarted",
                kafka_errors.WORKER,
            ) from None
        finally:
            worker.pending.pop(call_id, None)

    async def close(self) -> None:
        """Kill the worker: the client only reads, so there is nothing to flush, and asking
        it to exit would wait for a call in flight (an unreachable cluster makes every call
        wait out its timeout) and for librdkafka's destroy (seen to hang)."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        worker.gone = worker.gone or "stopped"
        worker.kill()
        worker.fail_pending(SourceError(f"cluster {self.spec.name!r}: the Admin API is closed"))
        if worker.proc.stdin is not None:
            worker.proc.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.proc.wait(), CLOSE_GRACE)
        if worker.reader_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(worker.reader_task, CLOSE_GRACE)

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
