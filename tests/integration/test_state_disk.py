"""The alerting state on a real disk that fills up, a damaged state file, and two daemons
on one state_dir, each with the real `kafka-watchdog run` (issue 10, "High: the alert
state"). No Kafka is needed: the watched cluster is a closed port, so the built-in
cluster_unseen rule fires, which is the alert these tests follow.

The full disk is a real tmpfs of 1 MiB that the test mounts (root) and unmounts."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.daemon import Daemon, free_port
from tests.integration.loopback import Receiver

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs: needs root")


def wait(predicate: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "1m") -> Iterator[Path]:
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path) -> Path:
    """Write until the file system says it is full (ENOSPC)."""
    filler = path / "filler"
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def config(state_dir: Path, receiver: Receiver, unseen_for: str = "10s") -> dict[str, Any]:
    return {
        "clusters": [{"name": "gone", "bootstrap_servers": f"127.0.0.1:{free_port()}"}],
        "collection": {"request_timeout": "2s"},
        "alerting": {
            "state_dir": str(state_dir),
            "evaluation_interval": "1s",
            "group_wait": "0s",
            "rules": {"cluster_unseen": {"for": unseen_for}},
            "receivers": [
                {
                    "name": "chat",
                    "severities": ["critical", "warning"],
                    "apprise": [f"json://127.0.0.1:{receiver.port}/chat"],
                }
            ],
        },
    }


def metric(daemon: Daemon, name: str) -> float | None:
    _, body = daemon.get("/metrics")
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_full_state_disk_does_not_stop_the_page_nor_page_twice(
    tmp_path: Path, receiver: Receiver
) -> None:
    with small_tmpfs(tmp_path / "disk") as disk:
        state = disk / "state"
        with Daemon(tmp_path, config(state, receiver, unseen_for="15s")) as daemon:
            daemon.wait(
                lambda: (metric(daemon, "kafka_watchdog_alert_evaluations_total") or 0) > 0,
                "the first evaluation",
            )
            filler = fill(disk)
            # The alert fires while the disk is full: its notification cannot be written,
            # and it is paged from memory all the same; the failure is visible.
            told = wait(lambda: receiver.at("/chat"), "the page while the disk is full")
            assert "gone" in told[0]["title"] or "gone" in told[0]["message"]
            assert metric(daemon, "kafka_watchdog_alerting_state_healthy") == 0
            status, body = daemon.get("/readyz")
            assert status == 503
            assert "disk is full" in json.loads(body)["alerting"]["state"], body
            assert (metric(daemon, "kafka_watchdog_alerting_state_write_failures_total") or 0) > 0
            firing = [a for a in json.loads(daemon.get("/api/alerts")[1]) if a["state"] == "firing"]
            assert [a["finding"]["rule"] for a in firing] == ["cluster_unseen"]
            # Space comes back: the group is saved as told, so it is not paged again.
            filler.unlink()
            daemon.wait(
                lambda: metric(daemon, "kafka_watchdog_alerting_state_healthy") == 1,
                "the state to be healthy again",
            )
            done = metric(daemon, "kafka_watchdog_alert_evaluations_total") or 0
            daemon.wait(
                lambda: (metric(daemon, "kafka_watchdog_alert_evaluations_total") or 0) >= done + 3,
                "three more evaluations",
            )
            assert len(receiver.at("/chat")) == 1, receiver.at("/chat")
            assert daemon.terminate() == 0
        # The daemon restarted on the saved state does not page the open incident again.
        with Daemon(tmp_path, config(state, receiver, unseen_for="15s")) as again:
            again.wait(
                lambda: (metric(again, "kafka_watchdog_alert_evaluations_total") or 0) >= 3,
                "three evaluations after the restart",
            )
            assert len(receiver.at("/chat")) == 1, receiver.at("/chat")
            assert again.terminate() == 0


def test_a_damaged_state_file_is_set_aside_and_the_daemon_runs(
    tmp_path: Path, receiver: Receiver
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "alerting.sqlite").write_bytes(os.urandom(64 * 1024))
    with Daemon(tmp_path, config(state, receiver, unseen_for="1h")) as daemon:
        daemon.wait(
            lambda: metric(daemon, "kafka_watchdog_alerting_state_lost") == 1, "the daemon up"
        )
        assert "alerting state lost" in daemon.log() and "moved aside" in daemon.log()
        assert "Traceback" not in daemon.log()
        assert [p for p in state.iterdir() if ".damaged-" in p.name]
        told = wait(lambda: receiver.at("/chat"), "the state-lost alert")
        assert "damaged" in told[0]["message"]
        assert daemon.terminate() == 0


def test_two_daemons_on_one_state_dir_do_not_both_page(tmp_path: Path, receiver: Receiver) -> None:
    state = tmp_path / "state"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with Daemon(tmp_path / "a", config(state, receiver, unseen_for="1h")) as first:
        first.wait(lambda: first.get("/healthz")[0] == 200, "the first daemon")
        with Daemon(tmp_path / "b", config(state, receiver, unseen_for="1h")) as second:
            assert second.proc is not None
            assert second.proc.wait(60) == 2
            log = second.log()
            assert "is in use by kafka-watchdog pid" in log and "alerting.ha" in log, log
            assert "Traceback" not in log
        assert first.terminate() == 0
