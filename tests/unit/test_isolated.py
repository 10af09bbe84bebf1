"""The Admin API worker's boundary: what crosses it survives unchanged, and the worker's
entry point stays lean (its memory is the interpreter plus librdkafka)."""

from __future__ import annotations

import asyncio
import io
import pickle
import re
import subprocess
import sys
from types import MappingProxyType

import pytest

from kafka_watchdog.config.schema import ClusterConfig, NameFilter
from kafka_watchdog.model.parts import ClusterDescription
from kafka_watchdog.model.snapshot import Broker, GroupState, frozen_map
from kafka_watchdog.sources import worker_protocol as protocol
from kafka_watchdog.sources.cluster_spec import ClusterSpec
from kafka_watchdog.sources.errors import PartialAnswer, SourceError


def test_snapshot_parts_round_trip_with_their_read_only_mappings() -> None:
    group = GroupState(
        "billing",
        "Stable",
        2,
        "classic",
        frozen_map({("orders", 0): 42}),
        frozenset({("orders", 0)}),
    )
    description = ClusterDescription("id", 1, frozen_map({1: Broker(1, "h", 9092, "r1")}))
    for value in (group, description):
        again = pickle.loads(pickle.dumps(value))
        assert again == value
    assert isinstance(pickle.loads(pickle.dumps(group)).offsets, MappingProxyType)


def test_frames_round_trip_in_order_blocking_and_async() -> None:
    messages = [
        (1, "topics", ()),
        (2, False, PartialAnswer("denied", {"g": 1}, "authorization")),
        (3, True, frozen_map({("t", 0): (0, 5)})),
    ]
    data = b"".join(protocol.frame(m) for m in messages)
    stream = io.BytesIO(data)
    got = [protocol.read_blocking(stream) for _ in messages]
    with pytest.raises(EOFError):
        protocol.read_blocking(stream)

    async def read_all() -> list[object]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        out = [await protocol.read(reader) for _ in messages]
        with pytest.raises(asyncio.IncompleteReadError):
            await protocol.read(reader)
        return out

    for decoded in (got, asyncio.run(read_all())):
        assert decoded[0] == messages[0]
        error = decoded[1][2]  # type: ignore[index]
        assert isinstance(error, PartialAnswer)
        assert (str(error), error.value, error.reason) == ("denied", {"g": 1}, "authorization")
        assert decoded[2] == messages[2]


def test_a_corrupt_length_is_refused_not_allocated() -> None:
    stream = io.BytesIO(protocol.HEADER.pack(protocol.MAX_FRAME + 1) + b"x")
    with pytest.raises(protocol.ProtocolError, match="corrupt"):
        protocol.read_blocking(stream)


def test_the_cluster_spec_filters_names_as_the_config_does() -> None:
    config = ClusterConfig(
        name="prod",
        bootstrap_servers=["a:9092", "b:9092"],
        kafka_client={"security.protocol": "SASL_SSL", "enable.ssl.certificate.verification": True},
        topics=NameFilter(include=[re.compile("orders.*"), re.compile("(?i)audit")]),
        groups=NameFilter(exclude=[re.compile("console-consumer-.*")]),
    )
    spec = pickle.loads(pickle.dumps(ClusterSpec.of(config)))
    assert spec.client_properties() == config.client_properties()
    assert spec.bootstrap_servers == ("a:9092", "b:9092")
    for name in ("orders", "orders-eu", "AUDIT", "payments", "audits"):
        assert spec.topics.allows(name) == config.topics.allows(name), name
    for name in ("billing", "console-consumer-42"):
        assert spec.groups.allows(name) == config.groups.allows(name), name


def test_errors_keep_message_and_reason_through_a_frame() -> None:
    error = protocol.read_blocking(io.BytesIO(protocol.frame(SourceError("no", "timeout"))))
    assert isinstance(error, SourceError)
    assert (str(error), error.reason) == ("no", "timeout")


def test_the_worker_imports_no_config_http_or_multiprocessing() -> None:
    """What the worker process loads: neither the daemon's libraries (pydantic, aiohttp,
    kazoo, apprise, kafka-python, prometheus_client) nor multiprocessing, whose resource
    tracker would be a third process."""
    code = (
        "import sys\n"
        "import kafka_watchdog.sources.admin_worker\n"
        "print(','.join(sorted(m for m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = set(out.strip().split(","))
    assert "confluent_kafka" in loaded
    heavy = {
        "pydantic",
        "aiohttp",
        "kazoo",
        "apprise",
        "kafka",
        "prometheus_client",
        "multiprocessing",
        "yaml",
        "kafka_watchdog.config",
        "kafka_watchdog.app",
    }
    assert not heavy & loaded


def test_the_one_future_list_offsets_exists_in_this_confluent_kafka() -> None:
    """The Admin source asks ListOffsets through the request under AdminClient.list_offsets
    (one future for all partitions, not one per partition): an upgrade of confluent-kafka
    that drops it would silently bring the per-partition futures back."""
    from confluent_kafka.admin import OffsetSpec
    from confluent_kafka.cimpl import _AdminClientImpl

    assert callable(getattr(_AdminClientImpl, "list_offsets", None))
    assert (OffsetSpec.earliest()._value, OffsetSpec.latest()._value) == (-2, -1)


def test_answers_travel_as_changes_and_unchanged_objects_are_kept() -> None:
    """Encoder (worker) and Decoder (parent) over a random run of answers: every decoded
    answer equals the one encoded, in order; what did not change is the parent's earlier
    object; a cycle that found nothing new carries no values."""
    import random

    from kafka_watchdog.model.parts import TopicMetadata
    from kafka_watchdog.model.snapshot import PartitionState, TopicConfig

    rng = random.Random(5)
    encoder, decoder = protocol.Encoder(), protocol.Decoder()

    def topics() -> list[TopicMetadata]:
        names = sorted(rng.sample([f"t{i}" for i in range(12)], rng.randrange(0, 12)))
        return [
            TopicMetadata(
                n, (PartitionState(n, 0, rng.choice([1, 1, 1, 2]), (1, 2), (1, 2)),), False
            )
            for n in names
        ]

    def offsets() -> dict[tuple[str, int], tuple[int | None, int | None]]:
        return {(f"t{i}", 0): (0, rng.choice([5, 5, 5, 9])) for i in range(rng.randrange(1, 8))}

    def configs() -> dict[str, TopicConfig]:
        return {f"t{i}": TopicConfig(rng.choice([2, 2, 1]), False) for i in range(5)}

    previous: dict[str, object] = {}
    for _ in range(200):
        method, make = rng.choice(
            [("topics", topics), ("log_offsets", offsets), ("topic_configs", configs)]
        )
        answer = make()
        wire = pickle.loads(pickle.dumps(encoder.encode(method, answer)))
        assert isinstance(wire, protocol.Changes)
        got = decoder.decode(wire)
        assert got == answer
        if method == "topics":
            assert [t.name for t in got] == [t.name for t in answer]
            last = {t.name: t for t in previous.get(method, [])}  # type: ignore[attr-defined]
            for t in got:
                if t.name in last and last[t.name] == t:
                    assert t is last[t.name]  # unchanged: the parent's own object
        if previous.get(method) == answer:
            assert not wire.changed and not wire.removed
        previous[method] = got


@pytest.mark.parametrize(
    ("returncode", "cause", "how"),
    [
        (-6, "abort", "died (SIGABRT: a librdkafka abort)"),
        (-9, "killed", "died (SIGKILL)"),
        (1, "exited", "exited (code 1)"),
        (None, "hung", "stopped answering"),  # its stdout ended but it did not exit
    ],
)
def test_a_worker_that_ended_is_counted_by_cause(
    returncode: int | None, cause: str, how: str
) -> None:
    """The subprocess's returncode names why it ended (admin_worker_restarts{cause})."""
    from kafka_watchdog.sources.isolated import _how_it_ended

    assert _how_it_ended(returncode) == (cause, how)
