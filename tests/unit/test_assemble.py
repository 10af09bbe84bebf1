"""assemble(): which source wins for each part, and what is recorded about it."""

from __future__ import annotations

import pytest

from kafka_watchdog.model.assemble import assemble
from kafka_watchdog.model.parts import (
    AdminView,
    ClusterDescription,
    Quorum,
    QuorumAnswer,
    Timed,
    TopicMetadata,
    ZkTopic,
    ZkView,
)
from kafka_watchdog.model.snapshot import (
    Broker,
    ClusterMode,
    GroupState,
    LeaderRecovery,
    PartitionState,
    TopicConfig,
    frozen_map,
)

NOW = 2000.0
BROKERS = frozen_map({i: Broker(i, "h", 9000 + i, rack=f"r{i}") for i in (1, 2, 3)})
ADMIN_P = PartitionState("t", 0, 1, (1, 2, 3), (1, 2, 3))
ZK_P = PartitionState(
    "t",
    0,
    2,
    (1, 2, 3),
    (2, 3),
    leader_epoch=7,
    leader_recovery=LeaderRecovery.RECOVERED,
    source_time=1999.5,
)


def admin(quorum: QuorumAnswer | None = None, **kw: object) -> AdminView:
    return AdminView(
        description=Timed(ClusterDescription("cid", 3, BROKERS), 1990.0),
        topics=Timed((TopicMetadata("t", (ADMIN_P,), False),), 1990.0),
        quorum=Timed(quorum, 1991.0) if quorum is not None else None,
        **kw,  # type: ignore[arg-type]
    )


def zk(controller: int | None = 1) -> ZkView:
    zk_brokers = frozen_map({i: Broker(i, "h", 9000 + i) for i in (1, 2, 3)})
    return ZkView(
        taken_at=1999.9,
        cluster_id="cid",
        brokers=zk_brokers,
        controller_id=controller,
        controller_epoch=4,
        controller_time=1000.0,
        topics=frozen_map(
            {"t": ZkTopic("t", "tid", (ZK_P,), frozen_map({"min.insync.replicas": "2"}))}
        ),
    )


def test_01_nothing_yet_means_no_snapshot() -> None:
    assert assemble("c", AdminView(), None, NOW) is None


def test_02_zookeeper_wins_for_partitions_brokers_controller() -> None:
    snap = assemble("c", admin(), zk(), NOW)
    assert snap is not None
    assert snap.partition("t", 0) == ZK_P
    assert snap.topics["t"].topic_id == "tid"
    assert (snap.controller_id, snap.controller_epoch, snap.mode) == (1, 4, ClusterMode.ZOOKEEPER)
    assert snap.brokers[2].rack == "r2"  # racks filled in from the Admin API
    assert snap.sources["partitions"] == ("zookeeper", 1999.9)
    assert snap.sources["brokers"] == ("zookeeper", 1999.9)


def test_03_admin_only_kraft_controller_comes_from_the_quorum() -> None:
    answer = QuorumAnswer(Quorum(3, 12, (1, 2, 3), ()), True, frozen_map({("t", 0): ((4,), ())}))
    snap = assemble("c", admin(answer), None, NOW)
    assert snap is not None
    assert (snap.controller_id, snap.controller_epoch, snap.mode) == (3, 12, ClusterMode.KRAFT)
    assert snap.sources["controller"] == ("quorum", 1991.0)
    p = snap.partition("t", 0)
    assert p is not None and p.adding_replicas == (4,) and p.replication_factor == 3 - 1


def test_03b_a_quorum_without_a_leader_has_no_controller_not_controller_minus_one() -> None:
    # DescribeQuorum during an election or after losing the majority: leader_id -1.
    snap = assemble("c", admin(QuorumAnswer(Quorum(-1, 13, (1, 2, 3), ()), True)), None, NOW)
    assert snap is not None
    assert (snap.controller_id, snap.controller_epoch, snap.mode) == (None, 13, ClusterMode.KRAFT)


def test_04_admin_only_zookeeper_mode_trusts_the_metadata_controller() -> None:
    snap = assemble("c", admin(QuorumAnswer(None, False)), None, NOW)
    assert snap is not None
    assert (snap.controller_id, snap.mode) == (3, ClusterMode.ZOOKEEPER)


@pytest.mark.parametrize("answer", [None, QuorumAnswer(None, None, reason="refused")])
def test_05_quorum_unknown_means_controller_unknown_never_a_guess(
    answer: QuorumAnswer | None,
) -> None:
    snap = assemble("c", admin(answer), None, NOW)
    assert snap is not None
    assert (snap.controller_id, snap.mode) == (None, ClusterMode.UNKNOWN)
    assert "controller" not in snap.sources


def test_06_offsets_groups_configs_come_from_the_admin_api() -> None:
    view = admin(
        offsets=Timed(frozen_map({("t", 0): (5, 105)}), 1995.0),
        groups=Timed(frozen_map({"g": GroupState("g", "Stable", 2)}), 1996.0),
        configs=Timed(frozen_map({"t": TopicConfig(2, False)}), 1997.0),
    )
    for zk_view in (zk(), None):
        snap = assemble("c", view, zk_view, NOW)
        assert snap is not None
        p = snap.partition("t", 0)
        assert p is not None and (p.log_start_offset, p.log_end_offset) == (5, 105)
        assert snap.groups["g"].members == 2
        assert snap.topics["t"].config == TopicConfig(2, False)
        assert snap.sources["offsets"] == ("admin", 1995.0)


def test_07_without_admin_configs_zookeeper_overrides_are_used() -> None:
    snap = assemble("c", admin(), zk(), NOW)
    assert snap is not None
    assert snap.topics["t"].config == TopicConfig(min_insync_replicas=2)
