"""The exposition is prepared when the clusters publish, not when Prometheus scrapes:
`keep_ready` builds each new version (and its deflate, once gzip was asked for) so that a
scrape only writes it out, and what a scrape gets is the same either way."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import threading
import zlib

import pytest

from bench.synthetic import populated_watcher
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.sinks.metrics import MetricsRenderer
from kafka_watchdog.sinks.metrics.families import Families


def single_member(data: bytes) -> bytes:
    """A strict decoder: one gzip member, nothing after it."""
    decoder = zlib.decompressobj(31)
    text = decoder.decompress(data) + decoder.flush()
    assert decoder.eof and not decoder.unused_data
    return text


async def test_keep_ready_prepares_each_new_version_and_its_deflate() -> None:
    watcher = populated_watcher(200, 10)
    renderer = MetricsRenderer(watcher.board, MetricsConfig(), process_registry=None)
    # A first gzipped scrape: built on demand (nothing prepared yet); gzip is now wanted.
    first = b"".join(await renderer.scrape(gzipped=True))
    assert b"kafka_watchdog_partition_leader" in single_member(first)

    task = asyncio.create_task(renderer.keep_ready())
    try:
        # A new version is published: keep_ready builds it and deflates it unasked.
        state = watcher.state
        watcher.board.publish(dataclasses.replace(state, version=state.version + 1))
        key = (False, (state.name,))

        async def prepared() -> None:
            while True:
                body = renderer._bodies.get(key)
                if body is not None and body.versions == (state.version + 1,) and body.deflated:
                    return
                await asyncio.sleep(0.01)

        await asyncio.wait_for(prepared(), 30)
        scraped = b"".join(await renderer.scrape(gzipped=True))
        plain = b"".join(await renderer.scrape())
        assert single_member(scraped) == gzip.decompress(scraped)
        # Same bulk, gzipped or not (the tail, the watchdog's own series, is made per scrape).
        bulk = plain.split(b"# HELP kafka_watchdog_build_info")[0]
        assert single_member(scraped).startswith(bulk)
    finally:
        task.cancel()


def _blocking_builds(
    renderer: MetricsRenderer, monkeypatch: pytest.MonkeyPatch
) -> tuple[threading.Event, threading.Event]:
    """Builds from now on wait, in their thread, until `release` is set; `started` is set
    when one begins."""
    started, release = threading.Event(), threading.Event()
    build = renderer.cluster_families

    def waiting(state: ClusterState) -> list[Families]:
        started.set()
        assert release.wait(30), "the build was never released"
        return build(state)

    monkeypatch.setattr(renderer, "cluster_families", waiting)
    return started, release


async def scraped_once() -> tuple[ClusterWatcher, MetricsRenderer]:
    """A synthetic cluster's renderer that has served one scrape (its bulk is cached)."""
    watcher = populated_watcher(200, 10)
    renderer = MetricsRenderer(watcher.board, MetricsConfig(), process_registry=None)
    await renderer.scrape()
    return watcher, renderer


async def test_the_loop_runs_while_the_bulk_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    # The build waits for the event loop to release it: built on the loop, it never would.
    watcher = populated_watcher(200, 10)
    renderer = MetricsRenderer(watcher.board, MetricsConfig(), process_registry=None)
    started, release = _blocking_builds(renderer, monkeypatch)
    scrape = asyncio.create_task(renderer.scrape())
    try:
        assert await asyncio.to_thread(started.wait, 30)
    finally:
        release.set()
    assert b"kafka_watchdog_partition_leader" in b"".join(await scrape)


async def test_a_scrape_during_a_new_versions_build_gets_the_version_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watcher, renderer = await scraped_once()
    state = watcher.state
    key = (False, (state.name,))
    old = renderer._bodies[key]
    told: list[tuple[ClusterState, ...]] = []
    own = renderer.own_families
    monkeypatch.setattr(
        renderer, "own_families", lambda s, now: told.append(tuple(s)) or own(s, now)
    )
    started, release = _blocking_builds(renderer, monkeypatch)
    newer = dataclasses.replace(state, version=state.version + 1)
    watcher.board.publish(newer)
    preparing = asyncio.create_task(renderer.prepare())  # as keep_ready does
    try:
        assert await asyncio.to_thread(started.wait, 30)
        # Answered at once, without the build: the whole bulk of the version before, and
        # its own series from the same states.
        during = await renderer.scrape()
        assert during[:-1] == old.chunks and told[-1] == (state,)
    finally:
        release.set()
        await preparing
    assert renderer._bodies[key].versions == (newer.version,)
    after = await renderer.scrape()
    assert after[:-1] == renderer._bodies[key].chunks and told[-1] == (newer,)


async def test_without_keep_ready_a_scrape_waits_for_the_new_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watcher, renderer = await scraped_once()
    state = watcher.state
    watcher.board.publish(dataclasses.replace(state, version=state.version + 1))
    await renderer.scrape()
    assert renderer._bodies[(False, (state.name,))].versions == (state.version + 1,)


async def test_builds_of_one_format_end_in_the_order_they_began(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watcher, renderer = await scraped_once()
    state = watcher.state
    started, release = _blocking_builds(renderer, monkeypatch)
    watcher.board.publish(dataclasses.replace(state, version=state.version + 1))
    first = asyncio.create_task(renderer.prepare())
    second = None
    try:
        assert await asyncio.to_thread(started.wait, 30)
        watcher.board.publish(dataclasses.replace(state, version=state.version + 2))
        second = asyncio.create_task(renderer.prepare())
        await asyncio.sleep(0)  # the second build is queued behind the first
    finally:
        release.set()
        await asyncio.gather(first, *([second] if second else []))
    assert renderer._bodies[(False, (state.name,))].versions == (state.version + 2,)
