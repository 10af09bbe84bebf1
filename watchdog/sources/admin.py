"""Kafka Admin API source (confluent-kafka / librdkafka).

librdkafka works on its own threads: most calls return concurrent futures (bridged into
asyncio with wrap_future), list_topics blocks the caller (run in a thread). Every call has a
timeout and the number in flight per cluster is bounded, so the loop never waits on Kafka and
a cluster with thousands of groups is not flooded. Round trips grow with brokers and groups,
not partitions: every per-partition question is asked for all partitions at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import gc
import logging
import threading
from collections.abc import Awaitable, Iterable
from concurrent.futures import Future
from typing import Any, TypeVar

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, OffsetSpec

from kafka_watchdog import __version__
from kafka_watchdog.config.schema import ClusterConfig
from kafka_watchdog.model.parts import ClusterDescription, TopicMetadata
from kafka_watchdog.model.snapshot import (
    Broker,
    GroupState,
    PartitionState,
    TopicConfig,
    frozen_map,
)
from kafka_watchdog.sources.errors import SourceError

log = logging.getLogger(__name__)
_rdkafka_log = logging.getLogger("librdkafka")
T = TypeVar("T")
CLOSE_TIMEOUT = 10.0


_UNREACHABLE = {"_TRANSPORT", "_ALL_BROKERS_DOWN", "_TIMED_OUT", "_RESOLVE"}
_DENIED = {
    "_AUTHENTICATION",
    "SASL_AUTHENTICATION_FAILED",
    "CLUSTER_AUTHORIZATION_FAILED",
    "TOPIC_AUTHORIZATION_FAILED",
    "GROUP_AUTHORIZATION_FAILED",
}


def describe_kafka_error(exc: BaseException, cluster: ClusterConfig, what: str = "") -> str:
    servers = ",".join(cluster.bootstrap_servers)
    doing = f" ({what})" if what else ""
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    if isinstance(err, KafkaError):
        if err.name() in _UNREACHABLE:
            return (
                f"cannot reach cluster {cluster.name!r} at {servers}{doing}: {err.str()} "
                "(check bootstrap_servers, the network and the listener's security settings)"
            )
        if err.name() in _DENIED:
            return (
                f"cluster {cluster.name!r} refused access{doing}: {err.str()} "
                "(check kafka_client credentials and the principal's ACLs: Describe on the "
                "cluster, topics and groups)"
            )
        return f"cluster {cluster.name!r}{doing}: {err.name()}: {err.str()}"
    if isinstance(exc, TimeoutError):
        return f"cluster {cluster.name!r} at {servers} did not answer in time{doing}"
    return f"cluster {cluster.name!r}{doing}: {type(exc).__name__}: {exc}"


class AdminSource:
    """Reads one cluster through the Admin API. Construct without I/O; `start()` connects."""

    def __init__(
        self, cluster: ClusterConfig, request_timeout: float, max_concurrent: int = 8
    ) -> None:
        self.cluster = cluster
        self.request_timeout = request_timeout
        self._client: AdminClient | None = None
        self._slots = asyncio.Semaphore(max_concurrent)
        self._last_offsets: dict[str, dict[tuple[str, int], int]] = {}

    def start(self) -> None:
        """Create the librdkafka handle (idempotent); it connects in the background."""
        if self._client is not None:
            return
        conf: dict[str, Any] = dict(self.cluster.client_properties())
        conf.setdefault("client.id", f"kafka-watchdog/{__version__}")
        conf.setdefault("log.connection.close", False)
        # A broker request must fail before the Admin operation that sent it times out: a
        # response arriving for an operation that already timed out trips an assertion in
        # librdkafka that aborts the whole process (confluentinc/librdkafka#4605, seen here
        # with brokers killed under the watchdog). The default socket timeout is 60 s.
        conf.setdefault("socket.timeout.ms", max(1000, int(self.request_timeout * 800)))
        # Not a bound method: the handle would then reference its owner, and the pair could
        # only be freed by the cyclic GC, on whatever thread it runs; librdkafka aborts the
        # process when a handle is destroyed on one of its own threads.
        conf["error_cb"] = functools.partial(_log_client_error, self.cluster.name)
        conf["logger"] = _rdkafka_log
        try:
            self._client = AdminClient(conf)
        except KafkaException as exc:
            # A bad librdkafka property: the message names it.
            raise SourceError(f"cluster {self.cluster.name!r}: kafka_client: {exc}") from None

    async def close(self) -> None:
        """Destroy the handle on a thread of our own, and wait for it a bounded time.

        librdkafka's destroy joins its threads and has been seen to wait forever with a
        broker that was paused and resumed: on the event loop that would hang the daemon's
        shutdown (SIGTERM). On a librdkafka thread it would abort (see `start`)."""
        if self._client is None:
            return
        # A traceback cycle may still hold a bound method of the handle: collect it now so
        # that the reference below is the last one.
        gc.collect()
        holder = [self._client]
        self._client = None
        done = threading.Thread(
            target=holder.clear, name=f"rdkafka-destroy-{self.cluster.name}", daemon=True
        )
        done.start()
        await asyncio.to_thread(done.join, CLOSE_TIMEOUT)
        if done.is_alive():
            log.warning(
                "librdkafka did not shut down within %gs; leaving it behind",
                CLOSE_TIMEOUT,
                extra={"kafka_cluster": self.cluster.name},
            )

    @property
    def client(self) -> AdminClient:
        if self._client is None:
            raise RuntimeError("AdminSource.start() was not called")
        return self._client

    async def _call(self, awaitable: Awaitable[T], what: str) -> T:
        async with self._slots:
            try:
                return await asyncio.wait_for(awaitable, self.request_timeout + 5)
            except (KafkaException, TimeoutError) as exc:
                raise SourceError(describe_kafka_error(exc, self.cluster, what)) from None

    async def _all(self, futures: Iterable[Future[T]], what: str) -> list[T | BaseException]:
        """Every future's result or exception, under one overall timeout.

        A fan-out (one future per partition or group, as confluent-kafka answers) is waited
        for in one worker thread: bridging each future into asyncio would wake the event loop
        once per partition, which cost seconds of CPU a cycle at 5,000 partitions."""
        pending = list(futures)
        if not pending:
            return []
        limit = self.request_timeout + 5

        def wait_all() -> list[T | BaseException]:
            done, _ = concurrent.futures.wait(pending, timeout=limit)
            out: list[T | BaseException] = []
            for f in pending:
                if f not in done:
                    out.append(TimeoutError(f"{what}: no answer within {limit:g}s"))
                    continue
                error = f.exception()
                out.append(error if error is not None else f.result())
            return out

        return await self._call(asyncio.to_thread(wait_all), what)

    async def _future(self, future: Future[T], what: str) -> T:
        return await self._call(asyncio.wrap_future(future), what)

    @property
    def _timeout_kw(self) -> dict[str, float]:
        return {"request_timeout": self.request_timeout}

    async def describe_cluster(self) -> ClusterDescription:
        """Cluster id, brokers with racks, and the controller as the brokers report it.

        On KRaft clusters that "controller" is a random live broker (KIP-590); the real
        active controller comes from the quorum source.
        """
        result = await self._future(
            self.client.describe_cluster(**self._timeout_kw), "DescribeCluster"
        )
        brokers = {
            n.id: Broker(n.id, n.host or "", n.port, getattr(n, "rack", None) or None)
            for n in result.nodes
        }
        controller = result.controller.id if result.controller is not None else None
        return ClusterDescription(result.cluster_id, controller, frozen_map(brokers))

    async def topics(self) -> list[TopicMetadata]:
        """Every topic's partitions (leader, replicas, ISR) in one Metadata request."""
        metadata = await self._call(
            asyncio.to_thread(self.client.list_topics, timeout=self.request_timeout), "Metadata"
        )
        out = []
        for name, topic in metadata.topics.items():
            if not self.cluster.topics.allows(name):
                continue
            partitions = tuple(
                PartitionState(name, p.id, p.leader, tuple(p.replicas), tuple(p.isrs))
                for p in sorted(topic.partitions.values(), key=lambda p: p.id)
            )
            out.append(TopicMetadata(name, partitions, name.startswith("__")))
        return out

    async def log_offsets(
        self, partitions: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[int | None, int | None]]:
        """(log start, log end) of every partition: two ListOffsets rounds for all at once.

        Log end is ListOffsets latest with read_uncommitted: the high watermark, the same
        number ConsumerGroupCommand shows as LOG-END-OFFSET. A partition whose leader is
        unavailable gets None (unknown), never 0.
        """
        wanted = list(partitions)
        if not wanted:
            return {}
        earliest, latest = await asyncio.gather(
            self._offsets(wanted, OffsetSpec.earliest()),
            self._offsets(wanted, OffsetSpec.latest()),
        )
        return {tp: (earliest.get(tp), latest.get(tp)) for tp in wanted}

    async def _offsets(
        self, wanted: list[tuple[str, int]], spec: OffsetSpec
    ) -> dict[tuple[str, int], int]:
        futures = self.client.list_offsets(
            {TopicPartition(t, p): spec for t, p in wanted}, **self._timeout_kw
        )
        results = await self._all(futures.values(), "ListOffsets")
        out: dict[tuple[str, int], int] = {}
        failed: list[BaseException] = []
        for tp, result in zip(futures, results, strict=True):
            if isinstance(result, BaseException):
                failed.append(result)
            elif result.offset >= 0:
                out[(tp.topic, tp.partition)] = result.offset
        if failed and not out:
            raise SourceError(describe_kafka_error(failed[0], self.cluster, "ListOffsets"))
        return out

    async def groups(self, with_offsets: bool = True) -> dict[str, GroupState]:
        """Every consumer group: state, type, members, and every committed offset.

        Groups that are empty or have no members are kept (they still hold offsets and lag).
        ListConsumerGroupOffsets takes one group per request in confluent-kafka, so those
        requests fan out, bounded by the per-cluster limit.
        """
        listing = await self._future(
            self.client.list_consumer_groups(**self._timeout_kw), "ListGroups"
        )
        ids = [g.group_id for g in listing.valid if self.cluster.groups.allows(g.group_id)]
        listed = {g.group_id: g for g in listing.valid}
        if not ids:
            return {}
        described: dict[str, Any] = {}
        futures = self.client.describe_consumer_groups(ids, **self._timeout_kw)
        results = await self._all(futures.values(), "DescribeGroups")
        for group_id, result in zip(futures, results, strict=True):
            if not isinstance(result, BaseException):
                described[group_id] = result
        offsets: dict[str, dict[tuple[str, int], int]] = {}
        if with_offsets:
            offsets = await self._group_offsets(ids)
        out = {}
        for group_id in ids:
            desc = described.get(group_id)
            listing_entry = listed[group_id]
            state = desc.state if desc is not None else listing_entry.state
            kind = getattr(desc, "type", None) or getattr(listing_entry, "type", None)
            out[group_id] = GroupState(
                group_id=group_id,
                state=_enum_name(state),
                members=len(desc.members) if desc is not None else 0,
                group_type=_enum_name(kind) if kind is not None else None,
                offsets=frozen_map(offsets.get(group_id, {})),
                assigned=_assigned(desc),
            )
        return out

    async def _group_offsets(self, ids: list[str]) -> dict[str, dict[tuple[str, int], int]]:
        """Committed offsets of every group. OffsetFetch takes one group per request in
        confluent-kafka: all are sent at once, librdkafka queues them per coordinator."""
        futures = {
            g: self.client.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(g)], **self._timeout_kw
            )[g]
            for g in ids
        }
        results = await self._all(futures.values(), "OffsetFetch")
        out: dict[str, dict[tuple[str, int], int]] = {}
        for group_id, result in zip(futures, results, strict=True):
            if isinstance(result, BaseException):
                # Keep the last answer rather than report "no commits" for one cycle: lag
                # series and alerts would vanish and come back.
                log.debug("OffsetFetch %s: %s", group_id, result)
                if group_id in self._last_offsets:
                    out[group_id] = self._last_offsets[group_id]
                continue
            out[group_id] = {
                (tp.topic, tp.partition): tp.offset
                for tp in result.topic_partitions
                if tp.offset >= 0 and tp.error is None
            }
        self._last_offsets = out
        return out

    async def topic_configs(self, topics: Iterable[str]) -> dict[str, TopicConfig]:
        """min.insync.replicas and unclean.leader.election.enable as in force.

        DescribeConfigs answers with the effective value whatever its source (topic override,
        broker or cluster default), so broker defaults are resolved by the broker itself.
        """
        names = list(topics)
        if not names:
            return {}
        futures = self.client.describe_configs(
            [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names], **self._timeout_kw
        )
        results = await self._all(futures.values(), "DescribeConfigs")
        out = {}
        for resource, result in zip(futures, results, strict=True):
            if isinstance(result, BaseException):
                continue
            out[resource.name] = TopicConfig(
                min_insync_replicas=_int(result.get("min.insync.replicas")),
                unclean_leader_election=_bool(result.get("unclean.leader.election.enable")),
            )
        return out


def _log_client_error(cluster: str, err: KafkaError) -> None:
    # librdkafka reports connection trouble here; the collection loop reports the outcome
    # that matters (the cycle failed), so this stays at debug.
    _rdkafka_log.debug("librdkafka: %s", err.str(), extra={"kafka_cluster": cluster})


def _assigned(desc: Any) -> frozenset[tuple[str, int]]:
    if desc is None:
        return frozenset()
    owned = set()
    for member in desc.members:
        assignment = getattr(member, "assignment", None)
        for tp in getattr(assignment, "topic_partitions", None) or []:
            owned.add((tp.topic, tp.partition))
    return frozenset(owned)


def _enum_name(value: Any) -> str:
    name = getattr(value, "name", None)
    return str(name if name is not None else value)


def _int(entry: Any) -> int | None:
    try:
        return int(entry.value) if entry is not None and entry.value is not None else None
    except ValueError:
        return None


def _bool(entry: Any) -> bool | None:
    if entry is None or entry.value is None:
        return None
    return str(entry.value).lower() == "true"
