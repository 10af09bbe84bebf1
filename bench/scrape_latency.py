"""How long a /metrics scrape waits while the daemon works: HTTP latency of GET /metrics
during offsets cycles, on a synthetic cluster.

    .venv/bin/python bench/scrape_latency.py [--partitions 10000] [--groups 1000]
        [--seconds 60] [--interval 5] [--scrape-every 0.25] [--gzip]

bench/synthetic.py's cluster (groups committed on 50 partitions each) is served by the real
/metrics handler (aiohttp, on loopback) with the exposition kept ready as in the daemon
(`keep_ready`), while the watcher runs its real offsets cycle every --interval seconds
against answers made from the synthetic view, every log end and commit moved on each cycle
(so every cycle brings a new version: new lag, foresight, history, exposition). Nothing
here talks to Kafka: what is measured is the daemon's own process, where an offsets cycle's
evaluation and the exposition's build compete with the scrape for the event loop. A thread
of this process GETs /metrics every --scrape-every seconds and prints p50/p95/max of the
answers' wall time, and the offsets cycles' wall time. With --gzip it asks for gzip, as
Prometheus does by default (the body is then 0.8 MB instead of 22 MB at 10,000 partitions).
The scraping thread shares the interpreter with the daemon's threads: it is slower than
Prometheus would be (bench/resources.py scrapes from another process).

Run it from another version's tree (with PYTHONPATH naming its `kafka_watchdog`) to compare
(docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from bench.stats import nearest_rank
from bench.synthetic import populated_watcher
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.model.snapshot import GroupState, frozen_map
from kafka_watchdog.sinks.metrics import MetricsRenderer
from kafka_watchdog.web import routes


class MovingAnswers:
    """The offsets cycle's two Admin API calls, answered from the synthetic view with every
    log end and every commit 100 further on at each cycle."""

    def __init__(self, watcher: ClusterWatcher) -> None:
        assert watcher.view.groups is not None and watcher.view.offsets is not None
        self.groups_then = dict(watcher.view.groups.value)
        self.offsets_then = dict(watcher.view.offsets.value)
        self.deaths: dict[str, int] = {}
        self.cycle = 0

    def start(self) -> None:
        pass

    async def groups(self, known: Sequence[str] = ()) -> dict[str, GroupState]:
        self.cycle += 1
        step = 100 * self.cycle
        return {
            g: GroupState(
                s.group_id,
                s.state,
                s.members,
                s.group_type,
                frozen_map({tp: o + step for tp, o in s.offsets.items()}),
                s.assigned,
            )
            for g, s in self.groups_then.items()
        }

    async def log_offsets(
        self, partitions: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[int | None, int | None]]:
        step = 100 * self.cycle
        out: dict[tuple[str, int], tuple[int | None, int | None]] = {}
        for tp in partitions:
            start, end = self.offsets_then.get(tp, (None, None))
            out[tp] = (start, end + step if end is not None else None)
        return out


async def measure(args: argparse.Namespace) -> None:
    watcher = populated_watcher(args.partitions, args.groups, per_topic=50)
    answers = MovingAnswers(watcher)
    watcher.admin = answers  # type: ignore[assignment]
    watcher._first_view.set()
    renderer = MetricsRenderer(watcher.board, MetricsConfig(), process_registry=None)
    app = web.Application()
    app[routes.BOARD] = watcher.board
    app[routes.RENDERER] = renderer
    app.router.add_get("/metrics", routes.metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/metrics"

    cycles: list[float] = []

    async def offsets_loop() -> None:
        while True:
            began = time.perf_counter()
            await watcher._collect_offsets()
            cycles.append(time.perf_counter() - began)
            await asyncio.sleep(max(0.0, args.interval - (time.perf_counter() - began)))

    scrapes: list[float] = []
    done = threading.Event()

    request = urllib.request.Request(
        url, headers={"Accept-Encoding": "gzip" if args.gzip else "identity"}
    )

    def scraper() -> None:
        with urllib.request.urlopen(request, timeout=120) as answer:  # the first build
            answer.read()
        began = time.monotonic()
        while time.monotonic() - began < args.seconds:
            t = time.perf_counter()
            with urllib.request.urlopen(request, timeout=120) as answer:
                answer.read()
            scrapes.append((time.perf_counter() - t) * 1000)
            time.sleep(args.scrape_every)
        done.set()

    tasks = [asyncio.create_task(offsets_loop()), asyncio.create_task(renderer.keep_ready())]
    thread = threading.Thread(target=scraper, daemon=True)
    thread.start()
    try:
        await asyncio.to_thread(done.wait)
    finally:
        for task in tasks:
            task.cancel()
        await runner.cleanup()
    ordered = sorted(scrapes)
    pairs = sum(len(g.offsets) for g in answers.groups_then.values())
    print(
        f"{args.partitions} partitions, {args.groups} groups ({pairs} group-partitions), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"  GET /metrics{' (gzip)' if args.gzip else ''} during offsets cycles: "
        f"p50 {statistics.median(ordered):.0f} ms, "
        f"p95 {nearest_rank(ordered, 0.95):.0f} ms, max {ordered[-1]:.0f} ms "
        f"over {len(ordered)} scrapes"
    )
    print(
        f"  offsets cycle (synthetic answers: the daemon's own work), wall: p50 "
        f"{statistics.median(cycles):.2f} s, max {max(cycles):.2f} s over {len(cycles)} cycles"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--scrape-every", type=float, default=0.25)
    parser.add_argument("--gzip", action="store_true", help="Accept-Encoding: gzip")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
