"""SIGTERM to exit of `kafka-watchdog run`, against a live cluster and unreachable ones.

    .venv/bin/python bench/shutdown.py [--rounds 5] [--scenarios live,refused,silent]

Scenarios (alerting on, as by default; collection every 2 s so that a signal lands in the
middle of calls as well as between them):
- live: a local 3-broker ZooKeeper-mode cluster (testcluster), Admin API and ZooKeeper;
- refused: nothing listens at bootstrap_servers nor at zookeeper.connect;
- silent: something listens there but never answers (a hung host: every call waits out
  its timeout).
Each round starts the daemon, waits until it has a view (live) or has failed once, waits a
little more (a different moment of the cycle each round), sends SIGTERM and times the exit,
which must be clean (exit code 0, "stopped" logged last, no traceback).
Prints p50 and max per scenario.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testcluster import ZkKafkaCluster


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


def get(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.loads(response.read())


def one_round(workdir: Path, cluster: dict[str, Any], ready: bool, settle: float) -> float:
    port = free_port()
    config = {
        "server": {"listen": f"127.0.0.1:{port}"},
        "collection": {
            "metadata_interval": "2s",
            "offsets_interval": "2s",
            "request_timeout": "5s",
        },
        "clusters": [cluster],
    }
    path = workdir / "shutdown.yaml"
    path.write_text(yaml.safe_dump(config))
    log = (workdir / "shutdown.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kafka_watchdog", "run", "--config", str(path)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                (state,) = get(port, "/api/clusters")
            except (OSError, ValueError):
                time.sleep(0.2)
                continue
            if state["ready"] if ready else state["stages"]["metadata"]["consecutive_failures"]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(
                f"the daemon never got there:\n{(workdir / 'shutdown.log').read_text()}"
            )
        time.sleep(settle)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(120)
        took = time.monotonic() - began
        text = (workdir / "shutdown.log").read_text()
        # A clean exit: code 0, "stopped" logged last, no traceback, no warning after it.
        lines = text.splitlines()
        if code != 0 or "stopped" not in lines[-1] or "Traceback" in text:
            raise AssertionError(f"exit code {code}, not a clean stop:\n{text[-3000:]}")
        return took
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def scenario(name: str, workdir: Path, rounds: int, cluster: dict[str, Any], ready: bool) -> None:
    times = [one_round(workdir, cluster, ready, 0.5 + 0.7 * i) for i in range(rounds)]
    print(
        f"{name}: SIGTERM to exit p50 {statistics.median(times):.2f}s, max {max(times):.2f}s "
        f"over {rounds} rounds ({', '.join(f'{t:.2f}' for t in times)})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenarios", default="live,refused,silent")
    args = parser.parse_args()
    wanted = args.scenarios.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-shutdown-") as tmp:
        workdir = Path(tmp)
        if "refused" in wanted:
            scenario(
                "refused (nothing listens)",
                workdir,
                args.rounds,
                {
                    "name": "ghost",
                    "bootstrap_servers": f"127.0.0.1:{free_port()}",
                    "zookeeper": {"connect": f"127.0.0.1:{free_port()}"},
                },
                ready=False,
            )
        if "silent" in wanted:
            with silent_listener() as kafka, silent_listener() as zookeeper:
                scenario(
                    "silent (listens, never answers)",
                    workdir,
                    args.rounds,
                    {
                        "name": "ghost",
                        "bootstrap_servers": f"127.0.0.1:{kafka}",
                        "zookeeper": {"connect": f"127.0.0.1:{zookeeper}"},
                    },
                    ready=False,
                )
        if "live" in wanted:
            with ZkKafkaCluster(workdir / "cluster") as cluster:
                scenario(
                    "live (3 brokers, ZooKeeper mode)",
                    workdir,
                    args.rounds,
                    {
                        "name": "live",
                        "bootstrap_servers": cluster.bootstrap_servers,
                        "zookeeper": {"connect": cluster.zk_connect},
                    },
                    ready=True,
                )


if __name__ == "__main__":
    main()
