"""Figures for the test cluster harness: cold fetch, warm start, peak RSS.

    .venv/bin/python bench/cluster_startup.py                 # everything, 1 run each
    .venv/bin/python bench/cluster_startup.py --runs 3 --skip-cold
    .venv/bin/python bench/cluster_startup.py --jvm-flags ''  # JVM defaults, for comparison

Cold: both distributions fetched into an empty, temporary KAFKA_WATCHDOG_CACHE (the real
cache is left alone). Warm: `start()` to ready with the cached jars. RSS: every cluster JVM
sampled once a second while a cluster starts and then carries 10 s of traffic (200 msg/s
produced with acks=all and consumed by one group member).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testcluster import KafkaCluster, KraftCluster, RateConsumer, RateProducer, ZkKafkaCluster
from testcluster import dist as kafka_dist
from testcluster.memory import RssSampler
from testcluster.secure import SecureKraftCluster


def cold_fetch() -> float:
    cache = Path(tempfile.mkdtemp(prefix="kafka-watchdog-cold-"))
    try:
        began = time.monotonic()
        for flavour in kafka_dist.FLAVOURS:
            kafka_dist.fetch(flavour, cache)
        return time.monotonic() - began
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def warm_start(kind: str, traffic_seconds: float) -> tuple[float, RssSampler]:
    kinds = {"zk": ZkKafkaCluster, "kraft": KraftCluster, "secure": SecureKraftCluster}
    cluster: KafkaCluster = kinds[kind]()
    sampler = RssSampler(cluster.pids, interval=0.5).start()
    began = time.monotonic()
    try:
        cluster.start()
        seconds = time.monotonic() - began
        if traffic_seconds > 0:
            topic = f"bench-{uuid.uuid4().hex[:6]}"
            cluster.create_topic(topic, partitions=3, rf=3)
            with (
                RateProducer(
                    cluster.bootstrap_servers, topic, rate=200, config=cluster.client_config
                ),
                RateConsumer(
                    cluster.bootstrap_servers, topic, f"{topic}-g", config=cluster.client_config
                ),
            ):
                time.sleep(traffic_seconds)
    finally:
        sampler.stop()
        cluster.stop()
    return seconds, sampler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="warm starts per cluster kind")
    parser.add_argument("--skip-cold", action="store_true", help="do not measure the download")
    parser.add_argument("--traffic", type=float, default=10.0, help="seconds of traffic")
    parser.add_argument(
        "--kinds",
        default="zk,kraft",
        help="comma-separated: zk,kraft,secure (KRaft with TLS, SASL, mTLS and ACLs)",
    )
    parser.add_argument(
        "--jvm-flags", help="replace the harness's lean JVM flags (sets TESTCLUSTER_JVM_FLAGS)"
    )
    args = parser.parse_args()
    if args.jvm_flags is not None:
        os.environ["TESTCLUSTER_JVM_FLAGS"] = args.jvm_flags
    print(f"cores: {os.cpu_count()}, JVM flags: {os.environ.get('TESTCLUSTER_JVM_FLAGS', 'lean')}")

    if not args.skip_cold:
        print(f"cold fetch (empty cache, both distributions): {cold_fetch():.1f}s")
    began = time.monotonic()
    for flavour in kafka_dist.FLAVOURS:
        kafka_dist.fetch(flavour)
    print(f"warm fetch (cached, no mvn): {time.monotonic() - began:.3f}s")

    for kind in args.kinds.split(","):
        times = []
        peaks = None
        for run in range(args.runs):
            seconds, sampler = warm_start(kind, args.traffic if run == 0 else 0)
            times.append(seconds)
            if run == 0:
                peaks = sampler.peaks
        spread = f" (min {min(times):.1f}, max {max(times):.1f})" if len(times) > 1 else ""
        print(f"{kind}: start() to ready {statistics.median(times):.1f}s median{spread}")
        if peaks is not None:
            print("  " + peaks.format().replace("\n", "\n  "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
