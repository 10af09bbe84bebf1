"""What the daemon needs from a pod: memory and CPU of `kafka-watchdog run` on a real cluster.

    .venv/bin/python bench/resources.py [--mode kraft|zk] [--partitions 1000] [--groups 100]
                                        [--seconds 180]

Starts a local cluster from the test harness, creates the partitions (topics of 50, RF 2) and
consumer groups with committed offsets, then runs the real daemon (default schedule: 10 s
metadata and offsets cycles, 60 s configs; alerting on with a state_dir) and samples, once a
second for --seconds after it is ready, the RSS and CPU time of its whole process tree (the
main process and its Admin API worker processes), as a container's cgroup would count them.
Prometheus' scrape is simulated by a GET /metrics every 30 s. Prints the figures that
docs/deploy.md#resources quotes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from bench.collection import PER_TOPIC, commit_groups
from testcluster import KafkaCluster, KraftCluster, ZkKafkaCluster
from tests.integration.daemon import Daemon


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def sample(pid: int) -> tuple[int, float]:
    """(RSS bytes, CPU seconds) of the process tree; processes gone meanwhile are skipped."""
    rss, cpu = 0, 0.0
    for proc in tree(pid):
        try:
            rss += proc.memory_info().rss
            times = proc.cpu_times()
            cpu += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return rss, cpu


def measure(cluster: KafkaCluster, mode: str, workdir: Path, seconds: int) -> None:
    entry: dict[str, object] = {"name": "bench", "bootstrap_servers": cluster.bootstrap_servers}
    if mode == "zk":
        assert isinstance(cluster, ZkKafkaCluster)
        entry["zookeeper"] = {"connect": cluster.zk_connect}
    config = {
        "clusters": [entry],
        "alerting": {"state_dir": str(workdir / "state")},
    }
    with Daemon(workdir, config) as daemon:
        assert daemon.proc is not None
        began = time.monotonic()
        daemon.wait(lambda: bool(daemon.clusters().get("bench", {}).get("ready")), "ready", 300)
        print(f"daemon ready after {time.monotonic() - began:.1f} s")
        rss_samples: list[int] = []
        _, cpu_start = sample(daemon.proc.pid)
        start = time.monotonic()
        next_scrape = start
        scrape_ms: list[float] = []
        while time.monotonic() - start < seconds:
            if time.monotonic() >= next_scrape:
                t = time.perf_counter()
                status, _ = daemon.get("/metrics")
                scrape_ms.append((time.perf_counter() - t) * 1000)
                assert status == 200
                next_scrape += 30
            rss, _ = sample(daemon.proc.pid)
            rss_samples.append(rss)
            time.sleep(1)
        _, cpu_end = sample(daemon.proc.pid)
        elapsed = time.monotonic() - start
        processes = len(tree(daemon.proc.pid))
    mib = [r / 2**20 for r in rss_samples]
    print(
        f"RSS of the daemon's {processes} processes over {elapsed:.0f} s: "
        f"median {statistics.median(mib):.0f} MiB, peak {max(mib):.0f} MiB"
    )
    print(
        f"CPU: {cpu_end - cpu_start:.1f} s over {elapsed:.0f} s = "
        f"{(cpu_end - cpu_start) / elapsed * 1000:.0f} millicores on average"
    )
    print(f"GET /metrics: p50 {statistics.median(scrape_ms):.0f} ms over {len(scrape_ms)} scrapes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mode", choices=["kraft", "zk"], default="kraft")
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=180)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-resources-") as tmp:
        workdir = Path(tmp)
        kind = KraftCluster if args.mode == "kraft" else ZkKafkaCluster
        with kind(workdir / "cluster") as cluster:
            began = time.monotonic()
            topics = [f"bench-{t:04d}" for t in range(max(1, args.partitions // PER_TOPIC))]
            for topic in topics:
                cluster.create_topic(topic, partitions=PER_TOPIC, rf=2, timeout=300)
            commit_groups(cluster.bootstrap_servers, topics, args.groups)
            print(
                f"{args.mode}: {len(topics) * PER_TOPIC} partitions, {args.groups} groups set up "
                f"in {time.monotonic() - began:.0f} s"
            )
            (workdir / "daemon").mkdir()
            measure(cluster, args.mode, workdir / "daemon", args.seconds)


if __name__ == "__main__":
    main()
