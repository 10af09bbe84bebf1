"""The daemon beside Debian's Burrow on one cluster: do they agree on lag, and what does each
cost?

    .venv/bin/python bench/burrow.py [--partitions 2000] [--groups 200] [--seconds 180]

Needs Burrow (`make burrow`: Debian's package, 1.2.1). Starts a local ZooKeeper-mode
cluster (Burrow keeps its own state in ZooKeeper and speaks Kafka protocol versions that
Kafka 4 no longer serves), creates the partitions (topics of 50, RF 2) with a few records
each, and consumer groups that commit a different offset on each partition of one topic.
Then runs `kafka-watchdog run` (default schedule, alerting on) and Burrow (its defaults: a
topic refresh every 120 s, offsets every 30 s) side by side for --seconds, sampling once a
second the RSS and CPU time of each (the daemon's whole process tree). At the end every
group-partition's lag is read from both (Burrow's /v3 lag endpoint, the daemon's
kafka_watchdog_consumergroup_lag) and compared: the records and commits do not move, so
both must report the same number everywhere.

Freshness differs: the daemon re-reads offsets every 10 s, Burrow its log ends every 30 s
and commits as they arrive on __consumer_offsets. CPU per minute is printed for both as
they run; scale by the refresh rates to compare at equal freshness.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from bench.topics import create_topics
from testcluster import ZkKafkaCluster
from tests.integration.daemon import Daemon, free_port

PER_TOPIC = 50
RECORDS = 20  # per partition
BURROW = shutil.which("Burrow") or "/usr/bin/Burrow"


def fill(bootstrap: str, topics: list[str]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    for topic in topics:
        for p in range(PER_TOPIC):
            for i in range(RECORDS):
                producer.produce(topic, b"x" * 100, partition=p)
                if i % 10 == 0:
                    producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("records not delivered")


def committed(group: int, partition: int) -> int:
    """A different lag on each group-partition, somewhere in 0..RECORDS."""
    return (group * 7 + partition * 3) % (RECORDS + 1)


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
            offsets=[TopicPartition(topic, p, committed(g, p)) for p in range(PER_TOPIC)],
            asynchronous=False,
        )
        consumer.close()


def burrow_config(directory: Path, cluster: ZkKafkaCluster, port: int) -> None:
    servers = ", ".join(f'"{s}"' for s in cluster.bootstrap_servers.split(","))
    # Burrow keeps its own state under root-path: the ensemble without the brokers' chroot
    # (Burrow refuses a "host:port/chroot" entry).
    zk = ", ".join(f'"{s}"' for s in cluster.zk_hosts.split(","))
    (directory / "burrow.toml").write_text(
        f"""[general]
pidfile="{directory}/burrow.pid"

[logging]
filename="{directory}/burrow.log"
level="warn"

[zookeeper]
servers=[ {zk} ]
timeout=6
root-path="/burrow"

[client-profile.bench]
client-id="burrow-bench"
kafka-version="1.0.0"

[cluster.bench]
class-name="kafka"
servers=[ {servers} ]
client-profile="bench"
topic-refresh=120
offset-refresh=30

[consumer.bench]
class-name="kafka"
cluster="bench"
servers=[ {servers} ]
client-profile="bench"
group-blacklist="^(console-consumer-|testcluster-).*$"

[httpserver.default]
address="127.0.0.1:{port}"

[storage.default]
class-name="inmemory"
workers=20
intervals=15
expire-group=604800
min-distance=1
"""
    )


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=30) as response:
        result: dict[str, object] = json.load(response)
        return result


def burrow_lag(port: int, groups: int) -> dict[tuple[str, str, int], int]:
    base = f"http://127.0.0.1:{port}/v3/kafka/bench/consumer"
    out = {}
    for g in range(groups):
        group = f"bench-{g:04d}"
        try:
            status = get_json(f"{base}/{group}/lag")["status"]
        except OSError:
            continue
        for p in status.get("partitions") or []:  # type: ignore[union-attr]
            out[(group, p["topic"], p["partition"])] = int(p["current_lag"])
    return out


def daemon_lag(text: str) -> dict[tuple[str, str, int], int]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "kafka_watchdog_consumergroup_lag":
                labels = sample.labels
                key = (labels["group"], labels["topic"], int(labels["partition"]))
                out[key] = int(sample.value)
    return out


def tree(pid: int) -> tuple[float, float]:
    """(RSS MiB, CPU seconds) of a process and its children."""
    rss, cpu = 0.0, 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            rss += proc.memory_info().rss / 2**20
            times = proc.cpu_times()
            cpu += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return rss, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--partitions", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=180)
    args = parser.parse_args()
    if not os.path.exists(BURROW):
        sys.exit("Burrow is not installed: make burrow")
    with tempfile.TemporaryDirectory(prefix="bench-burrow-") as tmp:
        workdir = Path(tmp)
        cluster = ZkKafkaCluster(workdir / "cluster")
        cluster.broker_heap = ("-Xms256m", "-Xmx1g")
        with cluster:
            began = time.monotonic()
            topics = [f"bench-{t:04d}" for t in range(max(1, args.partitions // PER_TOPIC))]
            create_topics(cluster, topics, PER_TOPIC, 2)
            fill(cluster.bootstrap_servers, topics)
            commit_groups(cluster.bootstrap_servers, topics, args.groups)
            print(
                f"{len(topics) * PER_TOPIC} partitions, {args.groups} groups set up in "
                f"{time.monotonic() - began:.0f} s",
                flush=True,
            )
            (workdir / "burrow").mkdir()
            port = free_port()
            burrow_config(workdir / "burrow", cluster, port)
            (workdir / "daemon").mkdir()
            config = {
                "clusters": [
                    {
                        "name": "bench",
                        "bootstrap_servers": cluster.bootstrap_servers,
                        "zookeeper": {"connect": cluster.zk_connect},
                    }
                ],
                "alerting": {"state_dir": str(workdir / "daemon" / "state")},
            }
            log = (workdir / "burrow" / "stdout.log").open("wb")
            burrow = subprocess.Popen(
                [BURROW, "-config-dir", str(workdir / "burrow")],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir / "burrow",
            )
            try:
                with Daemon(workdir / "daemon", config) as daemon:
                    assert daemon.proc is not None
                    daemon.wait(lambda: daemon.clusters()["bench"]["ready"], "ready", 600)
                    # Both read every commit once before the figures start.
                    deadline = time.monotonic() + 300
                    while time.monotonic() < deadline:
                        if burrow.poll() is not None:
                            log.flush()
                            sys.exit(
                                f"Burrow exited ({burrow.returncode}):\n"
                                + (workdir / "burrow" / "stdout.log").read_text()
                                + (workdir / "burrow" / "burrow.log").read_text()
                            )
                        seen = burrow_lag(port, args.groups)
                        if len(seen) >= args.groups * PER_TOPIC:
                            break
                        time.sleep(5)
                    samples: dict[str, list[float]] = {"daemon": [], "burrow": []}
                    _, d0 = tree(daemon.proc.pid)
                    _, b0 = tree(burrow.pid)
                    start = time.monotonic()
                    while time.monotonic() - start < args.seconds:
                        samples["daemon"].append(tree(daemon.proc.pid)[0])
                        samples["burrow"].append(tree(burrow.pid)[0])
                        time.sleep(1)
                    elapsed = time.monotonic() - start
                    cpu = {
                        "daemon": tree(daemon.proc.pid)[1] - d0,
                        "burrow": tree(burrow.pid)[1] - b0,
                    }
                    _, text = daemon.get("/metrics")
                    ours = daemon_lag(text)
                    theirs = burrow_lag(port, args.groups)
            finally:
                burrow.kill()
                burrow.wait()
                log.close()
    both = ours.keys() & theirs.keys()
    same = sum(1 for k in both if ours[k] == theirs[k])
    worst = max((abs(ours[k] - theirs[k]) for k in both), default=0)
    print(
        f"lag of {len(ours)} group-partitions from the daemon, {len(theirs)} from Burrow; "
        f"{len(both)} in both, {same} equal, largest difference {worst}"
    )
    for name in ("daemon", "burrow"):
        print(
            f"{name}: RSS median {statistics.median(samples[name]):.0f} MiB, peak "
            f"{max(samples[name]):.0f} MiB; CPU {cpu[name] / elapsed * 60:.2f} s per minute"
        )
    rss_ratio = statistics.median(samples["daemon"]) / statistics.median(samples["burrow"])
    print(
        f"daemon / Burrow: RSS {rss_ratio:.1f}x, "
        f"CPU {cpu['daemon'] / max(cpu['burrow'], 1e-9):.1f}x "
        "(daemon: offsets every 10 s; Burrow: log ends every 30 s)"
    )


if __name__ == "__main__":
    main()
