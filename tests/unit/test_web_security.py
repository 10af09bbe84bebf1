"""The HTTP API's guard and the silences API, served for real by aiohttp on a Unix socket
(unit tests have no network). Each case is an attack or a mistake from issue 10 that used to
succeed on main.

TLS, client certificates, SIGHUP and the connection cap are tested on a real daemon in
tests/integration/test_http_hardening.py."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from aiohttp import web

from kafka_watchdog.alerting.outbox import Outbox
from kafka_watchdog.alerting.silences import Silences
from kafka_watchdog.alerting.status import AlertingStatus
from kafka_watchdog.config.web import load_web_config
from kafka_watchdog.model.published import Published
from kafka_watchdog.model.state import ClusterBoard
from kafka_watchdog.web import routes
from kafka_watchdog.web.security import GUARD, WebGuard, guard

PASSWORD = "s3cret-pass"


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class Served:
    def __init__(self, session: aiohttp.ClientSession, app: web.Application) -> None:
        self.session = session
        self.app = app

    async def call(self, method: str, path: str, body: object = None, **headers: str) -> Answer:
        data = None
        if body is not None:
            data = body if isinstance(body, str | bytes) else json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method, f"http://local{path}", data=data, headers=headers
        ) as r:
            return Answer(r.status, dict(r.headers), await r.text())


async def serve(
    tmp: Path, web_config: str | None = None, allow_writes: bool = False, max_silences: int = 5
) -> AsyncIterator[Served]:
    path = None
    if web_config is not None:
        path = tmp / "web.yml"
        path.write_text(web_config)
    app = web.Application(middlewares=[guard])
    app[GUARD] = WebGuard(load_web_config(path), allow_unauthenticated_writes=allow_writes)
    app[routes.BOARD] = ClusterBoard()
    status = Published(AlertingStatus())
    outbox = Outbox(None)
    await outbox.open()
    silences = Silences([], outbox, lambda: None, max_silences=max_silences)

    def publish() -> None:
        status.publish(AlertingStatus(silences=silences.all()))

    silences._on_change = publish
    app[routes.ALERTING] = status
    app[routes.SILENCES] = silences
    app[routes.MAX_SILENCE_DURATION] = 90 * 86400.0
    routes.add_routes(app)

    async def later_page(request: web.Request) -> web.Response:
        return web.Response(text="a page another engineer added")

    app.router.add_get("/status", later_page)  # a route added without any auth code
    runner = web.AppRunner(app)
    await runner.setup()
    sock = os.path.join(tempfile.mkdtemp(dir=tmp), "web.sock")
    await web.UnixSite(runner, sock).start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=sock)) as s:
            yield Served(s, app)
    finally:
        await runner.cleanup()
        await outbox.close()


@pytest.fixture
async def open_api(tmp_path: Path) -> AsyncIterator[Served]:
    """No authentication, writes explicitly allowed."""
    async for served in serve(tmp_path, allow_writes=True):
        yield served


@pytest.fixture
async def authed(tmp_path: Path) -> AsyncIterator[Served]:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    async for served in serve(tmp_path, f"basic_auth_users:\n  alice: '{hashed}'\n"):
        yield served


def basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


SILENCE = {"matchers": {"topic": "orders"}, "duration": "1h", "comment": "maintenance"}


async def test_01_writes_without_auth_are_refused_by_default(tmp_path: Path) -> None:
    async for api in serve(tmp_path):
        answer = await api.call("POST", "/api/silences", SILENCE)
        assert answer.status == 403
        assert "allow_unauthenticated_writes" in answer.text and "web_config_file" in answer.text
        assert (await api.call("DELETE", "/api/silences/x")).status == 403
        assert (await api.call("GET", "/metrics")).status != 401  # reads stay open
        assert (await api.call("GET", "/api/silences")).status == 200


async def test_02_json_only(open_api: Served) -> None:
    # A cross-site HTML form can send text/plain and urlencoded bodies, never JSON.
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = await open_api.call(
            "POST", "/api/silences", json.dumps(SILENCE), **{"Content-Type": kind}
        )
        assert answer.status == 415, (kind, answer)


@pytest.mark.parametrize(
    ("n", "headers"),
    [
        (1, {"Origin": "https://evil.example"}),
        (2, {"Origin": "null"}),
        (3, {"Sec-Fetch-Site": "cross-site"}),
        (4, {"Sec-Fetch-Site": "same-site"}),
    ],
)
async def test_03_cross_site_writes_are_refused(
    open_api: Served, n: int, headers: dict[str, str]
) -> None:
    answer = await open_api.call("POST", "/api/silences", SILENCE, **headers)
    assert answer.status == 403 and "cross-site" in answer.text, answer
    assert (await open_api.call("GET", "/api/silences")).json() == []


async def test_04_same_origin_and_non_browser_writes_pass(open_api: Served) -> None:
    same = await open_api.call(
        "POST", "/api/silences", SILENCE, Origin="http://local", **{"Sec-Fetch-Site": "same-origin"}
    )
    assert same.status == 201, same
    plain = await open_api.call("POST", "/api/silences", SILENCE)
    assert plain.status == 201, plain


@pytest.mark.parametrize(
    ("n", "body", "why"),
    [
        (1, {"matchers": {"rule": ".*"}, "duration": "inf"}, "empty string"),
        (2, {"matchers": {"rule": "x"}, "duration": "inf"}, "finite"),
        (3, {"matchers": {"rule": "x"}, "duration": 1e308}, "longer than a year"),
        (4, {"matchers": {"": ""}, "duration": "10m"}, "label name"),
        (5, {"matchers": {}, "duration": "10m"}, "at least one"),
        (6, {"matchers": {"rule": "x"}, "duration": "200d"}, "at most 90 days"),
        (7, {"matchers": {"rule": "x"}, "ends_at": "2001-01-01T00:00:00Z"}, "already be over"),
        (8, {"matchers": {"rule": "x"}, "ends_at": "9999-12-31T23:59:59Z"}, "at most 90"),
        (9, {"matchers": {"rule": "x"}}, "exactly one of"),
        (10, {"matchers": {"rule": "x"}, "duration": "1h", "comment": "c" * 1001}, "comment"),
        (11, {"matchers": {"rule": "(?!x)"}, "duration": "1h"}, "lookaround"),
        (12, {"matchers": {"rule": "x"}, "duration": "1h", "id": "mine"}, "unknown field"),
        (13, "[1, 2]", "JSON object"),
        (14, "{not json", "bad silence"),
    ],
)
async def test_05_bad_silences_are_400_with_the_reason(
    open_api: Served, n: int, body: object, why: str
) -> None:
    answer = await open_api.call("POST", "/api/silences", body)
    assert answer.status == 400 and why in answer.text, answer
    listed = await open_api.call("GET", "/api/silences")
    assert listed.status == 200
    assert listed.json() == []  # and the listing stays valid JSON (no Infinity)


async def test_06_pathological_regex_does_not_freeze(open_api: Served) -> None:
    body = {"matchers": {"rule": "(.*.*.*)*x"}, "duration": "10m"}
    assert (await open_api.call("POST", "/api/silences", body)).status == 201
    # The event loop answers at once (RE2: linear time), and matching is linear too.
    assert (await asyncio.wait_for(open_api.call("GET", "/healthz"), 5)).status == 200


async def test_07_silence_count_is_capped(open_api: Served) -> None:
    for _ in range(5):
        assert (await open_api.call("POST", "/api/silences", SILENCE)).status == 201
    answer = await open_api.call("POST", "/api/silences", SILENCE)
    assert answer.status == 409 and "max_silences" in answer.text


async def test_08_basic_auth_guards_every_route_but_the_probes(authed: Served) -> None:
    for path in ("/metrics", "/api/clusters", "/api/silences", "/", "/status"):
        answer = await authed.call("GET", path)
        assert answer.status == 401, path
        assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert (await authed.call("GET", "/healthz")).status == 200
    probe = await authed.call("GET", "/readyz")
    assert probe.json() == {"ready": True}  # the status only, no cluster details
    wrong = await authed.call("GET", "/metrics", Authorization=basic("alice", "nope"))
    assert wrong.status == 401
    unknown = await authed.call("GET", "/metrics", Authorization=basic("mallory", PASSWORD))
    assert unknown.status == 401
    ok = await authed.call("GET", "/status", Authorization=basic("alice", PASSWORD))
    assert ok.status == 200 and "another engineer" in ok.text
    details = await authed.call("GET", "/readyz", Authorization=basic("alice", PASSWORD))
    assert "clusters" in details.json()


async def test_09_an_authenticated_change_is_logged_with_who_made_it(
    authed: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kafka_watchdog.alerting.silences")
    body = {**SILENCE, "created_by": "someone-else"}
    made = await authed.call("POST", "/api/silences", body, Authorization=basic("alice", PASSWORD))
    assert made.status == 201
    assert made.json()["created_by"] == "alice"  # proven identity, not the claimed one
    gone = await authed.call(
        "DELETE", f"/api/silences/{made.json()['id']}", Authorization=basic("alice", PASSWORD)
    )
    assert gone.status == 204
    lines = [(r.getMessage(), getattr(r, "user", None)) for r in caplog.records]
    sid = made.json()["id"]
    assert (f"silence {sid} added by alice", "alice") in lines, lines
    assert (f"silence {sid} expired by alice", "alice") in lines, lines


async def test_10_a_failed_save_adds_nothing(open_api: Served) -> None:
    silences = open_api.app[routes.SILENCES]
    await silences._outbox.close()  # the store is gone: every write fails
    answer = await open_api.call("POST", "/api/silences", SILENCE)
    assert answer.status == 503 and "not added" in answer.text
    assert silences.all() == ()


async def test_11_saved_silences_that_fail_the_checks_are_skipped(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    await outbox.open()
    now = time.time()
    good = {"id": "g", "matchers": {"rule": "x"}, "starts_at": now, "ends_at": now + 60}
    saved = [
        {"id": "e", "matchers": {"": ""}, "starts_at": now, "ends_at": now + 60},
        {"id": "r", "matchers": {"rule": "(?!x)"}, "starts_at": now, "ends_at": now + 60},
        {"id": "i", "matchers": {"rule": "x"}, "starts_at": now, "ends_at": "Infinity"},
        "garbage",
        good,
    ]
    await outbox.save({"silences": saved})
    silences = Silences([], outbox, lambda: None)
    await silences.load(now)
    assert [s.id for s in silences.all()] == ["g"]
    assert silences.skipped == 4
    await outbox.close()
