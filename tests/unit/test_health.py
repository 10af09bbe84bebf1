"""Readiness from source health: numbered cases, time passed in."""

from __future__ import annotations

from kafka_watchdog.model.health import ClusterHealth

STALE = 30.0


def test_01_no_collection_yet_is_not_ready() -> None:
    health = ClusterHealth("p")
    assert health.ready(100.0, STALE) == (
        False,
        "no view of the cluster yet: no collection has finished yet",
    )


def test_02_first_failure_reason_is_reported() -> None:
    health = ClusterHealth("p")
    health = health.with_stage(health.admin.failed(100.0, 101.0, "cannot reach cluster 'p'"))
    ready, why = health.ready(101.0, STALE)
    assert not ready and "cannot reach cluster 'p'" in why
    assert health.admin.errors_total == 1 and health.admin.consecutive_failures == 1


def test_03_fresh_success_is_ready_until_stale() -> None:
    health = ClusterHealth("p")
    health = health.with_stage(health.admin.succeeded(100.0, 100.5))
    assert health.ready(130.5, STALE)[0]
    ready, why = health.ready(131.0, STALE)
    assert not ready and why.startswith("view is 30s old (stale after 30s)")


def test_04_failures_after_success_keep_the_last_view_until_stale() -> None:
    health = ClusterHealth("p")
    health = health.with_stage(health.admin.succeeded(100.0, 100.0))
    health = health.with_stage(health.admin.failed(110.0, 111.0, "timeout"))
    assert health.ready(120.0, STALE)[0]
    ready, why = health.ready(200.0, STALE)
    assert not ready and why.endswith("last error: timeout")


def test_05_recovery_resets_consecutive_failures() -> None:
    health = ClusterHealth("p")
    health = health.with_stage(health.admin.failed(1.0, 2.0, "x"))
    health = health.with_stage(health.admin.failed(3.0, 4.0, "x"))
    health = health.with_stage(health.admin.succeeded(5.0, 6.0))
    assert health.admin.consecutive_failures == 0 and health.admin.errors_total == 2
    assert health.admin.attempts_total == 3 and health.admin.last_error is None
