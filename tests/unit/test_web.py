"""HTTP handlers and the metrics collector over recorded state (no network, no Kafka)."""

from __future__ import annotations

import gzip
import json
import time
from types import MappingProxyType

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client.parser import text_string_to_metric_families

from watchdog.app.lifecycle import build_app
from watchdog.config import load_config_text
from watchdog.model.snapshot import Broker, ClusterMode, ClusterSnapshot, PartitionState, TopicState
from watchdog.web import routes

CONFIG = """\
clusters:
  - name: prod
    bootstrap_servers: a:9092
    zookeeper: {connect: 'z:2181/kafka'}
  - name: dev
    bootstrap_servers: b:9092
"""


@pytest.fixture
def app() -> web.Application:
    app = build_app(load_config_text(CONFIG, environ={}))
    prod, dev = app[routes.WATCHERS]
    now = time.time()
    prod.health.admin.succeeded(now - 1, now)
    prod.health.zookeeper_state = "CONNECTED"
    topic = TopicState(
        "orders",
        (
            PartitionState("orders", 0, 1, (1, 2, 3), (1, 2, 3)),
            PartitionState("orders", 1, 2, (2, 3, 1), (2, 3)),
        ),
    )
    prod.store.put(
        ClusterSnapshot(
            cluster="prod",
            taken_at=now,
            cluster_id="abc",
            brokers=MappingProxyType({i: Broker(i, "h", 9092) for i in (1, 2, 3)}),
            controller_id=2,
            topics=MappingProxyType({"orders": topic}),
            mode=ClusterMode.ZOOKEEPER,
        )
    )
    dev.health.admin.failed(now - 1, now, "cannot reach cluster 'dev' at b:9092: refused")
    return app


def request(app: web.Application, path: str, **headers: str) -> web.Request:
    return make_mocked_request("GET", path, headers=headers, app=app)


def samples(body: bytes) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out


async def test_01_metrics_render_latest_state(app: web.Application) -> None:
    response = await routes.metrics(request(app, "/metrics"))
    assert response.content_type == "text/plain"
    got = samples(response.body)  # type: ignore[arg-type]
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
    response = await routes.metrics(request(app, "/metrics?kafka_cluster=dev"))
    got = samples(response.body)  # type: ignore[arg-type]
    assert "kafka_watchdog_up{kafka_cluster=dev}" in got
    assert not any("kafka_cluster=prod" in key for key in got)
    with pytest.raises(web.HTTPNotFound) as info:
        await routes.metrics(request(app, "/metrics?kafka_cluster=nope"))
    assert info.value.text == "no cluster named 'nope'; configured: prod, dev\n"


async def test_03_openmetrics_and_gzip(app: web.Application) -> None:
    response = await routes.metrics(
        request(
            app,
            "/metrics",
            Accept="application/openmetrics-text; version=1.0.0",
            **{"Accept-Encoding": "gzip"},
        )
    )
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    body = gzip.decompress(response.body)  # type: ignore[arg-type]
    assert body.endswith(b"# EOF\n")


async def test_04_readyz_names_the_cluster_that_is_not_ready(app: web.Application) -> None:
    response = await routes.readyz(request(app, "/readyz"))
    assert response.status == 503
    doc = json.loads(response.body)  # type: ignore[arg-type]
    by_name = {c["name"]: c for c in doc["clusters"]}
    assert by_name["prod"]["ready"] and by_name["prod"]["brokers"] == [1, 2, 3]
    assert not by_name["dev"]["ready"]
    assert "cannot reach cluster 'dev'" in by_name["dev"]["reason"]


async def test_05_readyz_ok_when_all_fresh(app: web.Application) -> None:
    dev = app[routes.WATCHERS][1]
    dev.health.admin.succeeded(time.time(), time.time())
    response = await routes.readyz(request(app, "/readyz"))
    assert response.status == 200


async def test_06_healthz_is_always_ok(app: web.Application) -> None:
    response = await routes.healthz(request(app, "/healthz"))
    assert response.status == 200


async def test_07_help_texts_say_collection_is_scheduled(app: web.Application) -> None:
    response = await routes.metrics(request(app, "/metrics"))
    body = response.body.decode()  # type: ignore[union-attr]
    helps = [line for line in body.splitlines() if line.startswith("# HELP kafka_watchdog_")]
    scheduled = [h for h in helps if "not at scrape time" in h]
    assert len(scheduled) == len(helps) - 1  # all but build_info


def test_08_every_metric_is_documented() -> None:
    from pathlib import Path

    from prometheus_client import CollectorRegistry

    from bench.synthetic import populated_watcher
    from watchdog.config.schema import MetricsConfig
    from watchdog.sinks.metrics import WatchdogCollector

    docs = (Path(__file__).resolve().parents[2] / "docs/metrics.md").read_text()
    registry = CollectorRegistry(auto_describe=False)
    watcher = populated_watcher(40, 2)
    watcher.health.zookeeper_state = "CONNECTED"
    registry.register(WatchdogCollector([watcher], MetricsConfig(kafka_exporter_compat=True)))
    names = {f.name + ("_total" if f.type == "counter" else "") for f in registry.collect()}
    missing = sorted(n for n in names if f"`{n}`" not in docs)
    assert not missing, f"docs/metrics.md does not document {missing}"
