"""`make demo`: a real ZooKeeper-mode cluster with traffic and a lagging consumer group, and
the watchdog watching it. Ctrl-C stops everything (cluster included).

    python -m testcluster.demo [--port 10308] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testcluster.traffic import RateConsumer, RateProducer
from testcluster.zkcluster import ZkKafkaCluster

CONFIG = """\
# Written by the demo; a real config looks the same (docs/reference-config.yaml).
server:
  listen: "127.0.0.1:{port}"
collection:
  metadata_interval: 5s
  offsets_interval: 5s
  configs_interval: 30s
lag:
  window: 1m
clusters:
  - name: demo
    bootstrap_servers: "{bootstrap}"
    zookeeper:
      connect: "{zk}"
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testcluster.demo", description=__doc__)
    parser.add_argument("--port", type=int, default=10308, help="the watchdog's HTTP port")
    parser.add_argument("--workdir", type=Path, help="where cluster data and logs go")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kafka-watchdog-demo-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    print(f"starting a 3-node ZooKeeper ensemble and 3 Kafka 3.9 brokers in {workdir} ...")
    with ZkKafkaCluster(workdir / "cluster") as cluster:
        cluster.create_topic("orders", partitions=6, rf=3)
        # A risky topic on purpose: it shows up as a config hazard.
        cluster.create_topic(
            "payments", partitions=3, rf=3, config={"unclean.leader.election.enable": "true"}
        )
        producer = RateProducer(cluster.bootstrap_servers, "orders", rate=50).start()
        keeping_up = RateConsumer(cluster.bootstrap_servers, "orders", "billing").start()
        lagging = RateConsumer(cluster.bootstrap_servers, "orders", "analytics", rate=10).start()
        config = workdir / "watchdog.yaml"
        config.write_text(
            CONFIG.format(
                port=args.port, bootstrap=cluster.bootstrap_servers, zk=cluster.zk_connect
            )
        )
        url = f"http://127.0.0.1:{args.port}"
        print(
            f"""
cluster ready: bootstrap {cluster.bootstrap_servers}, ZooKeeper {cluster.zk_connect}
traffic: 50 records/s into 'orders'; group 'billing' keeps up, group 'analytics' reads
10/s and falls behind; topic 'payments' allows unclean elections (a config hazard).

the watchdog (config {config}):
  {url}/metrics       e.g. kafka_watchdog_consumergroup_topic_lag, ..._topic_lag_seconds_max
  {url}/readyz        readiness per cluster
  {url}/api/clusters  what it sees, as JSON
try a fault in another shell: kill -STOP <pid of a broker> (pids in {workdir}/cluster)
Ctrl-C stops the watchdog, the traffic and the cluster.
""",
            flush=True,
        )
        watchdog = subprocess.Popen(
            [sys.executable, "-m", "kafka_watchdog", "run", "--config", str(config)]
        )
        try:
            while watchdog.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            if watchdog.poll() is None:
                watchdog.send_signal(signal.SIGTERM)
                watchdog.wait(30)
            for worker in (lagging, keeping_up, producer):
                worker.stop()
    return watchdog.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
