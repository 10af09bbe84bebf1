"""What lag foresight and the status page cost on a synthetic cluster.

.venv/bin/python bench/status.py [--partitions 10000] [--groups 1000] [--rounds 20]

CPU time of this process (not wall time: the machine it runs on is shared), p50/p95 of:
- foresight: one offsets cycle's extra work in the collection loop (time to catch up and
  retention risk of every group-partition, plus the lag history);
- view: building the status view from the published state (every group ranked), p50/p95;
- page: rendering the HTML of that view (50 groups shown), p50/p95, and its size;
- memory: what the published foresight and lag history hold (tracemalloc, one cycle's
  allocations kept alive).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import nearest_rank
from bench.synthetic import populated_watcher
from kafka_watchdog.detection.foresight import ForesightTracker
from kafka_watchdog.detection.lag_history import LagHistory
from kafka_watchdog.web import status_page, status_view


def timed(rounds: int, step: Callable[[], object]) -> tuple[float, float]:
    """p50 and p95 of the CPU time this process spent (time.process_time): on a shared,
    busy machine the wall clock mostly measures the other processes."""
    times = []
    for _ in range(rounds):
        gc.collect()
        began = time.process_time()
        step()
        times.append(time.process_time() - began)
    times.sort()
    return statistics.median(times), nearest_rank(times, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    watcher = populated_watcher(args.partitions, args.groups)
    state = watcher.state
    lag = state.lag
    offsets = watcher.view.offsets.value if watcher.view.offsets is not None else {}
    configs = watcher.view.configs.value if watcher.view.configs is not None else {}
    now = time.time()
    pairs = sum(len(g.partitions) for g in lag.values())
    print(
        f"{args.partitions} partitions, {args.groups} groups, {pairs} group-partitions "
        f"({args.rounds} rounds)"
    )

    def cycle() -> None:
        watcher.foresight.observe(lag, watcher.lag.samples, offsets, configs, watcher._sizes, now)
        watcher.lag_history.record(lag, now)

    p50, p95 = timed(args.rounds, cycle)
    print(
        "foresight + lag history per offsets cycle: "
        f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"
    )
    p50, p95 = timed(args.rounds, lambda: status_view.build([state], None, now))
    print(f"status view (every group ranked): p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")
    view = status_view.build([state], None, now)
    p50, p95 = timed(args.rounds, lambda: status_page.render(view, 15))
    size = len(status_page.render(view, 15).encode())
    print(
        f"page render (50 groups shown): p50 {p50 * 1000:.1f} ms, "
        f"p95 {p95 * 1000:.1f} ms, {size / 1024:.0f} KiB"
    )

    tracemalloc.start()
    tracker, history = ForesightTracker(300.0, 60.0), LagHistory()
    before = tracemalloc.take_snapshot()
    kept = (
        tracker.observe(lag, watcher.lag.samples, offsets, configs, watcher._sizes, now),
        history.record(lag, now),
    )
    after = tracemalloc.take_snapshot()
    held = sum(s.size_diff for s in after.compare_to(before, "filename"))
    tracemalloc.stop()
    print(f"published foresight + lag history: {held / 2**20:.1f} MiB ({len(kept[0])} groups)")


if __name__ == "__main__":
    main()
