"""What the daemon costs on a real cluster: memory and CPU of `kafka-watchdog run`, its
offsets cycle and its /metrics over HTTP, optionally against another version, interleaved.

    .venv/bin/python bench/resources.py [--mode kraft|zk] [--partitions 1000] [--groups 100]
        [--seconds 180] [--rounds 1] [--scrape-every 15] [--before DIR] [--heap 1g]
        [--profile DIR] [--gzip]

Starts a local cluster from the test harness, creates the partitions (topics of 50, RF 2)
and consumer groups with committed offsets (each on one topic's 50 partitions), then runs
the real daemon (default schedule: 10 s metadata and offsets cycles, 60 s configs; alerting
on with a state_dir). Once it is ready and has run one minute, for --seconds it samples once
a second the RSS and CPU time of every process it started (main, Admin API worker and, in
older versions, multiprocessing's resource tracker), as a container's cgroup counts them,
and GETs /metrics every --scrape-every seconds as Prometheus would, reading the offsets
stage's duration from it.

`--before DIR`: a PYTHONPATH holding another version's `kafka_watchdog` (see
docs/performance.md): each round runs both versions one after the other on the same
cluster, alternating which goes first. Prints the figures docs/performance.md and
docs/deploy.md quote.

`--gzip`: the scrapes ask for gzip, as Prometheus does by default.

`--profile DIR`: py-spy (`pip install -e '.[bench]'`) samples the daemon's processes during
the measured window (it runs beside them, so their CPU figures include its ptrace stops),
writes each run's stacks to DIR and prints, per process, where its samples fell.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from bench.collection import PER_TOPIC, commit_groups
from bench.stats import nearest_rank
from bench.topics import create_topics
from testcluster import KafkaCluster, KraftCluster, ZkKafkaCluster
from tests.integration.daemon import Daemon

WARM_UP = 60.0
OFFSETS_DURATION = re.compile(
    r'^kafka_watchdog_collection_duration_seconds\{[^}]*stage="offsets"[^}]*\} (\S+)$', re.M
)


def role(proc: psutil.Process) -> str:
    try:
        line = " ".join(proc.cmdline())
    except psutil.Error:
        return "gone"
    if "resource_tracker" in line:
        return "resource tracker"
    if "admin_worker" in line or "multiprocessing" in line:
        return "Admin API worker"
    return "main" if "kafka_watchdog" in line else "other"


@dataclass
class Run:
    name: str
    rss: dict[str, list[float]] = field(default_factory=dict)  # MiB per role, per sample
    total: list[float] = field(default_factory=list)
    pss: list[float] = field(default_factory=list)  # shared pages split between processes
    once: list[float] = field(default_factory=list)  # file pages the processes share, once
    cpu_seconds: float = 0.0
    cpu_by_role: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    scrapes_ms: list[float] = field(default_factory=list)
    offsets_s: list[float] = field(default_factory=list)
    processes: int = 0

    def print(self) -> None:
        per_role = ", ".join(f"{r} {statistics.median(v):.0f}" for r, v in sorted(self.rss.items()))
        cpu_min = self.cpu_seconds / self.seconds * 60
        cpu_roles = ", ".join(
            f"{r} {v / self.seconds * 60:.1f}" for r, v in sorted(self.cpu_by_role.items())
        )
        print(
            f"  {self.name}: RSS of {self.processes} processes median "
            f"{statistics.median(self.total):.0f} MiB, peak {max(self.total):.0f} MiB "
            f"({per_role} MiB; the files both map counted once, as a container's cgroup "
            f"charges them: median {statistics.median(self.once):.0f} MiB; PSS median "
            f"{statistics.median(self.pss):.0f} MiB); CPU {cpu_min:.1f} s per minute "
            f"({cpu_roles}; {self.cpu_seconds / self.seconds * 1000:.0f} millicores)"
        )
        if self.scrapes_ms:
            ordered = sorted(self.scrapes_ms)
            p95 = nearest_rank(ordered, 0.95)
            print(
                f"    GET /metrics over HTTP: p50 {statistics.median(ordered):.0f} ms, "
                f"p95 {p95:.0f} ms, max {ordered[-1]:.0f} ms over {len(ordered)} scrapes"
            )
        if self.offsets_s:
            print(
                f"    offsets cycle (groups, then log offsets): p50 "
                f"{statistics.median(self.offsets_s):.2f} s, max {max(self.offsets_s):.2f} s"
            )


def counted_once(pids: list[int]) -> float:
    """MiB of the processes' anonymous memory plus every file-backed mapping's resident
    pages once (the largest resident size any of them has of that file): what a cgroup
    charges, where RSS summed per process counts a library both load twice."""
    anonymous = 0
    files: dict[str, int] = {}
    for pid in pids:
        mine: dict[str, int] = {}  # a file mapped in several segments: their sum
        try:
            with open(f"/proc/{pid}/smaps") as smaps:
                path = ""
                for line in smaps:
                    head = line.split(None, 6)
                    if "-" in head[0] and not head[0].endswith(":"):
                        path = head[5].strip() if len(head) > 5 and head[5].startswith("/") else ""
                    elif head[0] == "Rss:" and path:
                        mine[path] = mine.get(path, 0) + int(head[1])
                    elif head[0] == "Anonymous:":
                        anonymous += int(head[1])
                        if path:
                            mine[path] -= int(head[1])
        except OSError:
            continue
        for path, kib in mine.items():
            files[path] = max(files.get(path, 0), kib)
    return (anonymous + sum(files.values())) / 1024


def sample(pid: int) -> tuple[dict[str, float], dict[str, float], int, float]:
    """(RSS MiB per role, CPU seconds per role, processes, PSS MiB) of the daemon's process
    tree. A worker that was replaced takes its CPU with it: the figures then undercount."""
    rss: dict[str, float] = {}
    cpu: dict[str, float] = {}
    pss = 0.0
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    for proc in procs:
        try:
            mib = proc.memory_info().rss / 2**20
            pss += proc.memory_full_info().pss / 2**20
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        name = role(proc)
        rss[name] = rss.get(name, 0.0) + mib
        cpu[name] = cpu.get(name, 0.0) + times.user + times.system
    return rss, cpu, len(procs), pss


def profiler(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy on the daemon and its workers for the measured window, as collapsed stacks."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record", "--pid", str(pid), "--subprocesses", "--duration", str(seconds),
            "--rate", "50", "--format", "raw", "--output", str(out), "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def where_samples_fell(stacks: Path, top: int = 15) -> None:
    """Per process: the share of its samples in each function (self), and in each of the
    daemon's own functions with what they called (inclusive)."""
    own: dict[str, dict[str, int]] = {}
    inclusive: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for line in stacks.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        # py-spy names the process first, a worker's under its parent's.
        heads = [f for f in frames.split(";") if f.startswith("process ")]
        # "function (file:line)" -> "function (file)": a function's lines counted together
        parts = [
            re.sub(r":\d+\)$", ")", f) for f in frames.split(";") if not f.startswith("process ")
        ]
        proc = "worker" if any("admin_worker" in h for h in heads) else "main"
        if not parts:
            continue
        n = int(count)
        totals[proc] = totals.get(proc, 0) + n
        leaf = own.setdefault(proc, {})
        leaf[parts[-1]] = leaf.get(parts[-1], 0) + n
        ours = inclusive.setdefault(proc, {})
        for frame in {f for f in parts if "(watchdog/" in f}:
            ours[frame] = ours.get(frame, 0) + n
    for proc, total in sorted(totals.items()):
        print(f"    {proc}: {total} samples")
        for title, table in (("self", own[proc]), ("inclusive, ours", inclusive[proc])):
            ranked = sorted(table.items(), key=lambda kv: -kv[1])[:top]
            print(f"      {title}:")
            for frame, n in ranked:
                print(f"        {100 * n / total:5.1f}%  {frame[:150]}")


def measure(
    cluster: KafkaCluster,
    mode: str,
    workdir: Path,
    seconds: int,
    scrape_every: float,
    name: str,
    pythonpath: str | None,
    profile: Path | None = None,
    gzipped: bool = False,
) -> Run:
    entry: dict[str, object] = {"name": "bench", "bootstrap_servers": cluster.bootstrap_servers}
    if mode == "zk":
        assert isinstance(cluster, ZkKafkaCluster)
        entry["zookeeper"] = {"connect": cluster.zk_connect}
    config = {"clusters": [entry], "alerting": {"state_dir": str(workdir / "state")}}
    env = {"PYTHONPATH": pythonpath} if pythonpath else {}
    run = Run(name)
    with Daemon(workdir, config, env=env) as daemon:
        assert daemon.proc is not None
        began = time.monotonic()
        daemon.wait(lambda: bool(daemon.clusters().get("bench", {}).get("ready")), "ready", 600)
        ready = time.monotonic() - began
        time.sleep(WARM_UP)
        _, cpu_start, _, _ = sample(daemon.proc.pid)
        stacks = profile / f"{name}-{workdir.name}.txt" if profile else None
        spy = profiler(daemon.proc.pid, seconds, stacks) if stacks else None
        start = time.monotonic()
        next_scrape = start
        while time.monotonic() - start < seconds:
            if time.monotonic() >= next_scrape:
                t = time.perf_counter()
                request = urllib.request.Request(
                    daemon.url + "/metrics",
                    headers={"Accept-Encoding": "gzip" if gzipped else "identity"},
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    raw = response.read()
                run.scrapes_ms.append((time.perf_counter() - t) * 1000)  # as received
                body = (gzip.decompress(raw) if gzipped else raw).decode()
                found = OFFSETS_DURATION.search(body)
                if found:
                    run.offsets_s.append(float(found.group(1)))
                next_scrape += scrape_every
            rss, _, run.processes, pss = sample(daemon.proc.pid)
            root = psutil.Process(daemon.proc.pid)
            run.once.append(
                counted_once([root.pid, *(c.pid for c in root.children(recursive=True))])
            )
            for key, value in rss.items():
                run.rss.setdefault(key, []).append(value)
            run.total.append(sum(rss.values()))
            run.pss.append(pss)
            time.sleep(1)
        _, cpu_end, _, _ = sample(daemon.proc.pid)
        run.seconds = time.monotonic() - start
        run.cpu_by_role = {r: v - cpu_start.get(r, 0.0) for r, v in cpu_end.items()}
        run.cpu_seconds = sum(run.cpu_by_role.values())
        print(f"  {name}: ready after {ready:.1f} s", flush=True)
        if spy is not None and stacks is not None:
            spy.wait(60)
            if stacks.exists():
                where_samples_fell(stacks)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mode", choices=["kraft", "zk"], default="kraft")
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--scrape-every", type=float, default=15.0)
    parser.add_argument("--before", help="a PYTHONPATH holding another kafka_watchdog")
    parser.add_argument("--heap", default="1g", help="each broker's -Xmx")
    parser.add_argument("--profile", type=Path, help="py-spy's stacks go here")
    parser.add_argument("--gzip", action="store_true", help="scrape with Accept-Encoding: gzip")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    variants = [("now", None)] + ([("before", args.before)] if args.before else [])
    runs: dict[str, list[Run]] = {name: [] for name, _ in variants}
    with tempfile.TemporaryDirectory(prefix="bench-resources-") as tmp:
        workdir = Path(tmp)
        kind = KraftCluster if args.mode == "kraft" else ZkKafkaCluster
        cluster = kind(workdir / "cluster")
        cluster.broker_heap = ("-Xms256m", f"-Xmx{args.heap}")
        with cluster:
            began = time.monotonic()
            topics = [f"bench-{t:04d}" for t in range(max(1, args.partitions // PER_TOPIC))]
            create_topics(cluster, topics, PER_TOPIC, 2)
            commit_groups(cluster.bootstrap_servers, topics, args.groups)
            print(
                f"{args.mode}: {len(topics) * PER_TOPIC} partitions, {args.groups} groups set "
                f"up in {time.monotonic() - began:.0f} s",
                flush=True,
            )
            for r in range(args.rounds):
                order = variants if r % 2 == 0 else list(reversed(variants))
                for name, path in order:
                    here = workdir / f"daemon-{name}-{r}"
                    here.mkdir()
                    print(f"round {r + 1}, {name}, load {os.getloadavg()}", flush=True)
                    run = measure(
                        cluster,
                        args.mode,
                        here,
                        args.seconds,
                        args.scrape_every,
                        name,
                        path,
                        args.profile,
                        args.gzip,
                    )
                    run.print()
                    runs[name].append(run)
    print(f"summary ({args.mode}, {len(topics) * PER_TOPIC} partitions, {args.groups} groups):")
    for name in runs:
        for run in runs[name]:
            run.print()


if __name__ == "__main__":
    main()
