"""/metrics cost on a synthetic cluster: build per snapshot, scrape, bytes, RSS; and the
assessment every reader shares (partition health and hazards, computed once per snapshot).

.venv/bin/python bench/render.py [--partitions 10000] [--groups 1000] [--rounds 30]
    [--topic-level] [--compat]

Two costs, both p50/p95 over --rounds:
- build: what a new snapshot costs once (every family formatted, the body encoded);
- scrape: what each /metrics answer costs while the snapshot is unchanged (the watchdog's
  own series, plus the cached body), in the text format, OpenMetrics, and gzipped;
and what compressing the cached body costs once per snapshot (the first gzipped scrape).
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import nearest_rank
from bench.synthetic import populated_watcher
from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.detection.assess import assess
from kafka_watchdog.sinks.metrics import MetricsRenderer


def timed(rounds: int, step: Callable[[], bytes]) -> tuple[float, float, bytes]:
    times = []
    body = b""
    for _ in range(rounds):
        gc.collect()
        began = time.perf_counter()
        body = step()
        times.append(time.perf_counter() - began)
    times.sort()
    p95 = nearest_rank(times, 0.95)
    return statistics.median(times) * 1000, p95 * 1000, body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--topic-level", action="store_true", help="partition_level: false")
    parser.add_argument("--compat", action="store_true", help="kafka_exporter_compat: true")
    args = parser.parse_args()
    built = time.perf_counter()
    watcher = populated_watcher(args.partitions, args.groups)
    setup_s = time.perf_counter() - built
    rss_view = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    config = MetricsConfig(partition_level=not args.topic_level, kafka_exporter_compat=args.compat)
    renderer = MetricsRenderer(watcher.board, config)

    def build() -> bytes:
        renderer._per_cluster.clear()  # as after a new snapshot
        renderer._bodies.clear()
        renderer._compat = None
        return renderer.exposition()

    b50, b95, body = timed(args.rounds, build)
    s50, s95, _ = timed(args.rounds, renderer.exposition)
    o50, o95, _ = timed(args.rounds, lambda: renderer.exposition(openmetrics=True))

    def compress_once() -> bytes:
        for cached in renderer._bodies.values():
            cached.deflated = None  # as after a new snapshot
        return renderer.exposition(gzipped=True)

    c50, c95, _ = timed(args.rounds, compress_once)
    g50, g95, zipped = timed(args.rounds, lambda: renderer.exposition(gzipped=True))
    snapshot = watcher.state.snapshot
    assert snapshot is not None

    def assess_once() -> bytes:
        assess(snapshot, 2)
        return b""

    a50, a95, _ = timed(args.rounds, assess_once)
    decoder = zlib.decompressobj(wbits=31)  # strict: one gzip member, nothing after it
    assert decoder.decompress(zipped).count(b"\n") == body.count(b"\n")
    assert decoder.eof and not decoder.unused_data
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    print(
        f"partitions={args.partitions} groups={args.groups} "
        f"partition_level={config.partition_level} compat={config.kafka_exporter_compat} "
        f"samples={samples} bytes={len(body)} gzip_bytes={len(zipped)}\n"
        f"assess_per_snapshot_ms p50={a50:.1f} p95={a95:.1f}\n"
        f"build_per_snapshot_ms p50={b50:.1f} p95={b95:.1f}\n"
        f"scrape_text_ms p50={s50:.2f} p95={s95:.2f}\n"
        f"scrape_openmetrics_ms p50={o50:.2f} p95={o95:.2f}\n"
        f"scrape_gzip_ms p50={g50:.2f} p95={g95:.2f}\n"
        f"gzip_per_snapshot_ms p50={c50:.1f} p95={c95:.1f}\n"
        f"synthetic_view_setup_s={setup_s:.1f} rss_after_view_mib={rss_view:.0f} "
        f"peak_rss_mib={rss:.0f}"
    )


if __name__ == "__main__":
    main()
