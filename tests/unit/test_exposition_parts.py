"""A cluster's bulk is built in parts (cluster, groups, foresight, disks), and a new version
rebuilds only the parts whose inputs changed; what is served is always what a renderer
built from scratch would serve."""

from __future__ import annotations

import dataclasses

from bench.synthetic import populated_watcher
from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.model.snapshot import frozen_map
from kafka_watchdog.model.state import ClusterBoard, ClusterState
from kafka_watchdog.sinks.metrics import MetricsRenderer


def _bulk(state: ClusterState, renderer: MetricsRenderer | None = None) -> bytes:
    """The bulk of `state` from `renderer` (published on its board), or from a new one."""
    if renderer is None:
        renderer = MetricsRenderer(ClusterBoard([state]), MetricsConfig(), process_registry=None)
    else:
        renderer.board.publish(state)
    return renderer.exposition(now=0.0).split(b"# HELP kafka_watchdog_build_info")[0]


def test_a_version_that_changed_one_input_rebuilds_only_its_part() -> None:
    state = populated_watcher(200, 10).state
    renderer = MetricsRenderer(ClusterBoard([state]), MetricsConfig(), process_registry=None)
    first = renderer.cluster_families(state)
    assert len(first) == 4  # cluster, groups, foresight, disks

    skipped = dataclasses.replace(
        state, version=state.version + 1, records_skipped=frozen_map({("g", "t"): 7})
    )
    second = renderer.cluster_families(skipped)
    assert [a is b for a, b in zip(first, second, strict=True)] == [True, True, False, True]
    assert _bulk(skipped, renderer) == _bulk(skipped)
    assert b'consumergroup_records_skipped_total{kafka_cluster="bench",group="g",topic="t"} 7' in (
        _bulk(skipped)
    )


def test_a_value_compared_by_equality_rebuilds_its_part_too() -> None:
    state = populated_watcher(200, 10).state
    assert state.snapshot is not None and state.snapshot.controller_id is not None
    renderer = MetricsRenderer(ClusterBoard([state]), MetricsConfig(), process_registry=None)
    first = renderer.cluster_families(state)
    # The controller became unknown: the same snapshot, a new Unknowns with a value set.
    blind = dataclasses.replace(
        state,
        version=state.version + 1,
        unknown=dataclasses.replace(state.unknown, controller=1.0),
    )
    second = renderer.cluster_families(blind)
    assert [a is b for a, b in zip(first, second, strict=True)] == [False, True, True, True]
    assert b"kafka_watchdog_controller_id{" in _bulk(state)
    assert b"kafka_watchdog_controller_id{" not in _bulk(blind, renderer)
    assert _bulk(blind, renderer) == _bulk(blind)


def test_the_same_version_is_served_from_the_cache_and_no_view_has_no_parts() -> None:
    state = populated_watcher(200, 10).state
    renderer = MetricsRenderer(ClusterBoard([state]), MetricsConfig(), process_registry=None)
    assert renderer.cluster_families(state) is renderer.cluster_families(state)
    empty = dataclasses.replace(state, version=state.version + 1, snapshot=None)
    assert renderer.cluster_families(empty) == []
    again = dataclasses.replace(state, version=state.version + 2)
    assert _bulk(again, renderer) == _bulk(again)
