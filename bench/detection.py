"""Detection delay on a real cluster, before and after a change, interleaved on the same
cluster: the ZooKeeper watches (ZooKeeper mode) or the Admin API path (KRaft).

    .venv/bin/python bench/detection.py [--mode zk|kraft] [--partitions 5000] [--rounds 3]
        [--before /tmp/before-path] [--heap 1g]

Starts a local cluster (ZooKeeper mode: 3 ZooKeeper nodes and 3 brokers; KRaft: 3 combined
nodes), creates the partitions (topics of 50, RF 2), then per round and per variant: a
watcher (default schedule: 10 s metadata cycles; ZooKeeper watches on in ZooKeeper mode)
runs in a child process; once it has a view, a broker is paused (SIGSTOP) until the watcher
has seen an ISR shrink on every partition the broker held, then resumed, and the cluster is
left to heal before the next run. The delay of each ISR-shrink event is measured
- in ZooKeeper mode from the partition state znode's mtime (when ZooKeeper took the
  controller's write), split at the moment the re-read data reached the watchdog (kazoo's
  thread): before it, ZooKeeper's commit, the watch and the read; after it, the event loop;
- on KRaft from the moment the active controller fenced the broker (its log line; every
  ISR the broker was in shrinks in that one metadata change): one metadata interval at
  most, plus the Metadata call and the assembly.
The child's CPU (with its Admin API worker) over the fault is reported too.

`--before DIR`: a directory holding a `kafka_watchdog` package of another version (see
docs/performance.md: `git archive COMMIT watchdog | tar -x -C /tmp/before`, a link
`DIR/kafka_watchdog -> /tmp/before/watchdog`): its runs alternate with the current code's.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import nearest_rank

PER_TOPIC = 50


# -- the child: one watcher --------------------------------------------------------------


async def child(bootstrap: str, zk_connect: str | None) -> None:
    from kafka_watchdog.app.watcher import ClusterWatcher
    from kafka_watchdog.config.schema import (
        ClusterConfig,
        CollectionConfig,
        LagConfig,
        ZooKeeperConfig,
    )
    from kafka_watchdog.model.events import Event, EventKind
    from tests.integration.watching import until

    config = ClusterConfig(
        name="bench",
        bootstrap_servers=bootstrap.split(","),
        zookeeper=ZooKeeperConfig(connect=zk_connect) if zk_connect else None,
    )
    watcher = ClusterWatcher(config, CollectionConfig(), LagConfig())
    delays: list[float] = []
    # Where the time goes: from the write to its data reaching the watchdog (ZooKeeper's
    # commit, the watch, the re-read; kazoo's thread), and from there to the event (the
    # event loop: debounce, assembly, detection).
    received: dict[tuple[str, int], float] = {}
    shares: list[float] = []
    observed: list[float] = []  # when each ISR shrink was seen (the Admin API path has no mtime)
    # The Admin API path: how long after the start of the metadata cycle that found it.
    cycle_starts: list[float] = []
    after_cycle: list[float] = []
    marked = False
    record = watcher._record

    def counting(events: list[Event]) -> None:
        if marked:
            seen = [e.observed_at for e in events if e.kind is EventKind.ISR_SHRINK]
            observed.extend(seen)
            if seen and not zk_connect and cycle_starts:
                after_cycle.append(seen[0] - cycle_starts[-1])
            for e in events:
                if e.kind is EventKind.ISR_SHRINK and e.delay is not None:
                    delays.append(e.delay)
                    got = received.get((e.topic or "", e.partition or 0))
                    if got is not None:
                        shares.append(e.observed_at - got)
        record(events)

    def receiving(post: Any) -> Any:
        def wrapper(fn: Any, *args: Any) -> None:  # kazoo's thread
            path = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            if marked and path.endswith("/state"):
                parts = path.split("/")
                received[(parts[-4], int(parts[-2]))] = time.time()
            post(fn, *args)

        return wrapper

    watcher._record = counting  # type: ignore[method-assign]
    collect_metadata = watcher._collect_metadata

    async def timed_metadata() -> None:
        cycle_starts.append(time.time())
        await collect_metadata()

    watcher._collect_metadata = timed_metadata  # type: ignore[method-assign]
    await watcher.start()
    loop = asyncio.get_running_loop()
    try:
        await until(
            lambda: (
                (not zk_connect or (watcher.mirror is not None and watcher.mirror.synced))
                and watcher.store.latest
            ),
            "a first view (and a synced mirror)",
            600,
        )
        if zk_connect:
            mirror = watcher.mirror
            assert mirror is not None
            mirror._post = receiving(mirror._post)  # type: ignore[method-assign]
        latest = watcher.store.latest
        assert latest is not None
        print("READY", latest.partition_count, flush=True)
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if line == "MARK":
                marked = True
                print("MARKED", flush=True)
            elif line == "COUNT":
                print("COUNT", len(observed), flush=True)
            elif line in ("COLLECT", ""):
                answer = {
                    "delays": delays,
                    "shares": shares,
                    "observed": observed,
                    "after_cycle": after_cycle,
                }
                print("DELAYS", json.dumps(answer), flush=True)
                return
    finally:
        await watcher.stop()


# -- the parent: cluster, fault, figures -------------------------------------------------


def tree_cpu(pid: int) -> float:
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


class Child:
    def __init__(self, bootstrap: str, zk: str | None, pythonpath: str | None) -> None:
        env = dict(os.environ)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--child", "--bootstrap", bootstrap]
            + (["--zk", zk] if zk else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def ask(self, line: str | None, expect: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if line is not None:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        while True:
            answer = self.proc.stdout.readline()
            if not answer:
                raise RuntimeError(f"the watcher exited ({self.proc.wait()})")
            if answer.startswith(expect):
                return answer[len(expect) :].strip()


def affected(cluster: object, victim: int) -> int:
    metadata = cluster.metadata()  # type: ignore[attr-defined]
    return sum(
        1
        for topic in metadata.topics.values()
        for p in topic.partitions.values()
        if victim in p.replicas and not topic.topic.startswith("__")
    )


FENCED = re.compile(r"^\[([\d-]+ [\d:]+),(\d+)\] INFO .*Fencing broker (\d+) ")


def fenced_at(cluster: object, victim: int, after: float) -> float | None:
    """When the KRaft controller fenced `victim` (its log line), after `after`: every ISR
    the broker was in shrinks in that same metadata change."""
    found = None
    for node in cluster.brokers.values():  # type: ignore[attr-defined]
        text = (node.directory / "output.log").read_text(errors="replace")
        for line in text.splitlines():
            match = FENCED.match(line)
            if match and int(match.group(3)) == victim:
                stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
                at = stamp.timestamp() + int(match.group(2)) / 1000
                if at >= after and (found is None or at < found):
                    found = at
    return found


def one_run(
    cluster: object, pythonpath: str | None, victim: int
) -> tuple[list[float], list[float], float]:
    expected = affected(cluster, victim)
    zk = getattr(cluster, "zk_connect", None)
    child_proc = Child(cluster.bootstrap_servers, zk, pythonpath)  # type: ignore[attr-defined]
    try:
        child_proc.ask(None, "READY")
        time.sleep(2)  # let the first Admin API cycles pass
        cpu0 = tree_cpu(child_proc.proc.pid)
        child_proc.ask("MARK", "MARKED")
        broker = cluster.broker(victim)  # type: ignore[attr-defined]
        paused_at = time.time()
        broker.pause()
        began = time.monotonic()
        try:
            while time.monotonic() - began < 180:
                if int(child_proc.ask("COUNT", "COUNT")) >= expected:
                    break
                time.sleep(0.5)
        finally:
            broker.resume()
        cpu = tree_cpu(child_proc.proc.pid) - cpu0
        answer = json.loads(child_proc.ask("COLLECT", "DELAYS"))
    finally:
        child_proc.proc.wait(60)
    cluster.heal(300)  # type: ignore[attr-defined]
    if zk is None:  # the Admin API path: from the controller's fencing to each event
        fenced = fenced_at(cluster, victim, paused_at)
        if fenced is None:
            raise RuntimeError("no 'Fencing broker' line in the controllers' logs")
        # The share: from the start of the metadata cycle that brought the change.
        return [at - fenced for at in answer["observed"]], answer["after_cycle"], cpu
    return answer["delays"], answer["shares"], cpu


def p95(values: list[float]) -> float:
    return nearest_rank(values, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mode", choices=["zk", "kraft"], default="zk")
    parser.add_argument("--partitions", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", help="a PYTHONPATH holding another kafka_watchdog")
    parser.add_argument("--heap", default="1g", help="each broker's -Xmx")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--zk", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.bootstrap, args.zk))
        return

    from bench.topics import create_topics
    from testcluster import KraftCluster, ZkKafkaCluster

    arrival = (
        "the data's arrival"
        if args.mode == "zk"
        else "the start of the metadata cycle that found it"
    )
    variants = [("now", None)] + ([("before", args.before)] if args.before else [])
    results: dict[str, list[float]] = {name: [] for name, _ in variants}
    own: dict[str, list[float]] = {name: [] for name, _ in variants}
    cpus: dict[str, list[float]] = {name: [] for name, _ in variants}
    with tempfile.TemporaryDirectory(prefix="bench-detection-") as workdir:
        cluster = (ZkKafkaCluster if args.mode == "zk" else KraftCluster)(Path(workdir))
        cluster.broker_heap = ("-Xms256m", f"-Xmx{args.heap}")
        with cluster:
            began = time.monotonic()
            topics = [f"bench-{t:04d}" for t in range(args.partitions // PER_TOPIC)]
            create_topics(cluster, topics, PER_TOPIC, 2)
            print(
                f"{len(topics) * PER_TOPIC} partitions set up in "
                f"{time.monotonic() - began:.0f} s; load average {os.getloadavg()}",
                flush=True,
            )
            victim = cluster.broker_ids[-1]
            for r in range(args.rounds):
                for name, path in variants if r % 2 == 0 else list(reversed(variants)):
                    delays, shares, cpu = one_run(cluster, path, victim)
                    results[name] += delays
                    own[name] += shares
                    cpus[name].append(cpu)
                    share = (
                        f" (from {arrival}: p50 {statistics.median(shares) * 1000:.0f} "
                        f"ms, p95 {p95(shares) * 1000:.0f} ms)"
                        if shares
                        else ""
                    )
                    print(
                        f"round {r + 1} {name}: {len(delays)} ISR shrinks, p50 "
                        f"{statistics.median(delays) * 1000:.0f} ms, p95 "
                        f"{p95(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms"
                        f"{share}; watcher CPU over the fault {cpu:.1f} s; "
                        f"load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
    since = "znode mtime" if args.mode == "zk" else "the controller fencing the broker"
    for name, delays in results.items():
        share = (
            f"; from {arrival} to the event p50 "
            f"{statistics.median(own[name]) * 1000:.0f} ms, p95 {p95(own[name]) * 1000:.0f} ms"
            if own[name]
            else ""
        )
        print(
            f"{name}: {len(delays)} ISR shrinks over {args.rounds} rounds, delay from {since} "
            f"to the event: p50 {statistics.median(delays) * 1000:.0f} ms, p95 "
            f"{p95(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms{share}; "
            f"watcher CPU per fault p50 {statistics.median(cpus[name]):.1f} s"
        )


if __name__ == "__main__":
    main()
