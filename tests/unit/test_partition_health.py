"""Partition states with TopicCommand's definitions: numbered cases."""

from __future__ import annotations

import pytest

from kafka_watchdog.detection.hazards import topic_hazards
from kafka_watchdog.detection.partition_health import PartitionHealth, classify
from kafka_watchdog.model.snapshot import PartitionState, TopicConfig, TopicState

LIVE = {1, 2, 3}
MIN2 = TopicConfig(min_insync_replicas=2)


def p(
    leader: int,
    isr: tuple[int, ...],
    replicas: tuple[int, ...] = (1, 2, 3),
    adding: tuple[int, ...] = (),
) -> PartitionState:
    return PartitionState("t", 0, leader, replicas, isr, adding_replicas=adding)


# (case, partition, config, live brokers, expected
#  (under_replicated, under_min_isr, at_min_isr, unavailable, offline, preferred))
CASES = [
    ("01 healthy", p(1, (1, 2, 3)), MIN2, LIVE, (False, False, False, False, False, True)),
    (
        "02 one follower out: under-replicated, at min ISR",
        p(1, (1, 2)),
        MIN2,
        LIVE,
        (True, False, True, False, False, True),
    ),
    (
        "03 two out: under min ISR (acks=all producers fail)",
        p(2, (2,)),
        MIN2,
        LIVE,
        (True, True, False, False, False, False),
    ),
    (
        "04 no leader: offline, unavailable and under min ISR",
        p(-1, (3,)),
        MIN2,
        LIVE,
        (True, True, False, True, True, False),
    ),
    (
        "05 leader is not a live broker (metadata lag): unavailable, not offline",
        p(3, (3,)),
        MIN2,
        {1, 2},
        (True, True, False, True, False, False),
    ),
    (
        "06 min ISR unknown: only the no-leader rule applies",
        p(1, (1,)),
        TopicConfig(),
        LIVE,
        (True, False, False, False, False, True),
    ),
    (
        "07 reassignment adding a 4th replica: factor is 3, ISR 3 is fine",
        p(1, (1, 2, 3), replicas=(1, 2, 3, 4), adding=(4,)),
        MIN2,
        LIVE,
        (False, False, False, False, False, True),
    ),
    (
        "08 replication factor 1 with min ISR 1: at min ISR",
        p(1, (1,), replicas=(1,)),
        TopicConfig(min_insync_replicas=1),
        LIVE,
        (False, False, True, False, False, True),
    ),
]


@pytest.mark.parametrize(
    ("case", "part", "config", "live", "expected"), CASES, ids=[c[0][:2] for c in CASES]
)
def test_classify(
    case: str, part: PartitionState, config: TopicConfig, live: set[int], expected: tuple[bool, ...]
) -> None:
    assert classify(part, config, live) == PartitionHealth(*expected), case


def topic(rf: int, config: TopicConfig) -> TopicState:
    replicas = tuple(range(1, rf + 1))
    return TopicState("t", (PartitionState("t", 0, 1, replicas, replicas),), config=config)


HAZARD_CASES = [
    ("09 safe: rf 3, min ISR 2, clean elections", 3, TopicConfig(2, False), []),
    ("10 unclean elections enabled", 3, TopicConfig(2, True), ["unclean_leader_election_enabled"]),
    (
        "11 min ISR 1 with rf 3",
        3,
        TopicConfig(1, False),
        ["min_insync_replicas_1_with_replication_factor_3_or_more"],
    ),
    (
        "12 min ISR above rf: acks=all can never succeed",
        2,
        TopicConfig(3, False),
        ["min_insync_replicas_above_replication_factor"],
    ),
    ("13 rf 1 below the floor of 2", 1, TopicConfig(1, False), ["replication_factor_below_floor"]),
    ("14 configs unknown yet: no claim", 3, TopicConfig(), []),
]


@pytest.mark.parametrize(
    ("case", "rf", "config", "expected"), HAZARD_CASES, ids=[c[0][:2] for c in HAZARD_CASES]
)
def test_hazards(case: str, rf: int, config: TopicConfig, expected: list[str]) -> None:
    assert topic_hazards(topic(rf, config), min_replication_factor=2) == expected, case
