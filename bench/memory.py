"""Where the daemon's memory goes, per structure, on a synthetic cluster of any size.

    .venv/bin/python bench/memory.py [--partitions 10000] [--groups 1000] [--cycles 30]

No Kafka: a populated watcher (bench/synthetic.py: topics of 20 partitions, every group
committed on one topic, partition-level metrics on) is fed --cycles offsets cycles with
moving log ends and commits, as a day of 10 s cycles would (the lag histories fill up to
their caps), then the /metrics exposition is built and gzipped once, as a scrape does.
Reported: the size of each structure the daemon keeps, counted by walking its objects (each
object once, in the order listed, so what two structures share is counted with the first),
and tracemalloc's total of everything allocated and still held. The import cost of the
daemon's modules is reported apart (resident memory of a fresh interpreter before and after
importing them).
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIB = 2**20


def deep_size(root: object, seen: set[int]) -> int:
    """Bytes of `root` and everything it references that `seen` does not hold yet
    (modules, classes and functions are not followed: they are code, not data)."""
    size = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | ModuleType) or callable(obj):
            continue
        seen.add(id(obj))
        size += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return size


def import_cost() -> str:
    code = (
        "def rss():\n"
        "    return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20\n"
        "before = rss()\n"
        "import kafka_watchdog.cli, kafka_watchdog.app.lifecycle, kafka_watchdog.app.watcher\n"
        "import kafka_watchdog.sinks.metrics\n"
        "after = rss()\n"
        "import kafka\n"  # the quorum client, imported once the daemon runs
        "print(f'{before:.0f} {after:.0f} {rss():.0f}')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    bare, loaded, with_quorum = (float(x) for x in out.split())
    return (
        f"interpreter {bare:.0f} MiB; after importing the daemon {loaded:.0f} MiB; "
        f"with the quorum client (kafka-python) {with_quorum:.0f} MiB\n{import_heap()}"
    )


def import_heap() -> str:
    """What the imports leave on the Python heap, by the package whose code allocated it
    (tracemalloc, in a fresh interpreter): code objects count as the import machinery's.
    The rest of the imports' RSS is shared libraries (libssl, pydantic-core, ...)."""
    code = (
        "import tracemalloc\n"
        "tracemalloc.start()\n"
        "import kafka_watchdog.cli, kafka_watchdog.app.lifecycle, kafka_watchdog.app.watcher\n"
        "import kafka_watchdog.sinks.metrics\n"
        "for stat in tracemalloc.take_snapshot().statistics('filename'):\n"
        "    print(stat.size, stat.traceback[0].filename)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    by: dict[str, int] = {}
    for line in out.splitlines():
        size, filename = line.split(" ", 1)
        if filename.startswith("<frozen importlib"):
            owner = "the import machinery (code objects, module dicts)"
        elif "site-packages/" in filename:
            owner = filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
        elif "/kafka_watchdog/" in filename or "/watchdog/" in filename:
            owner = "kafka_watchdog"
        else:
            owner = "the standard library"
        by[owner] = by.get(owner, 0) + int(size)
    total = sum(by.values())
    top = sorted(by.items(), key=lambda kv: -kv[1])[:6]
    shown = ", ".join(f"{owner} {size / MIB:.1f}" for owner, size in top)
    return f"  imports' Python heap {total / MIB:.1f} MiB: {shown} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--per-topic", type=int, default=50, help="partitions per topic and group")
    args = parser.parse_args()
    print(import_cost())

    tracemalloc.start()
    from bench.synthetic import populated_watcher
    from kafka_watchdog.config.schema import MetricsConfig
    from kafka_watchdog.model.parts import Timed
    from kafka_watchdog.model.snapshot import GroupState, frozen_map
    from kafka_watchdog.sinks.metrics import MetricsRenderer

    imported = tracemalloc.get_traced_memory()[0]
    watcher = populated_watcher(args.partitions, args.groups, per_topic=args.per_topic)
    view = watcher.view
    assert view.offsets is not None and view.groups is not None
    offsets, groups = dict(view.offsets.value), dict(view.groups.value)
    now = time.time()
    for cycle in range(args.cycles):
        # Traffic on a third of the partitions, commits following on a third of the groups.
        offsets = {
            tp: (start, end + 100 if hash(tp) % 3 == cycle % 3 else end)
            for tp, (start, end) in offsets.items()
        }
        groups = {
            g: GroupState(
                g,
                s.state,
                s.members,
                s.group_type,
                frozen_map({tp: c + 50 for tp, c in s.offsets.items()})
                if hash(g) % 3 == cycle % 3
                else s.offsets,
                s.assigned,
            )
            for g, s in groups.items()
        }
        at = now + 10 * (cycle + 1)
        # The daemon's own evaluation (lag tracker, foresight, lag history), as its
        # evaluator thread runs it each offsets cycle, and published the same way.
        watcher.adopt(watcher.evaluate_lag(frozen_map(groups), frozen_map(offsets), at, {}, {}))
        watcher._update(
            offsets=Timed(frozen_map(offsets), at), groups=Timed(frozen_map(groups), at)
        )
    renderer = MetricsRenderer(watcher.board, MetricsConfig(), process_registry=None)
    body = renderer.exposition()
    renderer.exposition(gzipped=True)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - imported

    state = watcher.state
    seen: set[int] = set()
    parts: list[tuple[str, Any]] = [
        ("snapshot (latest; partitions, groups and their offsets)", state.snapshot),
        ("previous snapshot (for the diff; what differs from the latest)", watcher.store.history()),
        ("assessment (partition health, hazards)", state.assessment),
        ("assembly memo (model/incremental.py)", watcher._memo),
        ("Admin API parts (the view the snapshot is assembled from)", watcher.view),
        ("lag tracker (log end histories, commit samples, latest lag)", watcher.lag),
        ("lag foresight (time to catch up, retention risk)", watcher.foresight),
        ("lag history (each group's lag over the last hour)", watcher.lag_history),
        ("events kept (last 1,000) and counts", (watcher.events, watcher.event_counts)),
        ("metrics cache (rendered families, bodies, gzip)", renderer.__dict__),
    ]
    print(
        f"{args.partitions} partitions, {args.groups} groups, {args.cycles} offsets cycles; "
        f"exposition {len(body) / MIB:.1f} MiB of text"
    )
    counted = 0
    for name, value in parts:
        size = deep_size(value, seen)
        counted += size
        print(f"  {name}: {size / MIB:.1f} MiB")
    print(
        f"  counted {counted / MIB:.1f} MiB; tracemalloc: {held / MIB:.1f} MiB allocated and "
        f"still held since the imports (peak {tracemalloc.get_traced_memory()[1] / MIB:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
