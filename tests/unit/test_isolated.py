"""What crosses the Admin API worker's process boundary survives pickling unchanged."""

from __future__ import annotations

import pickle
from types import MappingProxyType

import kafka_watchdog.sources.isolated  # noqa: F401  (registers the read-only mapping reducer)
from kafka_watchdog.model.parts import ClusterDescription
from kafka_watchdog.model.snapshot import Broker, GroupState, frozen_map


def test_snapshot_parts_round_trip_with_their_read_only_mappings() -> None:
    group = GroupState(
        "billing",
        "Stable",
        2,
        "classic",
        frozen_map({("orders", 0): 42}),
        frozenset({("orders", 0)}),
    )
    description = ClusterDescription("id", 1, frozen_map({1: Broker(1, "h", 9092, "r1")}))
    for value in (group, description):
        again = pickle.loads(pickle.dumps(value))
        assert again == value
    assert isinstance(pickle.loads(pickle.dumps(group)).offsets, MappingProxyType)
