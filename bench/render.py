"""/metrics render cost on a synthetic cluster: p50/p95 time, bytes, RSS.

.venv/bin/python bench/render.py [--partitions 10000] [--groups 1000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from bench.synthetic import populated_watcher
from watchdog.config.schema import MetricsConfig
from watchdog.sinks.metrics import WatchdogCollector


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--topic-level", action="store_true", help="partition_level: false")
    args = parser.parse_args()
    watcher = populated_watcher(args.partitions, args.groups)
    config = MetricsConfig(partition_level=not args.topic_level)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WatchdogCollector([watcher], config))
    times = []
    body = b""
    for _ in range(args.rounds):
        gc.collect()
        began = time.perf_counter()
        body = generate_latest(registry)
        times.append(time.perf_counter() - began)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    print(
        f"partitions={args.partitions} groups={args.groups} "
        f"partition_level={config.partition_level} samples={samples} "
        f"bytes={len(body)} render_p50_ms={statistics.median(times) * 1000:.1f} "
        f"render_p95_ms={p95 * 1000:.1f} peak_rss_mib={rss:.0f}"
    )


if __name__ == "__main__":
    main()
