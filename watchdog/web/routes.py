"""HTTP handlers. They read the watchers' state and never call Kafka."""

from __future__ import annotations

import re
import time

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from kafka_watchdog import __version__
from kafka_watchdog.alerting.service import AlertingService
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.durations import parse_duration, parse_timestamp
from kafka_watchdog.sinks.metrics import MetricsRenderer

WATCHERS = web.AppKey("watchers", list[ClusterWatcher])
RENDERER = web.AppKey("renderer", MetricsRenderer)
ALERTING = web.AppKey("alerting", AlertingService)

_INDEX = """<!doctype html><html><head><title>kafka-watchdog</title></head><body>
<h1>kafka-watchdog {version}</h1>
<ul>
<li><a href="/metrics">/metrics</a> Prometheus metrics (all clusters;
 <code>?kafka_cluster=NAME</code> for one)</li>
<li><a href="/healthz">/healthz</a> the daemon is alive</li>
<li><a href="/readyz">/readyz</a> every configured cluster has a fresh view</li>
<li><a href="/api/clusters">/api/clusters</a> the state of each cluster (JSON)</li>
<li><a href="/api/alerts">/api/alerts</a> pending, firing and recently resolved alerts</li>
<li><a href="/api/silences">/api/silences</a> silences (POST to add, DELETE /api/silences/ID
 to expire)</li>
</ul></body></html>"""


async def index(request: web.Request) -> web.Response:
    return web.Response(text=_INDEX.format(version=__version__), content_type="text/html")


async def metrics(request: web.Request) -> web.StreamResponse:
    watchers: list[ClusterWatcher] = request.app[WATCHERS]
    only = request.query.get("kafka_cluster")
    if only is not None:
        watchers = [w for w in watchers if w.name == only]
        if not watchers:
            known = ", ".join(w.name for w in request.app[WATCHERS])
            raise web.HTTPNotFound(text=f"no cluster named {only!r}; configured: {known}\n")
    _, content_type = choose_encoder(request.headers.get("Accept", ""))
    openmetrics = content_type.startswith("application/openmetrics-text")
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    chunks = request.app[RENDERER].chunks(watchers, openmetrics=openmetrics, gzipped=gzipped)
    response = web.StreamResponse(headers={"Content-Type": content_type})
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    # Written chunk by chunk: the cached blocks (tens of MB on big clusters) are not copied
    # into one body for each scrape.
    response.content_length = sum(map(len, chunks))
    await response.prepare(request)
    for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def cluster_states(watchers: list[ClusterWatcher], now: float) -> list[dict[str, object]]:
    states: list[dict[str, object]] = []
    for watcher in watchers:
        ready, reason = watcher.ready(now)
        snap = watcher.store.latest
        state: dict[str, object] = {
            "name": watcher.name,
            "ready": ready,
            "reason": reason,
            "stages": {
                h.stage: {
                    "last_success": h.last_success,
                    "last_error": h.last_error,
                    "last_error_reason": h.last_reason,
                    "consecutive_failures": h.consecutive_failures,
                }
                for h in watcher.health.sources()
            },
        }
        if watcher.health.zookeeper is not None:
            state["zookeeper_session"] = watcher.health.zookeeper_state
        if snap is not None:
            state.update(
                cluster_id=snap.cluster_id,
                brokers=sorted(snap.brokers),
                controller_id=snap.controller_id,
                topics=len(snap.topics),
                partitions=snap.partition_count,
                snapshot_age_seconds=round(now - snap.taken_at, 3),
            )
        states.append(state)
    return states


async def readyz(request: web.Request) -> web.Response:
    states = cluster_states(request.app[WATCHERS], time.time())
    ready = all(s["ready"] for s in states)
    return web.json_response({"ready": ready, "clusters": states}, status=200 if ready else 503)


async def api_clusters(request: web.Request) -> web.Response:
    return web.json_response(cluster_states(request.app[WATCHERS], time.time()))


def _alerting(request: web.Request) -> AlertingService:
    service = request.app.get(ALERTING)
    if service is None:
        raise web.HTTPNotFound(text="alerting is disabled (alerting.enabled: false)\n")
    return service


async def api_alerts(request: web.Request) -> web.Response:
    service = _alerting(request)
    alerts = sorted(service.book.alerts.values(), key=lambda a: a.fingerprint)
    return web.json_response([a.to_json() for a in alerts])


async def api_silences(request: web.Request) -> web.Response:
    service = _alerting(request)
    return web.json_response([s.to_json() for s in service.silences.values()])


async def api_add_silence(request: web.Request) -> web.Response:
    """{"matchers": {"label": "regex"}, "ends_at": ISO | "duration": "2h", "comment": "...",
    "created_by": "..."} -> the silence, with its id."""
    service = _alerting(request)
    try:
        doc = await request.json()
        matchers = doc["matchers"]
        if not isinstance(matchers, dict) or not matchers:
            raise ValueError("matchers must be a non-empty object of label -> regex")
        for pattern in matchers.values():
            re.compile(pattern)
        now = time.time()
        if "ends_at" in doc:
            ends = parse_timestamp(str(doc["ends_at"]))
        else:
            ends = now + parse_duration(doc["duration"])
        if ends <= now:
            raise ValueError("the silence would already be over (ends_at in the past)")
    except (KeyError, ValueError, TypeError, re.error) as exc:
        missing = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise web.HTTPBadRequest(
            text=f"bad silence: {missing}; expected {{matchers: {{label: regex}}, "
            "ends_at: ISO time or duration: 2h, comment, created_by}\n"
        ) from None
    silence = service.add_silence(
        {str(k): str(v) for k, v in matchers.items()},
        ends,
        str(doc.get("comment", "")),
        str(doc.get("created_by", "api")),
    )
    return web.json_response(silence.to_json(), status=201)


async def api_expire_silence(request: web.Request) -> web.Response:
    service = _alerting(request)
    if not service.expire_silence(request.match_info["silence_id"]):
        raise web.HTTPNotFound(text="no such silence\n")
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/clusters", api_clusters)
    app.router.add_get("/api/alerts", api_alerts)
    app.router.add_get("/api/silences", api_silences)
    app.router.add_post("/api/silences", api_add_silence)
    app.router.add_delete("/api/silences/{silence_id}", api_expire_silence)
