"""Real clusters for the integration tests, from the project's own harness (testcluster/).

- `zk_cluster`, `kraft_cluster`: one of each per session, started on first use and stopped
  once the last test that uses it is done (the tests run grouped by cluster: grouping.py).
- `secure_cluster`: a KRaft cluster with SASL_SSL (SCRAM-SHA-512) and mTLS listeners and
  ACLs enforced (testcluster/secure.py), one per session for all the security tests.
- After every test, every started session cluster is healed (paused nodes resumed, dead
  ones restarted) and awaited until healthy, so a test may break whatever it likes.
- `fresh_zk_cluster`, `fresh_kraft_cluster`: a private cluster for one test.
- A failed test's report carries the log tails of the cluster processes.
- The terminal summary prints start-up times and the JVMs' peak RSS (per pytest-xdist
  worker, each with its own clusters); with TESTCLUSTER_FIGURES=path they are also written
  there as JSON, by worker.
- Under pytest-xdist (`make test`: two workers), each session cluster's tests run on one
  worker (`worker_group`), so each cluster still starts once per run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from testcluster import KafkaCluster, KraftCluster, ZkKafkaCluster, reap
from testcluster.memory import RssPeaks, RssSampler
from testcluster.secure import SecureKraftCluster
from tests.integration.grouping import (
    SESSION_CLUSTERS,
    by_group,
    clusters_used,
    last_users,
    worker_group,
)
from tests.integration.loopback import Receiver

HERE = Path(__file__).parent

_session_clusters: dict[str, KafkaCluster] = {}
_fresh_clusters: dict[str, KafkaCluster] = {}
_figures: dict[str, Any] = {"startup_seconds": {}}
# Under pytest-xdist, the controller's copy of each worker's figures, by worker id.
_worker_figures: dict[str, dict[str, Any]] = {}
_began = time.monotonic()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Collection hooks see every item of the run, not only this directory's.
    ours = [item for item in items if HERE in item.path.parents]
    for item in ours:
        item.add_marker(pytest.mark.integration)
        item.add_marker(pytest.mark.xdist_group(worker_group(item)))
    if len(ours) == len(items):
        by_group(items)


# For each session cluster, the last test that uses it (computed from the final list of
# tests, after -k and -m deselection), and the clusters stopped early because of it.
_last_users: dict[str, str] | None = None
_stopped_early: set[str] = set()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    """Stop a session cluster as soon as the last test that uses it is torn down (its
    module's fixtures included), rather than at the end of the run: with the tests ordered
    by group, at most one session cluster's JVMs run at a time in one process."""
    global _last_users
    outcome = yield
    if _last_users is None:
        _last_users = last_users(item.session.items)
    for label, nodeid in _last_users.items():
        if nodeid == item.nodeid and label in _session_clusters:
            began = time.monotonic()
            _session_clusters.pop(label).stop()
            _stopped_early.add(label)
            print(
                f"testcluster: {label} cluster stopped after its last test "
                f"({time.monotonic() - began:.1f}s)"
            )
    return outcome


def _cluster_pids() -> dict[str, int]:
    pids = {}
    for label, cluster in [*_session_clusters.items(), *_fresh_clusters.items()]:
        for name, pid in cluster.pids().items():
            pids[f"{label}/{name}"] = pid
    return pids


@pytest.fixture(scope="session", autouse=True)
def _session_housekeeping() -> Iterator[None]:
    killed = reap()  # JVMs left by an earlier run that died (ours only: owner is dead)
    if killed:
        print(f"testcluster: reaped {len(killed)} leftover JVM(s) from a dead run")
    sampler = RssSampler(_cluster_pids).start()
    yield
    peaks: RssPeaks = sampler.stop()
    _figures["peak_rss"] = peaks.as_dict()
    _figures["peak_rss_text"] = peaks.format()


C = TypeVar("C", bound=KafkaCluster)


def _serve(cluster: C, label: str) -> Iterator[C]:
    began = time.monotonic()
    cluster.start()
    _figures["startup_seconds"][label] = round(time.monotonic() - began, 1)
    _session_clusters[label] = cluster
    try:
        yield cluster
    finally:
        _session_clusters.pop(label, None)
        if label not in _stopped_early:
            cluster.stop()


@pytest.fixture(scope="session")
def zk_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZkKafkaCluster]:
    """3 ZooKeeper nodes + 3 Kafka 3.9 brokers under the /kafka chroot."""
    cluster = ZkKafkaCluster(tmp_path_factory.mktemp("zk-cluster"))
    yield from _serve(cluster, "zk")


@pytest.fixture(scope="session")
def kraft_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KraftCluster]:
    """3 combined broker+controller Kafka 4.x nodes."""
    cluster = KraftCluster(tmp_path_factory.mktemp("kraft-cluster"))
    yield from _serve(cluster, "kraft")


@pytest.fixture(scope="session")
def secure_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKraftCluster]:
    """3 KRaft nodes with SASL_SSL and mTLS listeners, ACLs on, watchdog principals made."""
    cluster = SecureKraftCluster(tmp_path_factory.mktemp("secure-cluster"))
    yield from _serve(cluster, "secure")


_broken: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _heal_clusters_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    # A session cluster that could not be healed fails the tests that use it at once rather
    # than have each of them wait out its own timeouts (one broken cluster once cost CI 30 min).
    for label, why in _broken.items():
        if f"{label}_cluster" in request.fixturenames:
            pytest.fail(f"the session's {label} cluster is broken: {why}", pytrace=False)
    for label in clusters_used(request.node):
        if label in _stopped_early:  # a bug in grouping.py's last_users, never a test's
            pytest.fail(
                f"the session's {label} cluster was stopped before this test", pytrace=False
            )
    yield
    for label, cluster in list(_session_clusters.items()):
        if label in _broken:
            continue
        try:
            actions = cluster.heal(timeout=120)
        except Exception as exc:
            _broken[label] = f"not healed after {request.node.nodeid}: {exc}"[:2000]
            raise
        if actions:
            print(f"testcluster: {label} cluster healed after the test: {', '.join(actions)}")


def _fresh(cluster: C, request: pytest.FixtureRequest) -> Iterator[C]:
    label = f"fresh-{cluster.kind}:{request.node.name}"
    _fresh_clusters[label] = cluster
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        _fresh_clusters.pop(label, None)


@pytest.fixture
def fresh_zk_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ZkKafkaCluster]:
    """A private ZooKeeper-mode cluster for a test that needs a clean one (~10 s to start)."""
    yield from _fresh(ZkKafkaCluster(tmp_path / "zk-cluster"), request)


@pytest.fixture
def fresh_kraft_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[KraftCluster]:
    """A private KRaft cluster for a test that needs a clean one (~10 s to start)."""
    yield from _fresh(KraftCluster(tmp_path / "kraft-cluster"), request)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        used = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, KafkaCluster)]
        clusters = used or [*_session_clusters.values(), *_fresh_clusters.values()]
        for cluster in dict.fromkeys(clusters):
            if cluster.started:
                report.sections.append(
                    (
                        f"testcluster log tails: {cluster.kind} ({cluster.workdir})",
                        cluster.format_log_tails(40),
                    ),
                )
    return report


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: only called with workers
def pytest_testnodedown(node: Any, error: Any) -> None:
    figures = getattr(node, "workeroutput", {}).get("testcluster_figures")
    if figures:
        _worker_figures[node.gateway.id] = figures


def clusters_on_several_workers(figures: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Session clusters that more than one worker started: their group was split."""
    started: dict[str, list[str]] = {}
    for worker, worker_figures in sorted(figures.items()):
        for label in worker_figures["startup_seconds"]:
            if label in SESSION_CLUSTERS:
                started.setdefault(label, []).append(worker)
    return {label: workers for label, workers in started.items() if len(workers) > 1}


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        # A pytest-xdist worker hands its figures to the controller, which prints them.
        if _figures["startup_seconds"]:
            output["testcluster_figures"] = _figures
        return
    # The controller: a group spread over workers costs the suite its time budget silently
    # (a cluster's start and its tests' order), as pytest 9.2 with pytest-xdist 3.8 did.
    split = clusters_on_several_workers(_worker_figures)
    if split:
        _figures["split_groups"] = split
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    runs = dict(_worker_figures)
    if _figures["startup_seconds"]:
        runs["this process"] = _figures
    if not runs:
        return
    write = terminalreporter.write_line
    terminalreporter.section("testcluster figures")
    for worker, figures in sorted(runs.items()):
        if len(runs) > 1 or worker != "this process":
            write(f"-- {worker}")
        for label, seconds in figures["startup_seconds"].items():
            write(f"{label} cluster: start() to ready in {seconds:.1f}s")
        if "peak_rss_text" in figures:
            write(figures["peak_rss_text"])
    elapsed = round(time.monotonic() - _began, 1)
    write(f"integration session wall time: {elapsed:.1f}s")
    for label, workers in _figures.get("split_groups", {}).items():
        write(
            f"FAILED: the {label} session cluster started on {' and '.join(workers)}: its "
            "tests' xdist group was spread over workers (is pytest-xdist's loadgroup working "
            "with this pytest? pyproject.toml pins pytest below 9.2 for pytest-xdist#1386)",
            red=True,
        )
    path = os.environ.get("TESTCLUSTER_FIGURES")
    if path:
        out: dict[str, Any] = {
            worker: {k: v for k, v in figures.items() if k != "peak_rss_text"}
            for worker, figures in runs.items()
        }
        out["session_seconds"] = elapsed
        Path(path).write_text(json.dumps(out, indent=2) + "\n")
        write(f"figures written to {path}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A JSON webhook on loopback that records what the daemon sends."""
    r = Receiver()
    yield r
    r.close()
