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
from collections import Counter
from collections.abc import Awaitable, Iterable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, OffsetSpec
from confluent_kafka.cimpl import _AdminClientImpl

from kafka_watchdog import __version__
from kafka_watchdog.model.parts import ClusterDescription, TopicMetadata
from kafka_watchdog.model.snapshot import (
    Broker,
    GroupState,
    PartitionState,
    TopicConfig,
    frozen_map,
)
from kafka_watchdog.sources import kafka_errors
from kafka_watchdog.sources.cluster_spec import AdminCluster
from kafka_watchdog.sources.errors import PartialAnswer, SourceError

log = logging.getLogger(__name__)
_rdkafka_log = logging.getLogger("librdkafka")
T = TypeVar("T")
CLOSE_TIMEOUT = 10.0
OAUTH_FIRST_TOKEN_WAIT = 1.0


def describe_kafka_error(
    exc: BaseException,
    cluster: AdminCluster,
    what: str = "",
    cause: kafka_errors.Diagnosis | None = None,
) -> SourceError:
    """A SourceError for a failed Admin call. `cause` is what librdkafka's error callback
    said meanwhile (a refused password, an untrusted certificate): it is the real reason
    behind a request that only timed out."""
    servers = ",".join(cluster.bootstrap_servers)
    doing = f" ({what})" if what else ""
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    name = err.name() if isinstance(err, KafkaError) else None
    if isinstance(err, KafkaError) and cause is None:
        cause = kafka_errors.diagnose_client_error(err.name(), err.str(), _mechanism(cluster))
    if cause is not None and (name is None or name not in kafka_errors.AUTHORIZATION_ERRORS):
        return SourceError(
            f"cluster {cluster.name!r} at {servers}{doing}: {cause.detail}", cause.reason
        )
    if isinstance(err, KafkaError):
        if err.name() in kafka_errors.UNREACHABLE_ERRORS:
            return SourceError(
                f"cannot reach cluster {cluster.name!r} at {servers}{doing}: {err.str()} "
                "(check bootstrap_servers, the network and the listener's security settings: "
                "security.protocol must match the listener)",
                kafka_errors.UNREACHABLE,
            )
        if err.name() in kafka_errors.AUTHORIZATION_ERRORS:
            return SourceError(
                f"cluster {cluster.name!r} refused access{doing}: {err.str()} (the principal "
                "lacks an ACL; docs/security.md lists the ones the watchdog needs: Describe on "
                "the cluster, topics and groups, DescribeConfigs on topics)",
                kafka_errors.AUTHORIZATION,
            )
        return SourceError(f"cluster {cluster.name!r}{doing}: {err.name()}: {err.str()}")
    if isinstance(exc, TimeoutError):
        return SourceError(
            f"cluster {cluster.name!r} at {servers} did not answer in time{doing}",
            kafka_errors.TIMEOUT,
        )
    return SourceError(f"cluster {cluster.name!r}{doing}: {type(exc).__name__}: {exc}")


def _mechanism(cluster: AdminCluster) -> str | None:
    props = cluster.client_properties()
    if not props.get("security.protocol", "").upper().startswith("SASL"):
        return None
    return props.get("sasl.mechanism") or props.get("sasl.mechanisms") or "GSSAPI"


def _principal(cluster: AdminCluster) -> str | None:
    """The principal to name in a missing-ACL hint, when the config tells it."""
    return cluster.client_properties().get("sasl.username")


def _error_name(result: object) -> str | None:
    """The librdkafka error name of a failed future's exception (or of a bare KafkaError, as
    ListGroups reports per broker)."""
    err = result.args[0] if isinstance(result, KafkaException) and result.args else result
    return err.name() if isinstance(err, KafkaError) else None


class AdminSource:
    """Reads one cluster through the Admin API. Construct without I/O; `start()` connects."""

    def __init__(
        self, cluster: AdminCluster, request_timeout: float, max_concurrent: int = 8
    ) -> None:
        self.cluster = cluster
        self.request_timeout = request_timeout
        self._client: AdminClient | None = None
        self._slots = asyncio.Semaphore(max_concurrent)
        # A refused password or certificate is only told through the error callback; it is
        # kept long enough to explain the requests that then time out.
        self._client_errors = kafka_errors.ClientErrorLog(
            _mechanism(cluster), keep_for=max(60.0, 3 * (request_timeout + 5))
        )

    def client_conf(self) -> dict[str, Any]:
        """The librdkafka configuration of the handle, callbacks included (no I/O)."""
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
        conf["error_cb"] = functools.partial(
            _on_client_error, self.cluster.name, self._client_errors
        )
        conf["logger"] = _LIBRDKAFKA_LOG
        if self.cluster.oauthbearer is not None:
            # Imported only here: the token providers import the config models, which the
            # Admin API worker process does without unless a provider is configured.
            from kafka_watchdog.sources import tokens

            conf["oauth_cb"] = tokens.oauth_callback(self.cluster.oauthbearer)
        return conf

    def start(self) -> None:
        """Create the librdkafka handle (idempotent); it connects in the background."""
        if self._client is not None:
            return
        try:
            self._client = AdminClient(self.client_conf())
        except KafkaException as exc:
            # A bad librdkafka property: the message names it.
            raise SourceError(f"cluster {self.cluster.name!r}: kafka_client: {exc}") from None
        if self.cluster.oauthbearer is not None:
            # The first token is asked for through the handle's queue: serve it now rather
            # than let the first request wait out its timeout.
            self._serve_callbacks(OAUTH_FIRST_TOKEN_WAIT)

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

    def _serve_callbacks(self, wait: float = 0.0) -> None:
        """Run the callbacks librdkafka queued: errors, logs, OAUTHBEARER token refreshes
        (they only run when the client is polled, and the queue grows without bound while
        nobody does)."""
        if self._client is None:
            return
        try:
            self._client.poll(wait)
        except Exception as exc:  # raised by oauth_cb: no token, so no connection
            self._client_errors.note(
                kafka_errors.Diagnosis(
                    kafka_errors.AUTHENTICATION,
                    f"the OAUTHBEARER token provider failed: {type(exc).__name__}: {exc} "
                    "(check oauthbearer and the credentials it signs with)",
                )
            )

    def _error(self, exc: BaseException, what: str) -> SourceError:
        self._serve_callbacks()
        return describe_kafka_error(exc, self.cluster, what, self._client_errors.recent())

    async def _call(self, awaitable: Awaitable[T], what: str) -> T:
        async with self._slots:
            try:
                result = await asyncio.wait_for(awaitable, self.request_timeout + 5)
            except (KafkaException, TimeoutError) as exc:
                raise self._error(exc, what) from None
        self._serve_callbacks()
        self._client_errors.clear()
        return result

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
        pairs: list[tuple[Any, Any]]
        request = list_offsets_at_once(self.client, wanted, spec, self.request_timeout)
        if request is not None:
            answers = await self._future(request, "ListOffsets")
            pairs = list(answers.items())
        else:
            futures = self.client.list_offsets(
                {TopicPartition(t, p): spec for t, p in wanted}, **self._timeout_kw
            )
            results = await self._all(futures.values(), "ListOffsets")
            pairs = list(zip(futures, results, strict=True))
        out: dict[tuple[str, int], int] = {}
        failed: list[BaseException] = []
        for tp, result in pairs:
            if isinstance(result, KafkaError):
                result = KafkaException(result)
            if isinstance(result, BaseException):
                failed.append(result)
            elif result.offset >= 0:
                out[(tp.topic, tp.partition)] = result.offset
        if failed and not out:
            raise self._error(failed[0], "ListOffsets")
        return out

    async def groups(
        self, with_offsets: bool = True, known: Sequence[str] = ()
    ) -> dict[str, GroupState]:
        """Every consumer group: state, type, members, and every committed offset.

        Groups that are empty or have no members are kept (they still hold offsets and lag).
        ListConsumerGroupOffsets takes one group per request in confluent-kafka, so those
        requests fan out, bounded by the per-cluster limit; they run beside DescribeGroups.

        A group this call could not answer for (Describe refused by an ACL; its coordinator
        timed out, moved or is loading) is left out and named in a PartialAnswer's `unknown`
        (id -> why): the caller carries its last known state. `known` are the groups the
        caller knew: ListGroups misses every group of a coordinator that did not answer, so
        one missing from the listing is asked for by name and only taken as gone when its
        coordinator says Dead. A listing with errors makes the answer `incomplete`.
        """
        listing = await self._future(
            self.client.list_consumer_groups(**self._timeout_kw), "ListGroups"
        )
        allowed = self.cluster.groups.allows
        listed = {g.group_id: g for g in listing.valid if allowed(g.group_id)}
        missing = [g for g in known if g not in listed and allowed(g)]
        ids = [*listed, *missing]
        listing_errors = list(listing.errors or [])
        unknown: dict[str, str] = {}
        described: dict[str, Any] = {}
        # DescribeGroups and OffsetFetch side by side (the cycle waits for the slower, not
        # for both in turn); the offsets of a group that was not described are dropped.
        fetch_unknown: dict[str, str] = {}
        fetching = (
            asyncio.ensure_future(self._group_offsets(ids, fetch_unknown))
            if with_offsets and ids
            else None
        )
        try:
            if ids:
                futures = self.client.describe_consumer_groups(ids, **self._timeout_kw)
                results = await self._all(futures.values(), "DescribeGroups")
                for group_id, result in zip(futures, results, strict=True):
                    if isinstance(result, BaseException):
                        unknown[group_id] = _part_reason(result)
                    elif group_id in listed or _enum_name(result.state) not in _GONE:
                        described[group_id] = result
                    # else: not listed, and its coordinator says it does not exist: gone
            offsets = await fetching if fetching is not None else {}
        finally:
            if fetching is not None and not fetching.done():
                fetching.cancel()
        answered = [g for g in ids if g in described]
        for group_id in answered:
            if group_id in fetch_unknown:
                unknown[group_id] = fetch_unknown[group_id]
        out = {}
        for group_id in answered:
            if group_id in unknown:
                continue
            desc = described[group_id]
            entry = listed.get(group_id)
            kind = getattr(desc, "type", None) or getattr(entry, "type", None)
            out[group_id] = GroupState(
                group_id=group_id,
                state=_enum_name(desc.state),
                members=len(desc.members),
                group_type=_enum_name(kind) if kind is not None else None,
                offsets=frozen_map(offsets.get(group_id, {})),
                assigned=_assigned(desc),
            )
        if unknown or listing_errors:
            raise self._partial_groups(out, unknown, listing_errors, len(ids))
        return out

    def _partial_groups(
        self,
        out: dict[str, GroupState],
        unknown: dict[str, str],
        listing_errors: list[Any],
        asked: int,
    ) -> PartialAnswer:
        denied = sorted(g for g, why in unknown.items() if why == kafka_errors.AUTHORIZATION)
        unseen = sorted(g for g, why in unknown.items() if why != kafka_errors.AUTHORIZATION)
        said = []
        if denied:
            said.append(
                f"Describe on consumer groups denied for {len(denied)} of {asked} groups "
                f"({kafka_errors.sample(denied)}): their state and lag are unknown, their last "
                "known state is kept. The principal lacks the Describe ACL on these groups "
                "(DescribeGroups and OffsetFetch need it): "
                + kafka_errors.missing_acl_hint("Describe", "group", _principal(self.cluster))
                + ", or leave them out with groups.exclude"
            )
        if unseen:
            why = Counter(unknown[g] for g in unseen)
            said.append(
                f"{len(unseen)} of {asked} consumer groups could not be read ("
                + ", ".join(f"{_PART_WHY.get(w, w)} x{n}" for w, n in why.most_common())
                + f": {kafka_errors.sample(unseen)}): their last known state and lag are "
                "kept, marked unknown"
            )
        if listing_errors:
            said.append(
                f"ListGroups failed on {len(listing_errors)} broker(s) "
                f"({_short(listing_errors[0])}): the groups they coordinate may be missing; "
                "alerts on groups missing from the answer hold their state"
            )
        reasons = Counter(unknown.values())
        reasons.update(_part_reason(e) for e in listing_errors)
        reason = (
            kafka_errors.AUTHORIZATION
            if denied
            else reasons.most_common(1)[0][0]
            if reasons
            else kafka_errors.ERROR
        )
        return PartialAnswer(
            f"cluster {self.cluster.name!r}: " + "; ".join(said),
            out,
            reason,
            unknown=unknown,
            incomplete=bool(listing_errors),
        )

    async def _group_offsets(
        self, ids: list[str], unknown: dict[str, str]
    ) -> dict[str, dict[tuple[str, int], int]]:
        """Committed offsets of every group. OffsetFetch takes one group per request in
        confluent-kafka: all are sent at once, librdkafka queues them per coordinator.
        Groups whose fetch fails are added to `unknown` (with why): no answer is not
        "no commits"."""
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
                unknown[group_id] = _part_reason(result)
                log.debug("OffsetFetch %s: %s", group_id, result)
                continue
            failed = [tp.error for tp in result.topic_partitions if tp.error is not None]
            if failed:
                # A partition-level error (the coordinator loading, moving): no answer for
                # this group, not "no commit" for those partitions.
                unknown[group_id] = _part_reason(failed[0])
                log.debug("OffsetFetch %s: %s", group_id, failed[0])
                continue
            out[group_id] = {
                (tp.topic, tp.partition): tp.offset
                for tp in result.topic_partitions
                if tp.offset >= 0  # -1: this partition has no committed offset
            }
        return out

    async def topic_configs(self, topics: Iterable[str]) -> dict[str, TopicConfig]:
        """min.insync.replicas and unclean.leader.election.enable as in force.

        DescribeConfigs answers with the effective value whatever its source (topic override,
        broker or cluster default), so broker defaults are resolved by the broker itself.
        Topics whose configs could not be read are left out and named in a PartialAnswer's
        `unknown` (topic -> why; a refusal names the missing DescribeConfigs ACL): the caller
        keeps their last known configs. Every topic refused is a SourceError.
        """
        names = list(topics)
        if not names:
            return {}
        futures = self.client.describe_configs(
            [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names], **self._timeout_kw
        )
        results = await self._all(futures.values(), "DescribeConfigs")
        out = {}
        unknown: dict[str, str] = {}
        for resource, result in zip(futures, results, strict=True):
            if isinstance(result, BaseException):
                unknown[resource.name] = _part_reason(result)
                continue
            out[resource.name] = TopicConfig(
                min_insync_replicas=_int(result.get("min.insync.replicas")),
                unclean_leader_election=_bool(result.get("unclean.leader.election.enable")),
                retention_ms=_int(result.get("retention.ms")),
                retention_bytes=_int(result.get("retention.bytes")),
                cleanup_policy=_str(result.get("cleanup.policy")),
            )
        denied = sorted(t for t, why in unknown.items() if why == kafka_errors.AUTHORIZATION)
        failed = sorted(t for t, why in unknown.items() if why != kafka_errors.AUTHORIZATION)
        if denied:
            message = (
                f"cluster {self.cluster.name!r}: DescribeConfigs denied for {len(denied)} of "
                f"{len(names)} topics ({kafka_errors.sample(denied)}): their "
                "min.insync.replicas and unclean.leader.election.enable are unknown, so "
                "under-min-ISR and config hazards cannot be judged for them. The principal "
                "lacks the DescribeConfigs ACL on these topics: "
                + kafka_errors.missing_acl_hint(
                    "DescribeConfigs", "topic", _principal(self.cluster)
                )
            )
            if len(denied) == len(names):
                raise SourceError(message, kafka_errors.AUTHORIZATION)
            raise PartialAnswer(message, out, unknown=unknown)
        if failed:
            why = Counter(unknown[t] for t in failed)
            raise PartialAnswer(
                f"cluster {self.cluster.name!r}: DescribeConfigs failed for {len(failed)} of "
                f"{len(names)} topics ("
                + ", ".join(f"{_PART_WHY.get(w, w)} x{n}" for w, n in why.most_common())
                + f": {kafka_errors.sample(failed)}): their last known configs are kept, "
                "marked unknown",
                out,
                why.most_common(1)[0][0],
                unknown=unknown,
            )
        return out


def list_offsets_at_once(
    client: AdminClient, wanted: list[tuple[str, int]], spec: OffsetSpec, timeout: float
) -> Future[dict[Any, Any]] | None:
    """ListOffsets for every partition behind one future whose result maps each
    TopicPartition to its answer or KafkaError; None when this client library lacks it.

    AdminClient.list_offsets wraps that same call in one concurrent future per partition,
    made and completed in Python: at 2,000 partitions, asked twice a cycle, those futures
    were a third of the Admin API worker's CPU. This calls the request underneath it
    directly (the C implementation's list_offsets, which the public method calls with
    one future); tests/unit/test_isolated.py fails if an upgrade removes it."""
    request = getattr(_AdminClientImpl, "list_offsets", None)
    value = getattr(spec, "_value", None)
    if request is None or value is None:
        return None
    future: Future[dict[Any, Any]] = Future()
    future.set_running_or_notify_cancel()
    request(
        client,
        [TopicPartition(t, p, int(value)) for t, p in wanted],
        future,
        request_timeout=timeout,
    )
    return future


class _DebugLog:
    """librdkafka's own log lines, at debug whatever their level. A refused password makes
    librdkafka log an ERROR per broker per retry (dozens a second); the collection loop
    says it once, with the setting to fix. (Served by poll, like the error callback.)"""

    def log(self, _level: int, msg: str, *args: object) -> None:
        _rdkafka_log.debug(msg, *args)


_LIBRDKAFKA_LOG = _DebugLog()


def _on_client_error(cluster: str, errors: kafka_errors.ClientErrorLog, err: KafkaError) -> None:
    # librdkafka reports connection trouble here (served by poll). The collection loop
    # reports the outcome that matters (the cycle failed, and why): a refused password or
    # certificate is kept to explain it; the rest stays at debug.
    errors.record(err.name(), err.str())
    _rdkafka_log.debug("librdkafka: %s", err.str(), extra={"kafka_cluster": cluster})


# Group states a coordinator gives for a group it does not have.
_GONE = frozenset({"DEAD"})
_PART_WHY = {
    kafka_errors.COORDINATOR: "coordinator not available",
    kafka_errors.TIMEOUT: "timed out",
    kafka_errors.UNREACHABLE: "unreachable",
    kafka_errors.AUTHORIZATION: "refused",
}


def _part_reason(result: object) -> str:
    """Why one group or topic of a fan-out got no answer, in one word."""
    name = _error_name(result)
    if name in kafka_errors.AUTHORIZATION_ERRORS:
        return kafka_errors.AUTHORIZATION
    if name in kafka_errors.COORDINATOR_ERRORS:
        return kafka_errors.COORDINATOR
    if name == "_TIMED_OUT" or isinstance(result, TimeoutError):
        return kafka_errors.TIMEOUT
    if name in kafka_errors.UNREACHABLE_ERRORS:
        return kafka_errors.UNREACHABLE
    return kafka_errors.ERROR


def _short(error: Any) -> str:
    err = error.args[0] if isinstance(error, KafkaException) and error.args else error
    return err.str() if isinstance(err, KafkaError) else str(err)[:200]


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


def _str(entry: Any) -> str | None:
    return str(entry.value) if entry is not None and entry.value is not None else None


def _bool(entry: Any) -> bool | None:
    if entry is None or entry.value is None:
        return None
    return str(entry.value).lower() == "true"
