"""HTTP handlers. They read what the clusters and alerting published (the board, the
alerting status) and never call Kafka; silences are the one thing they change."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from kafka_watchdog.alerting.silences import SilenceLimit, Silences, parse_request
from kafka_watchdog.alerting.status import AlertingStatus
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.model.unknown import Unknowns
from kafka_watchdog.web import status_page
from kafka_watchdog.web.keys import ALERTING, BOARD, MAX_SILENCE_DURATION, RENDERER, SILENCES
from kafka_watchdog.web.security import AUTHENTICATED, USER

__all__ = ["ALERTING", "BOARD", "MAX_SILENCE_DURATION", "RENDERER", "SILENCES", "add_routes"]


async def metrics(request: web.Request) -> web.StreamResponse:
    board = request.app[BOARD]
    states = board.states()
    only = request.query.get("kafka_cluster")
    if only is not None:
        states = tuple(s for s in states if s.name == only)
        if not states:
            known = ", ".join(board.names)
            raise web.HTTPNotFound(text=f"no cluster named {only!r}; configured: {known}\n")
    _, content_type = choose_encoder(request.headers.get("Accept", ""))
    openmetrics = content_type.startswith("application/openmetrics-text")
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    chunks = await request.app[RENDERER].scrape(states, openmetrics=openmetrics, gzipped=gzipped)
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


def cluster_states(published: tuple[ClusterState, ...], now: float) -> list[dict[str, object]]:
    states: list[dict[str, object]] = []
    for cluster in published:
        ready, reason = cluster.ready(now)
        snap = cluster.snapshot
        state: dict[str, object] = {
            "name": cluster.name,
            "ready": ready,
            "reason": reason,
            "stages": {
                h.stage: {
                    "last_success": h.last_success,
                    "last_error": h.last_error,
                    "last_error_reason": h.last_reason,
                    "consecutive_failures": h.consecutive_failures,
                }
                for h in cluster.health.sources()
            },
        }
        if cluster.health.zookeeper is not None:
            state["zookeeper_session"] = cluster.health.zookeeper_state
        state["unknown"] = unknown_json(cluster.unknown)
        if cluster.admin_worker_restarts:
            state["admin_worker_restarts"] = dict(cluster.admin_worker_restarts)
        if snap is not None:
            state.update(
                cluster_id=snap.cluster_id,
                brokers=sorted(snap.brokers),
                controller_id=snap.controller_id if cluster.unknown.controller is None else None,
                topics=len(snap.topics),
                partitions=snap.partition_count,
                snapshot_age_seconds=round(now - snap.taken_at, 3),
            )
        states.append(state)
    return states


# Names listed per kind of unknown part: enough to act on, bounded for big clusters.
UNKNOWN_LISTED = 50


def unknown_json(unknown: Unknowns) -> dict[str, object]:
    """What the watchdog could not see: per stage its blind spell, and per kind of part
    how many, since when (the oldest), and the first names with their own times."""

    def parts(found: Mapping[Any, float], name: Callable[[Any], str]) -> dict[str, object]:
        ordered = sorted(found.items(), key=lambda kv: (kv[1], name(kv[0])))
        return {
            "count": len(found),
            "since": ordered[0][1] if ordered else None,
            "first": {name(k): since for k, since in ordered[:UNKNOWN_LISTED]},
        }

    return {
        "stages": {
            stage: {
                "since": blind.since,
                "reason": blind.reason,
                "partial": blind.partial,
                "parts": blind.parts,
                "error": blind.detail,
            }
            for stage, blind in sorted(unknown.stages.items())
        },
        "groups": parts(unknown.groups, str),
        "group_listing_incomplete_since": unknown.group_listing,
        "partitions": parts(unknown.partitions, lambda tp: f"{tp[0]}-{tp[1]}"),
        "topics": parts(unknown.configs, str),
        "controller_since": unknown.controller,
    }


async def readyz(request: web.Request) -> web.Response:
    states = cluster_states(request.app[BOARD].states(), time.time())
    ready = all(s["ready"] for s in states)
    doc: dict[str, object] = {"ready": ready, "clusters": states}
    alerting = request.app.get(ALERTING)
    if alerting is not None and alerting.value.state_error is not None:
        # Pages would not survive a restart (or are not being queued): not ready.
        doc["ready"] = ready = False
        doc["alerting"] = {"state": alerting.value.state_error}
    return web.json_response(doc, status=200 if ready else 503)


async def api_clusters(request: web.Request) -> web.Response:
    return web.json_response(cluster_states(request.app[BOARD].states(), time.time()))


def _alerting(request: web.Request) -> AlertingStatus:
    status = request.app.get(ALERTING)
    if status is None:
        raise web.HTTPNotFound(text="alerting is disabled (alerting.enabled: false)\n")
    return status.value


def _silences(request: web.Request) -> Silences:
    _alerting(request)  # 404 when alerting is off
    return request.app[SILENCES]


async def api_alerts(request: web.Request) -> web.Response:
    return web.json_response([a.to_json() for a in _alerting(request).alerts])


async def api_silences(request: web.Request) -> web.Response:
    return web.json_response([s.to_json() for s in _alerting(request).silences])


async def api_add_silence(request: web.Request) -> web.Response:
    """{"matchers": {"label": "regex"}, "ends_at": ISO | "duration": "2h", "comment": "...",
    "created_by": "..."} -> the silence, with its id. Checked in alerting/silences.py; who
    may call it is the guard middleware's business (web/security.py)."""
    silences = _silences(request)
    try:
        doc = await request.json()
        wanted = parse_request(doc, time.time(), request.app[MAX_SILENCE_DURATION])
    except ValueError as exc:  # SilenceRejected, or a body that is not JSON
        raise web.HTTPBadRequest(text=f"bad silence: {str(exc)[:500]}\n") from None
    who = request.get(USER, "api")
    # An authenticated caller is who they proved to be; created_by cannot claim otherwise.
    author = who if request.get(AUTHENTICATED) else (wanted.created_by or "api")
    try:
        silence = await silences.add(
            wanted.matchers, wanted.ends_at, wanted.comment, author, who=who
        )
    except SilenceLimit as exc:
        raise web.HTTPConflict(text=f"{exc}\n") from None
    except Exception as exc:  # the store could not keep it: nothing was silenced
        raise web.HTTPServiceUnavailable(
            text=f"the silence could not be saved, so it was not added: {exc}\n"
        ) from None
    return web.json_response(silence.to_json(), status=201)


async def api_expire_silence(request: web.Request) -> web.Response:
    who = request.get(USER, "api")
    try:
        found = await _silences(request).expire(request.match_info["silence_id"], who=who)
    except Exception as exc:
        raise web.HTTPServiceUnavailable(
            text=f"the change could not be saved, so the silence is still active: {exc}\n"
        ) from None
    if not found:
        raise web.HTTPNotFound(text="no such silence\n")
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", status_page.page)
    app.router.add_get("/api/status", status_page.api_status)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/clusters", api_clusters)
    app.router.add_get("/api/alerts", api_alerts)
    app.router.add_get("/api/silences", api_silences)
    app.router.add_post("/api/silences", api_add_silence)
    app.router.add_delete("/api/silences/{silence_id}", api_expire_silence)
