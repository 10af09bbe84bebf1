"""What one ZooKeeper watch burst costs the watchdog: assembly, assessment and diff of a new
snapshot after a few partitions changed, with and without the incremental path.

    .venv/bin/python bench/incremental.py [--partitions 10000] [--changed 20] [--rounds 50]

No Kafka: a synthetic ZooKeeper view (topics of 50 partitions, 6 brokers) whose `--changed`
partitions, spread over as many topics, get a new ISR each round, as the controller's writes
during a broker failure arrive a few per 50 ms debounce window. "full" is the path before
model/incremental.py (every partition built, assessed and diffed again); "incremental" is
the watcher's path now (TopicMemo, assessment and diff skip what is the same object). Also
a burst that changes every partition (a broker's death seen at once), where both must do
O(partitions) work.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import nearest_rank
from kafka_watchdog.detection.assess import assess
from kafka_watchdog.detection.diff import Differ
from kafka_watchdog.model.assemble import assemble
from kafka_watchdog.model.assessment import Assessment
from kafka_watchdog.model.incremental import TopicMemo
from kafka_watchdog.model.parts import AdminView, Timed, ZkTopic, ZkView
from kafka_watchdog.model.snapshot import (
    Broker,
    ClusterSnapshot,
    PartitionState,
    TopicConfig,
    frozen_map,
)

PER_TOPIC = 50
BROKERS = frozen_map({i: Broker(i, f"b{i}", 9092) for i in range(1, 7)})


def initial(partitions: int) -> dict[str, ZkTopic]:
    topics = {}
    for t in range(partitions // PER_TOPIC):
        name = f"topic-{t:05d}"
        parts = []
        for p in range(PER_TOPIC):
            replicas = tuple(1 + (t + p + k) % 6 for k in range(3))
            parts.append(
                PartitionState(name, p, replicas[0], replicas, replicas, 1, source_time=1.0)
            )
        topics[name] = ZkTopic(name, f"id-{t}", tuple(parts))
    return topics


def burst(topics: dict[str, ZkTopic], changed: int, rng: random.Random) -> None:
    """`changed` partitions chosen at random over every topic lose their last ISR member
    (or get it back), as the mirror patches them in."""
    every = [(name, i) for name, z in topics.items() for i in range(len(z.partitions))]
    chosen: dict[str, list[int]] = {}
    for name, i in rng.sample(every, min(changed, len(every))):
        chosen.setdefault(name, []).append(i)
    now = time.time()
    for name, indexes in chosen.items():
        old = topics[name]
        parts = list(old.partitions)
        for i in indexes:
            p = parts[i]
            isr = p.replicas if len(p.isr) < len(p.replicas) else p.replicas[:2]
            parts[i] = dataclasses.replace(p, isr=isr, source_time=now)
        topics[name] = dataclasses.replace(old, partitions=tuple(parts))


class Pipeline:
    """The watcher's _rebuild, minus publishing: assemble, assess, diff."""

    def __init__(self, incremental: bool, admin: AdminView) -> None:
        self.memo = TopicMemo() if incremental else None
        self.admin = admin
        self.differ = Differ()
        self.last: tuple[ClusterSnapshot, Assessment] | None = None

    def rebuild(self, zk: ZkView, now: float) -> int:
        snap = assemble("bench", self.admin, zk, now, self.memo)
        assert snap is not None
        previous = self.last
        assessment = assess(snap, 2, previous if self.memo is not None else None)
        events = self.differ(previous[0] if previous else None, snap)
        self.last = (snap, assessment)
        return len(events)


def view(topics: dict[str, ZkTopic]) -> ZkView:
    return ZkView(time.time(), "cid", BROKERS, 1, 1, 1.0, frozen_map(topics))


def run(partitions: int, changed: int, rounds: int, incremental: bool) -> list[float]:
    rng = random.Random(7)
    topics = initial(partitions)
    offsets = frozen_map(
        {(t, p.partition): (0, 1000) for t, z in topics.items() for p in z.partitions}
    )
    configs = frozen_map({t: TopicConfig(2, False) for t in topics})
    admin = AdminView(offsets=Timed(offsets, 1.0), configs=Timed(configs, 1.0))
    pipeline = Pipeline(incremental, admin)
    pipeline.rebuild(view(topics), 0.0)
    pipeline.rebuild(view(topics), 0.5)
    walls = []
    for r in range(rounds):
        burst(topics, changed, rng)
        zk = view(topics)
        began = time.perf_counter()
        events = pipeline.rebuild(zk, float(r + 1))
        walls.append(time.perf_counter() - began)
        assert events >= changed, events
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    for changed in (args.changed, args.partitions):
        for incremental in (False, True):
            # Interleaved would be fairer on a busy box; each run is short, so run each
            # path twice and keep the faster median.
            medians = []
            p95s = []
            for _ in range(2):
                walls = sorted(run(args.partitions, changed, args.rounds, incremental))
                medians.append(statistics.median(walls))
                p95s.append(nearest_rank(walls, 0.95))
            label = "incremental" if incremental else "full"
            what = "every partition" if changed == args.partitions else f"{changed} partitions"
            print(
                f"{args.partitions} partitions, burst of {what}, {label}: "
                f"p50 {min(medians) * 1000:.2f} ms, p95 {min(p95s) * 1000:.2f} ms per rebuild"
            )


if __name__ == "__main__":
    main()
