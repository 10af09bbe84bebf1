"""KRaft controller quorum and partition reassignments, through kafka-python.

confluent-kafka does not expose DescribeQuorum (the only way to learn the ACTIVE KRaft
controller: Metadata and DescribeCluster name a random broker there) nor
ListPartitionReassignments; kafka-python 3.x has both. It is used for these two questions
only, with the same security settings translated from the librdkafka properties.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from kafka_watchdog.config.schema import ClusterConfig
from kafka_watchdog.model.parts import Quorum, QuorumAnswer, Reassignments
from kafka_watchdog.model.snapshot import frozen_map
from kafka_watchdog.sources import kafka_errors, tokens
from kafka_watchdog.sources.errors import SourceError

log = logging.getLogger(__name__)
T = TypeVar("T")
# How long closing an idle client may take.
CLOSE_GRACE = 3.0

# librdkafka property -> kafka-python keyword
_TRANSLATE = {
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "sasl.kerberos.service.name": "sasl_kerberos_service_name",
    "ssl.ca.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
    "ssl.key.password": "ssl_password",
}
# Tuning-only properties that need no translation to ask two metadata questions.
_IGNORABLE_PREFIXES = ("socket.", "reconnect.", "topic.metadata.", "metadata.", "debug", "log")


def kafka_python_config(cluster: ClusterConfig, request_timeout: float) -> dict[str, Any]:
    """Raises ValueError naming the property that has no kafka-python equivalent."""
    config: dict[str, Any] = {
        "bootstrap_servers": list(cluster.bootstrap_servers),
        "client_id": "kafka-watchdog-quorum",
        "request_timeout_ms": int(request_timeout * 1000),
        "bootstrap_timeout_ms": int(request_timeout * 1000),
    }
    for key, value in cluster.client_properties().items():
        if key == "bootstrap.servers":
            continue
        if key in _TRANSLATE:
            target = _TRANSLATE[key]
            config[target] = value.upper() if target == "security_protocol" else value
        elif key == "enable.ssl.certificate.verification":
            config["ssl_check_hostname"] = value.lower() == "true"
        elif key == "ssl.endpoint.identification.algorithm":
            config["ssl_check_hostname"] = value.lower() == "https"
        elif not key.startswith(_IGNORABLE_PREFIXES):
            raise ValueError(f"kafka_client property {key!r} has no kafka-python equivalent")
    if cluster.oauthbearer is not None:
        config["sasl_oauth_token_provider"] = tokens.kafka_python_provider(cluster.oauthbearer)
    return config


class QuorumUnsupported(Exception):
    """The cluster does not run KRaft (zookeeper_mode False), or hides its quorum (None)."""

    def __init__(
        self, message: str, zookeeper_mode: bool | None = None, reassignments: Any = None
    ) -> None:
        super().__init__(message)
        # "supported" in QuorumAnswer terms: False when the brokers lack the API.
        self.zookeeper_mode = False if zookeeper_mode else None
        self.reassignments = reassignments or {}


class QuorumSource:
    def __init__(self, cluster: ClusterConfig, request_timeout: float) -> None:
        self.cluster = cluster
        self.request_timeout = request_timeout
        self._client: Any = None
        # kafka-python clients are not thread-safe, and a request to a hung broker can outlive
        # its asyncio timeout: one worker thread serialises every use, close included, and a
        # call still running makes the next cycle report it rather than queue behind it.
        self._worker = Worker(f"quorum-{cluster.name}")
        self._busy = False

    def _connect(self) -> Any:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError, KafkaTimeoutError

        try:
            config = kafka_python_config(self.cluster, self.request_timeout)
        except ValueError as exc:
            raise QuorumUnsupported(str(exc)) from None
        try:
            return KafkaAdminClient(**config)
        except KafkaError as exc:
            # kafka-python does not say why a bootstrap failed (a refused password and an
            # untrusted certificate both end as a timeout); librdkafka does, in the
            # metadata stage, which uses the same settings.
            raise SourceError(
                f"cluster {self.cluster.name!r}: quorum client cannot connect: {exc} (if "
                "the metadata stage reports an authentication or TLS failure, that is the "
                "cause here too)",
                kafka_errors.TIMEOUT if isinstance(exc, KafkaTimeoutError) else kafka_errors.ERROR,
            ) from None

    def _reassignments(self) -> Reassignments:
        from kafka.errors import KafkaError

        try:
            answer = self._client.list_partition_reassignments()
        except (KafkaError, NotImplementedError) as exc:
            log.debug("ListPartitionReassignments failed: %r", exc)
            return {}
        return {
            (tp.topic, tp.partition): (
                tuple(info.get("adding_replicas", ())),
                tuple(info.get("removing_replicas", ())),
            )
            for tp, info in answer.items()
        }

    def _describe(self) -> tuple[Quorum, Reassignments]:
        from kafka.errors import (
            ClusterAuthorizationFailedError,
            IncompatibleBrokerVersion,
            KafkaError,
            UnsupportedVersionError,
        )

        if self._client is None:
            self._client = self._connect()
        try:
            answer = self._client.describe_metadata_quorum()
        except (UnsupportedVersionError, IncompatibleBrokerVersion, NotImplementedError) as exc:
            raise QuorumUnsupported(
                f"DescribeQuorum not supported (ZooKeeper mode): {exc!r}",
                zookeeper_mode=True,
                reassignments=self._reassignments(),
            ) from None
        except ClusterAuthorizationFailedError as exc:
            raise QuorumUnsupported(f"DescribeQuorum refused: {exc!r}") from None
        except KafkaError as exc:
            self._reset()
            raise SourceError(f"cluster {self.cluster.name!r}: DescribeQuorum: {exc!r}") from None
        return parse_quorum(answer), self._reassignments()

    def _reset(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # closing a broken client must not hide the first error
                log.debug("closing quorum client failed", exc_info=True)
            self._client = None

    async def describe(self) -> QuorumAnswer:
        """The active controller and quorum, plus ongoing reassignments (adding, removing).

        A cluster without DescribeQuorum (ZooKeeper mode) answers `supported=False`; one that
        refuses it (managed clusters, missing ACL) answers `supported=None`: unknown.
        """
        if self._busy:
            raise SourceError(
                f"cluster {self.cluster.name!r}: the previous DescribeQuorum is still waiting "
                "for an answer"
            )
        try:
            quorum, moving = await asyncio.wait_for(
                asyncio.shield(self._run(self._describe)), self.request_timeout * 2 + 5
            )
        except TimeoutError:
            raise SourceError(
                f"cluster {self.cluster.name!r}: DescribeQuorum did not answer in time"
            ) from None
        except QuorumUnsupported as exc:
            return QuorumAnswer(None, exc.zookeeper_mode, frozen_map(exc.reassignments), str(exc))
        return QuorumAnswer(quorum, True, frozen_map(moving))

    def _run_blocking(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        finally:
            self._busy = False

    def _run(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        self._busy = True
        future = asyncio.wrap_future(self._worker.submit(functools.partial(self._run_blocking, fn)))
        # Shielded callers may be gone (timed out, stopped) when it finishes: mark its
        # outcome as seen so asyncio does not log it as "never retrieved".
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        return future

    async def close(self) -> None:
        """Close the client. A call in flight (an unreachable cluster makes it wait out its
        timeout) is not waited for: the client is closed on the worker thread after it."""
        if self._busy:
            self._worker.submit(self._reset)  # runs after the call in flight
        else:
            try:
                await asyncio.wait_for(self._run(self._reset), CLOSE_GRACE)
            except TimeoutError:
                log.warning("cluster %r: quorum client did not close in time", self.cluster.name)
        self._worker.shutdown()


class Worker:
    """One daemon thread running calls in order. A kafka-python call blocks as long as its
    bootstrap or request does (an unreachable cluster: the whole timeout); a daemon thread
    never makes the process wait for it at exit (a ThreadPoolExecutor's thread would)."""

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._calls.put((fn, future))
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()
        return future

    def shutdown(self) -> None:
        """The thread ends after the calls already submitted."""
        self._calls.put(None)

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            fn, future = call
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller, like an executor would
                future.set_exception(exc)


def parse_quorum(answer: dict[str, Any]) -> Quorum:
    """The __cluster_metadata partition of a DescribeQuorum response."""
    try:
        partition = answer["topics"][0]["partitions"][0]
        if partition.get("error"):
            raise QuorumUnsupported(f"DescribeQuorum partition error: {partition['error']}")
        return Quorum(
            leader_id=int(partition["leader_id"]),
            leader_epoch=int(partition["leader_epoch"]),
            voters=tuple(sorted(int(v["replica_id"]) for v in partition.get("current_voters", []))),
            observers=tuple(sorted(int(o["replica_id"]) for o in partition.get("observers", []))),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise SourceError(f"unexpected DescribeQuorum answer: {exc!r}") from None
