"""Kafka Admin API source (confluent-kafka / librdkafka).

librdkafka works on its own threads and some calls (list_topics) block the caller, so every
call runs off the event loop with a per-call timeout; the loop never waits on Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import MappingProxyType
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from watchdog import __version__
from watchdog.config.schema import ClusterConfig
from watchdog.model.snapshot import (
    Broker,
    ClusterMode,
    ClusterSnapshot,
    PartitionState,
    TopicState,
)

log = logging.getLogger(__name__)
_rdkafka_log = logging.getLogger("librdkafka")


class SourceError(Exception):
    """A collection failed; the message is for people and names what to check."""


def describe_kafka_error(exc: BaseException, cluster: ClusterConfig) -> str:
    servers = ",".join(cluster.bootstrap_servers)
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    if isinstance(err, KafkaError):
        code = err.code()
        if code in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT):
            return (
                f"cannot reach cluster {cluster.name!r} at {servers}: {err.str()} "
                "(check bootstrap_servers, the network and the listener's security settings)"
            )
        if code in (
            KafkaError._AUTHENTICATION,
            KafkaError.SASL_AUTHENTICATION_FAILED,
            KafkaError.CLUSTER_AUTHORIZATION_FAILED,
            KafkaError.TOPIC_AUTHORIZATION_FAILED,
        ):
            return (
                f"cluster {cluster.name!r} refused access: {err.str()} "
                "(check kafka_client credentials and the principal's ACLs: Describe on the "
                "cluster, topics and groups)"
            )
        return f"cluster {cluster.name!r}: {err.name()}: {err.str()}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"cluster {cluster.name!r} at {servers} did not answer in time"
    return f"cluster {cluster.name!r}: {type(exc).__name__}: {exc}"


class AdminSource:
    """Reads one cluster through the Admin API. Construct without I/O; `start()` connects."""

    def __init__(self, cluster: ClusterConfig, request_timeout: float) -> None:
        self.cluster = cluster
        self.request_timeout = request_timeout
        self._client: AdminClient | None = None

    def _error_cb(self, err: KafkaError) -> None:
        # librdkafka reports connection trouble here; the collection loop reports the
        # outcome that matters (the cycle failed), so this stays at debug.
        _rdkafka_log.debug("librdkafka: %s", err.str(), extra={"kafka_cluster": self.cluster.name})

    def start(self) -> None:
        """Create the librdkafka handle (idempotent); it connects in the background."""
        if self._client is not None:
            return
        conf: dict[str, Any] = dict(self.cluster.client_properties())
        conf.setdefault("client.id", f"kafka-watchdog/{__version__}")
        conf.setdefault("log.connection.close", False)
        conf["error_cb"] = self._error_cb
        conf["logger"] = _rdkafka_log
        try:
            self._client = AdminClient(conf)
        except KafkaException as exc:
            # A bad librdkafka property: the message names it.
            raise SourceError(f"cluster {self.cluster.name!r}: kafka_client: {exc}") from None

    async def close(self) -> None:
        self._client = None  # librdkafka closes its threads when the handle is collected

    @property
    def client(self) -> AdminClient:
        if self._client is None:
            raise RuntimeError("AdminSource.start() was not called")
        return self._client

    async def fetch_metadata(self) -> ClusterSnapshot:
        """Brokers, controller and every topic's partitions, in one Metadata request."""
        try:
            metadata = await asyncio.wait_for(
                asyncio.to_thread(self.client.list_topics, timeout=self.request_timeout),
                timeout=self.request_timeout + 5,
            )
        except (KafkaException, TimeoutError) as exc:
            raise SourceError(describe_kafka_error(exc, self.cluster)) from None
        topics = {}
        for name, topic in metadata.topics.items():
            if not self.cluster.topics.allows(name):
                continue
            partitions = tuple(
                PartitionState(
                    topic=name,
                    partition=p.id,
                    leader=p.leader,
                    replicas=tuple(p.replicas),
                    isr=tuple(p.isrs),
                )
                for p in sorted(topic.partitions.values(), key=lambda p: p.id)
            )
            topics[name] = TopicState(name, partitions, internal=name.startswith("__"))
        brokers = {b.id: Broker(b.id, b.host or "", b.port) for b in metadata.brokers.values()}
        controller = metadata.controller_id if metadata.controller_id >= 0 else None
        return ClusterSnapshot(
            cluster=self.cluster.name,
            taken_at=time.time(),
            cluster_id=metadata.cluster_id,
            brokers=MappingProxyType(brokers),
            controller_id=controller,
            topics=MappingProxyType(topics),
            mode=ClusterMode.ZOOKEEPER if self.cluster.zookeeper else ClusterMode.UNKNOWN,
        )
