"""The alerting state on disk when things go wrong (issue 10, "A damaged state DB
crash-loops the daemon or stops all delivery silently"). Real SQLite files in a temp dir.
The full disk is reproduced on a real, small tmpfs: tests/integration/test_state_disk.py."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from kafka_watchdog.alerting.outbox import Outbox
from kafka_watchdog.alerting.service import STATE_LOST_RULE, AlertingService
from kafka_watchdog.alerting.store import AlertStore, StateDirInUse
from kafka_watchdog.config import load_config_text
from kafka_watchdog.model.state import ClusterBoard


def filled(state_dir: Path) -> None:
    store = AlertStore(state_dir)
    store.save({"alerts": [], "groups": {}}, [("chat", "apprise:0", {"title": "t"})], 1.0)
    store.close()


def test_01_a_random_file_is_moved_aside_and_state_starts_fresh(tmp_path: Path) -> None:
    (tmp_path / "alerting.sqlite").write_bytes(os.urandom(8192))
    store = AlertStore(tmp_path)
    assert store.lost is not None and "moved aside" in store.lost
    assert store.due(time.time()) == []  # a working, empty store
    aside = [p.name for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert aside, list(tmp_path.iterdir())
    store.close()


def test_02_a_truncated_database_is_moved_aside(tmp_path: Path) -> None:
    store = AlertStore(tmp_path)
    big = {"x": "y" * 200_000}  # several pages, so that truncation cuts into them
    store.save({"alerts": [big]}, [("chat", "apprise:0", big)], 1.0)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    path = tmp_path / "alerting.sqlite"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    fresh = AlertStore(tmp_path)
    assert fresh.lost is not None
    assert fresh.pending() == []
    fresh.close()


def test_03_one_bad_outbox_row_is_skipped_and_counted(tmp_path: Path) -> None:
    store = AlertStore(tmp_path)
    store.save({}, [("chat", "apprise:0", {"n": 1}), ("chat", "apprise:0", {"n": 2})], 1.0)
    store.save({}, [("pd", "pagerduty", {"n": 3})], 1.0)
    first = store.db.execute("SELECT MIN(id) FROM outbox").fetchone()[0]
    store.db.execute("UPDATE outbox SET payload = '{not json' WHERE id = ?", (first,))
    due = store.due(10.0)
    # The bad row no longer holds up its destination: its successor and the others go.
    assert sorted(p.payload["n"] for p in due) == [2, 3]
    assert store.skipped == 1
    store.close()


def test_04_a_bad_state_blob_is_skipped(tmp_path: Path) -> None:
    store = AlertStore(tmp_path)
    store.db.execute("INSERT INTO state (name, value) VALUES ('alerts', '[{truncated')")
    assert store.load("alerts") is None
    assert store.skipped == 1
    store.close()


def test_05_two_daemons_on_one_state_dir(tmp_path: Path) -> None:
    first = AlertStore(tmp_path)
    with pytest.raises(StateDirInUse) as info:
        AlertStore(tmp_path)
    assert "alerting.ha" in str(info.value) and f"pid {os.getpid()}" in str(info.value)
    first.close()
    AlertStore(tmp_path).close()  # free again once the first is gone


def test_06_a_deleted_state_file_is_reported(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "state")
    assert store.healthy() is None
    (tmp_path / "state" / "alerting.sqlite").unlink()
    assert "deleted" in (store.healthy() or "")
    store.close()


async def test_07_an_unusable_state_dir_still_pages_from_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    outbox = Outbox(blocker / "state")  # cannot be created under a file
    await outbox.open()
    assert outbox.error is not None and "memory" in outbox.error
    await outbox.save({"k": 1}, [("chat", "apprise:0", {"n": 1})], 1.0)
    assert len(await outbox.due(2.0)) == 1
    await outbox.close()


CONFIG = """\
clusters: [{name: prod, bootstrap_servers: 'k:9092'}]
alerting:
  state_dir: %s
  group_wait: 0s
  receivers: [{name: chat, severities: [warning], apprise: ['json://hooks.example.com/x']}]
"""


async def test_08_a_lost_state_raises_an_alert_and_is_on_the_status(tmp_path: Path) -> None:
    (tmp_path / "alerting.sqlite").write_bytes(b"garbage" * 1000)
    config = load_config_text(CONFIG % tmp_path, "c.yaml", {})
    service = AlertingService(ClusterBoard(), config.alerting)
    await service.start()
    try:
        now = time.time()
        await service.evaluate_once(now)
        await service.evaluate_once(now + 1)
        status = service.status.value
        assert status.state_lost is not None
        assert any(a.finding.rule == STATE_LOST_RULE for a in status.alerts)
        queued = await service.outbox.pending()
        assert [p.receiver for p in queued] == ["chat"]
        assert "damaged" in queued[0].payload["body"]
    finally:
        await service.close()


async def test_09_a_failed_write_still_pages_from_memory_and_only_once(tmp_path: Path) -> None:
    """A disk that refuses the write must not stop the page: the step's notification is
    queued in memory (at least once), its group is told in memory so the next evaluation
    does not queue it again, and the next write that succeeds saves the group as told
    without writing the notification a second time."""
    (tmp_path / "alerting.sqlite").write_bytes(b"garbage" * 1000)  # an alert to notify
    config = load_config_text(CONFIG % tmp_path, "c.yaml", {})
    service = AlertingService(ClusterBoard(), config.alerting)
    await service.start()
    store = service.outbox._store
    assert store is not None
    real = store.save

    def refuse(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    try:
        store.save = refuse  # type: ignore[method-assign]
        now = time.time()
        told = await service.evaluate_once(now)
        assert [n.status for n in told] == ["firing"]
        assert await service.evaluate_once(now + 1) == []
        await service.delivery.refresh_queue()
        status = service.status.value
        assert status.state_error is not None and "disk is full" in status.state_error
        assert status.state_write_failures >= 1
        assert [g.notified for g in service.evaluation.dispatcher.groups.values()] != [[]]
        assert sum(service.delivery.queued.values()) == 1  # in memory, not on disk
        assert await service.outbox.pending() == []
        store.save = real  # type: ignore[method-assign]
        await service.evaluate_once(now + 2)
        assert service.status.value.state_error is None
        assert await service.outbox.pending() == []
    finally:
        await service.close()
