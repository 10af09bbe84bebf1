"""How `make test` spreads the integration suite over pytest-xdist workers
(tests/integration/conftest.py): a session cluster starting on two workers fails the run."""

from __future__ import annotations

from tests.integration.conftest import clusters_on_several_workers
from tools.test_workers import workers


def test_a_session_cluster_started_by_two_workers_is_named() -> None:
    figures = {
        "gw0": {"startup_seconds": {"zk": 7.0, "kraft": 8.0}},
        "gw1": {"startup_seconds": {"kraft": 9.0, "secure": 12.0}},
    }
    assert clusters_on_several_workers(figures) == {"kraft": ["gw0", "gw1"]}


def test_fresh_clusters_and_one_worker_per_session_cluster_are_fine() -> None:
    figures = {
        "gw0": {"startup_seconds": {"zk": 7.0}},
        "gw1": {"startup_seconds": {"kraft": 9.0, "secure": 12.0}},
    }
    assert clusters_on_several_workers(figures) == {}


def test_two_workers_only_with_a_core_to_spare() -> None:
    assert workers(idle=1.9, cores=2) == 2
    assert workers(idle=0.4, cores=2) == 0  # a CPU hog on both cores: one process
    assert workers(idle=1.0, cores=1) == 0  # one core: never two workers
