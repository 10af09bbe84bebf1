"""HTTP handlers and the metrics collector over recorded state (no network, no Kafka)."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import tempfile
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from kafka_watchdog.app.lifecycle import build_app
from kafka_watchdog.config import load_config_text
from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.detection.assess import assess
from kafka_watchdog.model.snapshot import (
    Broker,
    ClusterMode,
    ClusterSnapshot,
    PartitionState,
    TopicState,
)
from kafka_watchdog.model.state import ClusterBoard, ClusterState
from kafka_watchdog.sinks.metrics import MetricsRenderer
from kafka_watchdog.web import routes

CONFIG = """\
clusters:
  - name: prod
    bootstrap_servers: a:9092
    zookeeper: {connect: 'z:2181/kafka'}
  - name: dev
    bootstrap_servers: b:9092
"""


def publish(board: ClusterBoard, state: ClusterState, snapshot: ClusterSnapshot) -> None:
    """Publish `state` with a new snapshot, as a collection loop would."""
    board.publish(
        dataclasses.replace(
            state, snapshot=snapshot, assessment=assess(snapshot, 2), version=state.version + 1
        )
    )


def cluster(app: web.Application, name: str) -> ClusterState:
    state = app[routes.BOARD].get(name)
    assert state is not None
    return state


@pytest.fixture
def app() -> web.Application:
    app = build_app(load_config_text(CONFIG, environ={}))
    board = app[routes.BOARD]
    prod, dev = board.states()
    now = time.time()
    health = prod.health.with_stage(prod.health.admin.succeeded(now - 1, now))
    prod = dataclasses.replace(prod, health=health.with_zookeeper_state("CONNECTED"))
    topic = TopicState(
        "orders",
        (
            PartitionState("orders", 0, 1, (1, 2, 3), (1, 2, 3)),
            PartitionState("orders", 1, 2, (2, 3, 1), (2, 3)),
        ),
    )
    publish(
        board,
        prod,
        ClusterSnapshot(
            cluster="prod",
            taken_at=now,
            cluster_id="abc",
            brokers=MappingProxyType({i: Broker(i, "h", 9092) for i in (1, 2, 3)}),
            controller_id=2,
            topics=MappingProxyType({"orders": topic}),
            mode=ClusterMode.ZOOKEEPER,
        ),
    )
    failed = dev.health.admin.failed(now - 1, now, "cannot reach cluster 'dev' at b:9092: refused")
    board.publish(dataclasses.replace(dev, health=dev.health.with_stage(failed)))
    return app


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


async def get(app: web.Application, path: str, **headers: str) -> Answer:
    """A real HTTP request, served by aiohttp on a Unix socket (unit tests have no network).

    The handlers run as in the daemon; the daemon's start-up (which would connect to Kafka)
    is left out by serving a copy of the app with the same published state and routes.
    """
    headers.setdefault("Accept-Encoding", "identity")  # the client's default asks for gzip
    served = web.Application()
    served[routes.BOARD] = app[routes.BOARD]
    served[routes.RENDERER] = app[routes.RENDERER]
    routes.add_routes(served)
    runner = web.AppRunner(served)
    await runner.setup()
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "web.sock")
        await web.UnixSite(runner, sock).start()
        try:
            async with (
                aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=sock)) as session,
                session.get(f"http://local{path}", headers=headers, auto_decompress=False) as r,
            ):
                return Answer(r.status, dict(r.headers), await r.read())
        finally:
            await runner.cleanup()


def gunzip_one_member(body: bytes) -> bytes:
    """A strict gzip decoder: exactly one member, nothing after it. curl and other clients
    decode only the first member of a multi-member stream, so a second one is lost data;
    gzip.decompress would accept it."""
    decoder = zlib.decompressobj(wbits=31)
    data = decoder.decompress(body)
    assert decoder.eof, "the gzip member is truncated"
    assert decoder.unused_data == b"", f"{len(decoder.unused_data)} bytes after the first member"
    return data


def samples(body: bytes) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out


async def test_01_metrics_render_latest_state(app: web.Application) -> None:
    response = await get(app, "/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    got = samples(response.body)
    assert got["kafka_watchdog_up{kafka_cluster=prod}"] == 1
    assert got["kafka_watchdog_up{kafka_cluster=dev}"] == 0
    assert got["kafka_watchdog_brokers{kafka_cluster=prod}"] == 3
    assert got["kafka_watchdog_controller_id{kafka_cluster=prod}"] == 2
    assert got["kafka_watchdog_partitions{kafka_cluster=prod}"] == 2
    assert got["kafka_watchdog_cluster_info{cluster_id=abc,kafka_cluster=prod,mode=zookeeper}"] == 1
    assert (
        got["kafka_watchdog_collection_errors_total{kafka_cluster=dev,source=admin,stage=metadata}"]
        == 1
    )
    assert got["kafka_watchdog_zookeeper_session_state{kafka_cluster=prod,state=CONNECTED}"] == 1
    assert "kafka_watchdog_brokers{kafka_cluster=dev}" not in got  # no view yet: no guess


async def test_02_metrics_for_one_cluster(app: web.Application) -> None:
    response = await get(app, "/metrics?kafka_cluster=dev")
    got = samples(response.body)
    assert "kafka_watchdog_up{kafka_cluster=dev}" in got
    assert not any("kafka_cluster=prod" in key for key in got)
    missing = await get(app, "/metrics?kafka_cluster=nope")
    assert missing.status == 404
    assert missing.body == b"no cluster named 'nope'; configured: prod, dev\n"


async def test_03_openmetrics_and_gzip(app: web.Application) -> None:
    response = await get(
        app,
        "/metrics",
        Accept="application/openmetrics-text; version=1.0.0",
        **{"Accept-Encoding": "gzip"},
    )
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    body = gunzip_one_member(response.body)
    assert body.endswith(b"# EOF\n") and body.count(b"# EOF") == 1


async def test_04_readyz_names_the_cluster_that_is_not_ready(app: web.Application) -> None:
    response = await get(app, "/readyz")
    assert response.status == 503
    doc = json.loads(response.body)
    by_name = {c["name"]: c for c in doc["clusters"]}
    assert by_name["prod"]["ready"] and by_name["prod"]["brokers"] == [1, 2, 3]
    assert not by_name["dev"]["ready"]
    assert "cannot reach cluster 'dev'" in by_name["dev"]["reason"]


async def test_05_readyz_ok_when_all_fresh(app: web.Application) -> None:
    dev = cluster(app, "dev")
    fresh = dev.health.admin.succeeded(time.time(), time.time())
    app[routes.BOARD].publish(dataclasses.replace(dev, health=dev.health.with_stage(fresh)))
    response = await get(app, "/readyz")
    assert response.status == 200


async def test_06_healthz_is_always_ok(app: web.Application) -> None:
    response = await get(app, "/healthz")
    assert response.status == 200


async def test_07_help_texts_say_collection_is_scheduled(app: web.Application) -> None:
    response = await get(app, "/metrics")
    body = response.body.decode()
    helps = [line for line in body.splitlines() if line.startswith("# HELP kafka_watchdog_")]
    scheduled = [h for h in helps if "not at scrape time" in h]
    assert len(scheduled) == len(helps) - 1  # all but build_info


async def test_09_both_formats_parse_and_gzip_is_the_same_body(app: web.Application) -> None:
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as openmetrics_families,
    )

    plain = (await get(app, "/metrics")).body.decode()
    zipped = await get(app, "/metrics", **{"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    # One gzip member, the cached bulk and the fresh tail in it.
    unzipped = gunzip_one_member(zipped.body).decode()

    def steady(text: str) -> list[str]:  # without the lines that change with the clock
        moving = ("process_", "python_gc", "snapshot_age", "timestamp_seconds{", "duration")
        return [line for line in text.splitlines() if not any(m in line for m in moving)]

    assert steady(plain) == steady(unzipped)
    om = await get(app, "/metrics", Accept="application/openmetrics-text; version=1.0.0")
    families = {f.name: f for f in openmetrics_families(om.body.decode())}
    shrinks = families["kafka_watchdog_isr_shrinks"]
    assert shrinks.type == "counter"
    assert [s.name for s in shrinks.samples] == ["kafka_watchdog_isr_shrinks_total"]
    assert (
        samples(plain.encode())[
            "kafka_watchdog_partition_under_replicated{kafka_cluster=prod,partition=1,topic=orders}"
        ]
        == 1
    )


async def test_10_bulk_is_rebuilt_only_for_a_new_snapshot(app: web.Application) -> None:
    prod = cluster(app, "prod")
    renderer = app[routes.RENDERER]
    first = renderer.chunks([prod])
    again = renderer.chunks([prod])
    cached = zip(first[:-1], again[:-1], strict=True)  # all but the fresh tail
    assert first[:-1] == again[:-1] and all(a is b for a, b in cached)
    latest = prod.snapshot
    assert latest is not None
    gone = dataclasses.replace(latest, topics=MappingProxyType({}))  # topic deleted
    publish(app[routes.BOARD], prod, gone)
    text = b"".join(renderer.chunks([cluster(app, "prod")])).decode()
    assert 'topic="orders"' not in text


async def test_11_label_values_are_escaped(app: web.Application) -> None:
    from kafka_watchdog.model.snapshot import GroupState

    prod = cluster(app, "prod")
    latest = prod.snapshot
    assert latest is not None
    odd = 'we"ird\\group\nid'
    group = GroupState(odd, "Empty", 0, "classic", MappingProxyType({}), frozenset())
    publish(
        app[routes.BOARD], prod, dataclasses.replace(latest, groups=MappingProxyType({odd: group}))
    )
    got = samples((await get(app, "/metrics")).body)
    assert got[f"kafka_watchdog_consumergroup_members{{group={odd},kafka_cluster=prod}}"] == 0


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text", "openmetrics"])
async def test_12_gzip_is_one_member_whatever_is_cached(
    app: web.Application, openmetrics: bool
) -> None:
    # Without the process collectors, whose values move between two renders.
    renderer = MetricsRenderer(app[routes.BOARD], process_registry=None)
    prod = cluster(app, "prod")
    now = time.time()
    for chosen in ([prod], [], list(app[routes.BOARD].states())):
        for _ in range(2):  # first the bulk is compressed, then it comes from the cache
            plain = renderer.exposition(chosen, openmetrics=openmetrics, now=now)
            zipped = renderer.exposition(chosen, openmetrics=openmetrics, gzipped=True, now=now)
            assert gunzip_one_member(zipped) == plain
            assert gzip.decompress(zipped) == plain  # and a lenient decoder agrees
    cached = renderer.chunks([prod], gzipped=True, now=now)
    publish(
        app[routes.BOARD], prod, dataclasses.replace(prod.snapshot, topics=MappingProxyType({}))
    )
    changed = renderer.chunks([cluster(app, "prod")], gzipped=True, now=now)
    assert cached[1] != changed[1]  # a new snapshot: the bulk compressed anew
    assert b"orders" not in gunzip_one_member(b"".join(changed))


def test_13_kafka_broker_info_as_kafka_exporter_names_it(app: web.Application) -> None:
    board = app[routes.BOARD]
    prod = cluster(app, "prod")
    assert prod.snapshot is not None
    brokers = {1: Broker(1, "kafka-1.example", 9092), 2: Broker(2, "fd00::2", 9093)}
    publish(board, prod, dataclasses.replace(prod.snapshot, brokers=MappingProxyType(brokers)))
    compat = MetricsConfig(kafka_exporter_compat=True)
    one = MetricsRenderer(board, compat, process_registry=None)
    got = samples(one.exposition([cluster(app, "prod")]))
    assert {k: v for k, v in got.items() if k.startswith("kafka_broker_info")} == {
        "kafka_broker_info{address=kafka-1.example:9092,id=1}": 1,
        "kafka_broker_info{address=[fd00::2]:9093,id=2}": 1,
    }
    # Several clusters in one answer: the kafka_cluster label keeps their brokers apart.
    both = samples(MetricsRenderer(board, compat, process_registry=None).exposition())
    assert both["kafka_broker_info{address=kafka-1.example:9092,id=1,kafka_cluster=prod}"] == 1
