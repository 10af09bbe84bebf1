"""Collection path on a real ZooKeeper-mode cluster: one Admin API cycle and the ZooKeeper
path's detection delay.

    .venv/bin/python bench/collection.py [--partitions 5000] [--groups 500]

Starts a local 3-broker cluster, creates topics with the requested partitions (RF 2) and
consumer groups with committed offsets on them, then:
- times each Admin API stage of a watcher (wall and CPU of this process), 5 rounds;
- reports the watcher's RSS;
- pauses a broker until its replicas leave the ISR and measures, for every ISR-shrink event
  seen through ZooKeeper, the delay from the state znode's mtime to the event (p50/p95).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Consumer, TopicPartition

from bench.stats import nearest_rank
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.schema import (
    ClusterConfig,
    CollectionConfig,
    LagConfig,
    MetricsConfig,
    ZooKeeperConfig,
)
from kafka_watchdog.model.events import EventKind
from kafka_watchdog.sinks.metrics import MetricsRenderer
from testcluster import ZkKafkaCluster
from tests.integration.daemon import Daemon
from tests.integration.watching import until

PER_TOPIC = 50


def commit_groups(bootstrap: str, topics: list[str], groups: int) -> None:
    for g in range(groups):
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-{g:04d}",
                "enable.auto.commit": False,
            }
        )
        topic = topics[g % len(topics)]
        consumer.commit(
            offsets=[TopicPartition(topic, p, 0) for p in range(PER_TOPIC)], asynchronous=False
        )
        consumer.close()


async def measure(cluster: ZkKafkaCluster, rounds: int, profile: bool = False) -> None:
    # The default schedule (10 s cycles), as users run it: the detection delay depends on
    # how busy the loop is, and a 1 s offsets cycle on 5,000 partitions keeps it busy.
    config = ClusterConfig(
        name="bench",
        bootstrap_servers=cluster.bootstrap_servers.split(","),
        zookeeper=ZooKeeperConfig(connect=cluster.zk_connect),
    )
    watcher = ClusterWatcher(config, CollectionConfig(), LagConfig())
    await watcher.start()
    try:
        await until(lambda: watcher.mirror is not None and watcher.mirror.synced, "mirror", 300)
        await until(lambda: watcher.store.latest is not None, "first view", 120)
        admin = watcher.admin
        parts = watcher._partitions()[1]
        stages = {
            "metadata (DescribeCluster + Metadata)": lambda: asyncio.gather(
                admin.describe_cluster(), admin.topics()
            ),
            "log offsets (ListOffsets earliest+latest)": lambda: admin.log_offsets(parts),
            "groups (list, describe, OffsetFetch each)": lambda: admin.groups(),
            "topic configs (DescribeConfigs)": lambda: admin.topic_configs(
                list(watcher.store.latest.topics)  # type: ignore[union-attr]
            ),
        }
        for name, step in stages.items():
            walls, cpus = [], []
            for i in range(rounds):
                profiler = cProfile.Profile() if profile and i == 0 else None
                wall, cpu = time.perf_counter(), time.process_time()
                if profiler is not None:
                    profiler.enable()
                await step()
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                if profiler is not None:
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(8)
            print(
                f"{name}: wall p50 {statistics.median(walls):.3f}s max {max(walls):.3f}s, "
                f"cpu p50 {statistics.median(cpus):.3f}s"
            )
        # The exposition of the real view: built once per snapshot, then served from cache.
        renderer = MetricsRenderer(watcher.board, MetricsConfig())
        wall = time.perf_counter()
        body = renderer.exposition()
        build = time.perf_counter() - wall
        wall = time.perf_counter()
        renderer.exposition()
        scrape = time.perf_counter() - wall
        series = body.count(b"\n") - body.count(b"\n#")
        print(
            f"/metrics of the real view: {series} lines, {len(body) / 2**20:.1f} MiB, "
            f"build {build * 1000:.0f} ms, cached scrape {scrape * 1000:.1f} ms"
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"partitions {len(parts)}, groups {len(watcher.store.latest.groups)}, "  # type: ignore[union-attr]
            f"peak RSS of this process (watcher + clients + exposition) {rss:.0f} MiB"
        )

        victim = cluster.broker_ids[-1]
        before = len(watcher.events)
        await asyncio.to_thread(cluster.broker(victim).pause)
        try:
            await until(
                lambda: (
                    sum(1 for e in list(watcher.events)[before:] if e.kind is EventKind.ISR_SHRINK)
                    >= 100
                ),
                "ISR shrinks",
                120,
            )
            await asyncio.sleep(3)
        finally:
            await asyncio.to_thread(cluster.broker(victim).resume)
        delays = sorted(
            e.delay
            for e in list(watcher.events)[before:]
            if e.kind is EventKind.ISR_SHRINK and e.delay is not None
        )
        p95 = nearest_rank(delays, 0.95)
        print(
            f"ZooKeeper detection delay (znode mtime -> event) over {len(delays)} ISR shrinks: "
            f"p50 {statistics.median(delays) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {delays[-1] * 1000:.0f} ms"
        )
    finally:
        await watcher.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=5000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile each stage once")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-collection-") as workdir,
        ZkKafkaCluster(Path(workdir)) as cluster,
    ):
        began = time.monotonic()
        topics = [f"bench-{t:04d}" for t in range(args.partitions // PER_TOPIC)]
        for topic in topics:
            cluster.create_topic(topic, partitions=PER_TOPIC, rf=2, timeout=300)
        commit_groups(cluster.bootstrap_servers, topics, args.groups)
        print(
            f"set up {len(topics) * PER_TOPIC} partitions and {args.groups} groups in "
            f"{time.monotonic() - began:.0f}s"
        )
        asyncio.run(measure(cluster, args.rounds, args.profile))
        daemon_figures(cluster, Path(workdir))


def daemon_figures(cluster: ZkKafkaCluster, workdir: Path) -> None:
    """The real daemon on this cluster: its RSS after a minute of 10 s cycles (the default
    schedule) with alerting on, and what a scrape over HTTP costs."""
    config = {
        "clusters": [
            {
                "name": "bench",
                "bootstrap_servers": cluster.bootstrap_servers,
                "zookeeper": {"connect": cluster.zk_connect},
            }
        ],
    }
    with Daemon(workdir, config) as daemon:
        daemon.wait(lambda: bool(daemon.clusters().get("bench", {}).get("ready")), "ready", 120)
        time.sleep(60)
        walls = []
        for _ in range(10):
            began = time.perf_counter()
            _, text = daemon.get("/metrics")
            walls.append(time.perf_counter() - began)
        rss = next(
            float(line.split()[1])
            for line in text.splitlines()
            if line.startswith("process_resident_memory_bytes ")
        )
        walls.sort()
        print(
            f"daemon (kafka-watchdog run, default schedule, alerting on): RSS "
            f"{rss / 2**20:.0f} MiB after 60 s; GET /metrics over HTTP p50 "
            f"{statistics.median(walls) * 1000:.0f} ms, max {walls[-1] * 1000:.0f} ms "
            f"({len(text) / 2**20:.1f} MiB)"
        )


if __name__ == "__main__":
    main()
