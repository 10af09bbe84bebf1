"""The Admin API worker process (sources/isolated.py) on a real cluster: one lean child per
cluster, no multiprocessing resource tracker, gone when the daemon is killed, replaced when
it dies."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from kafka_watchdog.sources.isolated import WORKER_MODULE
from tests.integration.daemon import Daemon

pytestmark = pytest.mark.integration


def children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def workers(pid: int) -> list[psutil.Process]:
    found = []
    for child in children(pid):
        try:
            if WORKER_MODULE in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def gone(proc: psutil.Process) -> bool:
    """Exited (a zombie left for init to reap counts: it holds no memory)."""
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(predicate: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def config(cluster: Any) -> dict[str, Any]:
    return {
        "collection": {"metadata_interval": "1s", "request_timeout": "3s"},
        "clusters": [{"name": "kraft", "bootstrap_servers": cluster.bootstrap_servers}],
    }


def test_a_killed_daemon_leaves_no_worker_behind(tmp_path: Path, kraft_cluster: Any) -> None:
    with Daemon(tmp_path, config(kraft_cluster)) as daemon:
        assert daemon.proc is not None
        pid = daemon.proc.pid
        daemon.wait(lambda: daemon.clusters()["kraft"]["ready"], "a view of the cluster")
        wait_until(lambda: len(workers(pid)) == 1, "the Admin API worker")
        # The worker is the daemon's only child: no resource tracker, no second worker.
        kids = children(pid)
        assert [p.pid for p in kids] == [p.pid for p in workers(pid)], [p.cmdline() for p in kids]
        worker = workers(pid)[0]
        os.kill(pid, signal.SIGKILL)
        daemon.proc.wait(30)
        wait_until(lambda: gone(worker), f"worker {worker.pid} to die with the daemon", 30)


def test_a_dead_worker_is_replaced_and_the_next_cycle_answers(
    tmp_path: Path, kraft_cluster: Any
) -> None:
    with Daemon(tmp_path, config(kraft_cluster)) as daemon:
        assert daemon.proc is not None
        pid = daemon.proc.pid
        daemon.wait(lambda: daemon.clusters()["kraft"]["ready"], "a view of the cluster")
        wait_until(lambda: len(workers(pid)) == 1, "the Admin API worker")
        first = workers(pid)[0]
        killed_at = time.time()
        first.send_signal(signal.SIGABRT)  # what librdkafka's assertion does to it
        wait_until(lambda: any(w.pid != first.pid for w in workers(pid)), "a new worker", 60)

        def metadata_after_restart() -> bool:
            metadata = daemon.clusters()["kraft"]["stages"]["metadata"]
            return bool(metadata["last_success"] and metadata["last_success"] > killed_at)

        daemon.wait(metadata_after_restart, "a metadata cycle after the restart", 60)
        daemon.wait(lambda: "SIGABRT" in daemon.log(), "the worker's death in the log", 30)
        assert daemon.clusters()["kraft"]["ready"]
        assert daemon.terminate() == 0
        wait_until(lambda: not workers(pid), "the worker to stop with the daemon", 30)
