"""How `make test` spreads the integration suite over pytest-xdist workers
(tests/integration/conftest.py): a session cluster starting on two workers fails the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.conftest import clusters_on_several_workers
from tests.integration.grouping import by_group, clusters_used, last_users, worker_group
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


@dataclass
class _CallSpec:
    params: dict[str, Any]


@dataclass
class _Item:
    """The parts of a pytest.Item that grouping.py reads."""

    nodeid: str
    fixturenames: list[str] = field(default_factory=list)
    params: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.params is not None:
            self.callspec = _CallSpec(self.params)

    @property
    def path(self) -> Path:
        return Path("tests/integration") / (self.nodeid.split("::")[0])


def _run() -> list[_Item]:
    """A collection shaped like the suite's: clusters by fixture, by indirect parameter
    (test_watch's modes), and tests with fresh clusters only."""
    return [
        _Item("test_a.py::direct_zk", ["zk_cluster"]),
        _Item("test_a.py::mode[zk-watches]", ["cluster", "mode"], {"mode": "zk-watches"}),
        _Item("test_a.py::mode[kraft]", ["cluster", "mode"], {"mode": "kraft"}),
        _Item("test_b.py::fresh_only", ["fresh_kraft_cluster"]),
        _Item("test_c.py::secure", ["secure_cluster"]),
        _Item("test_c.py::kit_step_1", ["kraft_cluster"]),
        _Item("test_c.py::kit_step_2", ["kraft_cluster"]),
        _Item("test_d.py::zk_again", ["zk_cluster"]),
    ]


def test_a_test_is_grouped_by_the_first_session_cluster_it_uses_else_its_module() -> None:
    items = {item.nodeid: item for item in _run()}
    assert worker_group(items["test_a.py::mode[zk-watches]"]) == "zk"
    assert worker_group(items["test_a.py::mode[kraft]"]) == "kraft"
    assert worker_group(items["test_b.py::fresh_only"]) == "test_b"  # fresh_ is not kraft_
    both = _Item("test_e.py::both", ["kraft_cluster", "zk_cluster"])
    assert clusters_used(both) == ["zk", "kraft"]
    assert worker_group(both) == "zk"


def test_groups_run_together_in_order_of_first_appearance_keeping_collection_order() -> None:
    items = _run()
    by_group(items)
    assert [item.nodeid for item in items] == [
        "test_a.py::direct_zk",
        "test_a.py::mode[zk-watches]",
        "test_d.py::zk_again",
        "test_a.py::mode[kraft]",
        "test_c.py::kit_step_1",  # the numbered steps keep their order
        "test_c.py::kit_step_2",
        "test_b.py::fresh_only",
        "test_c.py::secure",
    ]


def test_each_session_cluster_stops_after_the_last_test_that_uses_it() -> None:
    items = _run()
    by_group(items)
    last = last_users(items)
    assert last == {
        "zk": "test_d.py::zk_again",
        "kraft": "test_c.py::kit_step_2",
        "secure": "test_c.py::secure",
    }
    # Whatever the order, no test runs after the last user of a cluster it uses.
    for position, item in enumerate(items):
        for label in clusters_used(item):
            stop_at = [i.nodeid for i in items].index(last[label])
            assert position <= stop_at
    # A test that uses two clusters holds both until it is done.
    both = [*items, _Item("test_e.py::both", ["kraft_cluster", "zk_cluster"])]
    assert last_users(both)["zk"] == last_users(both)["kraft"] == "test_e.py::both"
