"""Parsing the znodes Kafka 3.x writes (formats from KAFKA_NOTES.md), malformed data included."""

from __future__ import annotations

import pytest

from kafka_watchdog.model.snapshot import Broker, LeaderRecovery
from kafka_watchdog.sources.zkmirror import (
    parse_assignment,
    parse_broker,
    parse_controller,
    parse_state,
)


def test_01_partition_state() -> None:
    state = parse_state(
        b'{"version":1,"leader":1,"leader_epoch":3,"controller_epoch":2,"isr":[1,2,3]}', 5.0
    )
    assert (state.leader, state.leader_epoch, state.isr) == (1, 3, (1, 2, 3))
    assert state.recovery is LeaderRecovery.RECOVERED and state.mtime == 5.0


def test_02_state_after_unclean_election_is_recovering() -> None:
    state = parse_state(
        b'{"version":1,"leader":2,"leader_epoch":4,"controller_epoch":2,"isr":[2],'
        b'"leader_recovery_state":1}',
        0.0,
    )
    assert state.recovery is LeaderRecovery.RECOVERING


def test_03_offline_partition() -> None:
    assert parse_state(b'{"leader":-1,"leader_epoch":9,"isr":[3]}', 0.0).leader == -1


def test_04_broker_registration_with_and_without_host() -> None:
    data = b'{"version":5,"host":"h1","port":9092,"endpoints":["PLAINTEXT://h1:9092"],"rack":"r1"}'
    assert parse_broker(1, data) == Broker(1, "h1", 9092, "r1")
    named = b'{"version":5,"host":null,"port":-1,"endpoints":["INTERNAL://10.0.0.1:9093"]}'
    assert parse_broker(2, named) == Broker(2, "10.0.0.1", 9093, None)


def test_05_topic_assignment_with_reassignment() -> None:
    a = parse_assignment(
        b'{"version":3,"partitions":{"0":[1,2,3],"1":[2,3,4]},"adding_replicas":{"1":[4]},'
        b'"removing_replicas":{"1":[1]},"topic_id":"abc"}'
    )
    assert a.replicas == {0: (1, 2, 3), 1: (2, 3, 4)}
    assert (a.adding, a.removing, a.topic_id) == ({1: (4,)}, {1: (1,)}, "abc")


def test_06_controller() -> None:
    assert parse_controller(b'{"version":2,"brokerid":3,"timestamp":"1"}') == 3
    assert parse_controller(None) is None


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'{"leader":"x","leader_epoch":1,"isr":[]}',
        b'{"leader":1}',
        b'{"leader":1,"leader_epoch":1,"isr":"1,2"}',
        b"\xff\xfe",
        b"[]",
    ],
)
def test_07_malformed_state_raises_a_parse_error_the_mirror_reports(data: bytes) -> None:
    with pytest.raises((ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError)):
        parse_state(data, 0.0)
