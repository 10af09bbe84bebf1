"""Broker log directories through DescribeLogDirs (kafka-python: confluent-kafka does not
expose it). One request per broker, so a broker that does not answer costs its own timeout
and leaves the others' answers intact. Runs on its own daemon thread with its own client,
the pattern of the quorum source (sources/quorum.py): a hung broker never blocks the quorum
stage, and nothing waits for the thread at exit.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kafka_watchdog.config.schema import ClusterConfig
from kafka_watchdog.model.disks import BrokerDisks, LogDir
from kafka_watchdog.model.snapshot import frozen_map
from kafka_watchdog.sources.errors import SourceError
from kafka_watchdog.sources.quorum import CLOSE_GRACE, Worker, kafka_python_config

log = logging.getLogger(__name__)

# Kafka's error codes a log dir may carry (the rest are named by number).
# A dir whose mount point vanished is answered UNKNOWN_SERVER_ERROR by Kafka 4 (it fails to
# read the volume's size before it checks the dir), a failed but present one
# KAFKA_STORAGE_ERROR: both are offline.
_ERRORS = {
    0: None,
    -1: "UNKNOWN_SERVER_ERROR",
    56: "KAFKA_STORAGE_ERROR",
    29: "CLUSTER_AUTHORIZATION_FAILED",
}


def parse_broker(broker: int, log_dirs: Iterable[Mapping[str, Any]], at: float) -> BrokerDisks:
    """One broker's DescribeLogDirs results (kafka-python's dicts) -> its dirs."""
    dirs = {}
    for result in log_dirs:
        code = int(result.get("error_code") or 0)
        error = _ERRORS.get(code, f"error {code}")
        replicas: dict[tuple[str, int], int] = {}
        for topic in result.get("topics") or ():
            for p in topic.get("partitions") or ():
                if p.get("is_future_key"):
                    continue  # a copy being moved between dirs: counted where it lives now
                replicas[(str(topic["name"]), int(p["partition_index"]))] = int(
                    p.get("partition_size") or 0
                )
        path = str(result["log_dir"])
        dirs[path] = LogDir(
            path,
            error,
            frozen_map(replicas),
            total_bytes=_known(result.get("total_bytes")),
            usable_bytes=_known(result.get("usable_bytes")),
        )
    return BrokerDisks(broker, frozen_map(dirs), at)


def _known(value: Any) -> int | None:
    return int(value) if value is not None and int(value) >= 0 else None


class LogDirsSource:
    def __init__(self, cluster: ClusterConfig, request_timeout: float) -> None:
        self.cluster = cluster
        self.request_timeout = request_timeout
        self._client: Any = None
        self._worker = Worker(f"logdirs-{cluster.name}")
        self._busy = False

    def _connect(self) -> Any:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            config = kafka_python_config(self.cluster, self.request_timeout)
        except ValueError as exc:
            raise SourceError(f"cluster {self.cluster.name!r}: DescribeLogDirs: {exc}") from None
        config["client_id"] = "kafka-watchdog-logdirs"
        try:
            return KafkaAdminClient(**config)
        except KafkaError as exc:
            raise SourceError(
                f"cluster {self.cluster.name!r}: log dirs client cannot connect: {exc}"
            ) from None

    def _describe(
        self, brokers: list[int], partitions: Mapping[str, list[int]], at: float
    ) -> dict[int, BrokerDisks | str]:
        from kafka.errors import KafkaError, UnknownBrokerIdError

        if self._client is None:
            self._client = self._connect()
        out: dict[int, BrokerDisks | str] = {}
        stale = False
        for broker in brokers:
            try:
                answer = self._client.describe_log_dirs(
                    topic_partitions=dict(partitions), brokers=[broker]
                )
            except UnknownBrokerIdError as exc:
                # The client's own metadata lacks a broker the cluster has (it was away when
                # the client bootstrapped), and kafka-python refreshes it only every 5
                # minutes: a new client next round sees it at once.
                out[broker] = f"broker {broker} did not answer DescribeLogDirs: {exc!r}"
                stale = True
                continue
            except (KafkaError, OSError) as exc:
                out[broker] = f"broker {broker} did not answer DescribeLogDirs: {exc!r}"
                continue
            for entry in answer:
                if not entry["log_dirs"]:
                    # A broker always has a log dir: an empty answer is a refusal (kafka-python
                    # drops the top-level error code), never "every dir is gone".
                    out[int(entry["broker"])] = (
                        f"broker {entry['broker']} listed no log dirs: the principal lacks the "
                        "Describe ACL on the cluster, which DescribeLogDirs needs"
                    )
                    continue
                out[int(entry["broker"])] = parse_broker(
                    int(entry["broker"]), entry["log_dirs"], at
                )
        if stale:
            self._reset()
        return out

    async def describe(
        self, brokers: list[int], partitions: Mapping[str, list[int]], at: float
    ) -> dict[int, BrokerDisks | str]:
        """Each broker's dirs, or why it did not answer. `partitions`: every partition of
        the cluster (DescribeLogDirs reports the ones asked for)."""
        if self._busy:
            raise SourceError(
                f"cluster {self.cluster.name!r}: the previous DescribeLogDirs round is still "
                "waiting for a broker"
            )
        self._busy = True
        future = asyncio.wrap_future(
            self._worker.submit(functools.partial(self._serve, brokers, partitions, at))
        )
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        limit = (self.request_timeout + 5) * max(1, len(brokers))
        try:
            return await asyncio.wait_for(asyncio.shield(future), limit)
        except TimeoutError:
            raise SourceError(
                f"cluster {self.cluster.name!r}: DescribeLogDirs did not answer in {limit:g}s"
            ) from None

    def _serve(
        self, brokers: list[int], partitions: Mapping[str, list[int]], at: float
    ) -> dict[int, BrokerDisks | str]:
        try:
            return self._describe(brokers, partitions, at)
        finally:
            self._busy = False

    def _reset(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                log.debug("closing the log dirs client failed", exc_info=True)
            self._client = None

    async def close(self) -> None:
        """Close the client after any call in flight, without waiting for that call."""
        if self._busy:
            self._worker.submit(self._reset)
        else:
            try:
                await asyncio.wait_for(
                    asyncio.wrap_future(self._worker.submit(self._reset)), CLOSE_GRACE
                )
            except TimeoutError:
                log.warning("cluster %r: log dirs client did not close in time", self.cluster.name)
        self._worker.shutdown()
