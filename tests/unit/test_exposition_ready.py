"""The exposition is prepared when the clusters publish, not when Prometheus scrapes:
`keep_ready` builds each new version (and its deflate, once gzip was asked for) so that a
scrape only writes it out, and what a scrape gets is the same either way."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import zlib

from bench.synthetic import populated_watcher
from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.sinks.metrics import MetricsRenderer


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
