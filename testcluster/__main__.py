"""`python -m testcluster fetch|reap|up`: pre-fetch Kafka, kill leftovers, run a cluster."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from testcluster import dist, jmx, reaper
from testcluster.cluster import KafkaCluster
from testcluster.kraft import KraftCluster
from testcluster.secure import WATCHDOG_PRINCIPALS, SecureKraftCluster
from testcluster.zkcluster import ZkKafkaCluster


def _fetch(_: argparse.Namespace) -> int:
    began = time.monotonic()
    for flavour in dist.FLAVOURS:
        one = time.monotonic()
        cached = dist.installed(flavour) is not None
        got = dist.fetch(flavour)
        if cached:
            how = "cached"
        elif got.fetched_by_this_process():
            how = "downloaded"
        else:
            how = "fetched by another process meanwhile"
        print(
            f"{flavour.name}: Kafka {got.version} {how} in {time.monotonic() - one:.1f}s "
            f"({len(got.jars)} jars in {got.lib})"
        )
    one = time.monotonic()
    print(f"JMX exporter agent: {jmx.agent_jar()} in {time.monotonic() - one:.1f}s")
    print(f"fetch took {time.monotonic() - began:.1f}s (cache: {dist.cache_root()})")
    return 0


def _reap(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir) if args.workdir else None
    killed = reaper.reap(workdir, everything=args.all)
    print(f"killed {len(killed)} JVM(s){': ' + ' '.join(map(str, killed)) if killed else ''}")
    left = reaper.leftovers()
    if left:
        print(f"{len(left)} testcluster JVM(s) still running, owned by live processes:")
        for item in left:
            print(f"  pid {item.pid} owner {item.owner} workdir {item.workdir}")
    return 0


def _up(args: argparse.Namespace) -> int:
    workdir = args.workdir
    kinds = {"zk": ZkKafkaCluster, "kraft": KraftCluster, "secure": SecureKraftCluster}
    cluster: KafkaCluster = kinds[args.kind](workdir)
    # SIGTERM goes through the same teardown as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    began = time.monotonic()
    try:
        cluster.start()
        print(f"{args.kind} cluster ready in {time.monotonic() - began:.1f}s", flush=True)
        print(f"bootstrap_servers={cluster.bootstrap_servers}")
        if isinstance(cluster, ZkKafkaCluster):
            print(f"zookeeper_connect={cluster.zk_connect}")
        if isinstance(cluster, SecureKraftCluster):
            print(f"sasl_ssl={cluster.sasl_bootstrap} (SCRAM-SHA-512)")
            print(f"mtls={cluster.mtls_bootstrap}\nca={cluster.ca.cert}")
            for user in WATCHDOG_PRINCIPALS:
                print(f"user {user}: password file {cluster.password_file(user)}")
        print(f"workdir={cluster.workdir}\nCtrl-C stops it.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not interrupt the teardown halfway.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testcluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download both Kafka distributions into the cache").set_defaults(
        func=_fetch
    )
    reap = sub.add_parser("reap", help="kill JVMs left behind by dead test runs")
    reap.add_argument("--workdir", help="also kill every JVM started in this workdir")
    reap.add_argument("--all", action="store_true", help="kill every testcluster JVM")
    reap.set_defaults(func=_reap)
    up = sub.add_parser("up", help="start a cluster and keep it running until Ctrl-C")
    up.add_argument(
        "kind", choices=("zk", "kraft", "secure"), help="secure: KRaft with SASL_SSL, mTLS, ACLs"
    )
    up.add_argument("--workdir", help="where its configs, data and logs go (default: temp)")
    up.set_defaults(func=_up)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
