"""Soak: seeded, bounded random faults on a real cluster with the chaos suite's invariants
(tests/integration/chaos.py) checked after every fault and after every healing. Not in CI.

    .venv/bin/python bench/soak.py --kind zk --minutes 30 --seed 13
    .venv/bin/python bench/soak.py --kind kraft --minutes 10 --seed 7

Faults, drawn with `random.Random(seed)` (the same seed draws the same sequence): one
broker SIGKILLed or SIGSTOPped (the controller, a coordinator of the stopped groups, or any),
two brokers SIGSTOPped at once, and in ZooKeeper mode a ZooKeeper node killed or SIGSTOPped;
about one fault in three restarts the watchdog in its middle. Bounded: one fault at a time, each
healed (every node back, every under-replicated partition caught up) before the next, so
the cluster never loses data and the run can go on for hours.

Prints one line per fault, then the figures: faults by kind, watchdog restarts, pages
(triggers, resolves), and false transitions (any invariant broken: 0, or the run stops at
the first with its message and exit status 1).
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testcluster import KafkaCluster, KraftCluster, ZkKafkaCluster
from tests.integration.chaos import Chaos, fault

KINDS = (
    "broker killed",
    "broker paused",
    "two brokers paused",
    "zookeeper node killed",
    "zookeeper node paused",
)


def draw(rng: random.Random, cluster: KafkaCluster) -> tuple[str, list[int]]:
    """One bounded fault: its kind and the nodes it hits."""
    kinds = list(KINDS if isinstance(cluster, ZkKafkaCluster) else KINDS[:3])
    kind = rng.choice(kinds)
    brokers = sorted(cluster.broker_ids)
    if kind == "two brokers paused":
        return kind, sorted(rng.sample(brokers, 2))
    if kind.startswith("zookeeper node"):
        assert isinstance(cluster, ZkKafkaCluster)
        return kind, [rng.choice(sorted(cluster.zk_modes()))]
    # The controller half the time: the fault that moves most state at once.
    return kind, [cluster.controller_id() if rng.random() < 0.5 else rng.choice(brokers)]


def inject(cluster: KafkaCluster, brokers: list[int], *, kill: bool) -> None:
    for b in brokers:
        if kill:
            cluster.broker(b).kill()
        else:
            cluster.broker(b).pause()


def soak(cluster: KafkaCluster, workdir: Path, minutes: float, seed: int) -> int:
    rng = random.Random(seed)
    run = Chaos(cluster, workdir, name="soak")
    kinds: Counter[str] = Counter()
    began = time.monotonic()
    failure = ""
    try:
        run.setup()
        while time.monotonic() - began < minutes * 60:
            kind, hit = draw(rng, cluster)
            restart = rng.random() < 1 / 3
            name = f"#{sum(kinds.values()) + 1} {kind}{' + watchdog restart' if restart else ''}"
            if kind.startswith("zookeeper node"):
                assert isinstance(cluster, ZkKafkaCluster)
                node = cluster.zookeeper(hit[0])
                run.note(f"{name}: {hit}")
                run.explain_zookeeper_fault()
                if kind.endswith("killed"):
                    node.kill()
                else:
                    node.pause()
                if restart:
                    run.restart_daemon()
                run.settled()
                run.check_pages(0, resolved_by_now=False)
                run.check_scraper()
                cluster.heal(timeout=180)
                run.settled()
            else:
                fault(
                    run,
                    name,
                    hit,
                    functools.partial(inject, cluster, hit, kill=kind == "broker killed"),
                    restart_at_once=restart and rng.random() < 0.5,
                )
            kinds[kind] += 1
            print(run.log[-1], flush=True)
        run.check_stopped_groups_still_hold()
    except AssertionError as exc:
        failure = str(exc)
    finally:
        run.close()
    pages = Counter(p.action for p in run.pager.pages)
    elapsed = (time.monotonic() - began) / 60
    print(f"\nsoak: {cluster.kind}, seed {seed}, {elapsed:.1f} min, load {os.getloadavg()}")
    print(f"faults injected: {sum(kinds.values())} {dict(kinds)}")
    print(f"watchdog restarts: {run.processes - 1}")
    print(f"pages: {pages['trigger']} triggers, {pages['resolve']} resolves")
    print(f"false transitions: {1 if failure else 0}{': ' + failure if failure else ''}")
    (workdir / "soak.log").write_text("\n".join(run.log) + "\n")
    return 1 if failure else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("zk", "kraft"), default="zk")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kafka-watchdog-soak-"))
    cluster: KafkaCluster = (ZkKafkaCluster if args.kind == "zk" else KraftCluster)(
        workdir / "cluster"
    )
    cluster.start()
    try:
        return soak(cluster, workdir, args.minutes, args.seed)
    finally:
        cluster.stop()
        print(f"logs: {workdir}")


if __name__ == "__main__":
    sys.exit(main())
