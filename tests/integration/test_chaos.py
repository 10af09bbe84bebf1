"""The chaos suite: real faults on both cluster kinds, a restart of the watchdog in the
middle of each, and the invariants of tests/integration/chaos.py checked after every fault
and after healing, on what an operator sees (pages, /api/alerts, /metrics), against
Kafka's own tools.

One run per cluster kind on the session cluster (shared with the rest of the suite: no
cluster of its own), its faults in sequence, each healed before the next:
- ZooKeeper mode: the coordinator of some groups (also a partition leader) SIGKILLed, the
  watchdog restarted at once (while its groups are unlisted); the controller SIGKILLed; two
  followers SIGSTOPped at once; the ZooKeeper leader SIGSTOPped alone (a new one elected);
  a ZooKeeper follower, then the ZooKeeper leader killed (quorum lost: the Admin API path
  must go on).
- KRaft: the coordinator of some groups (also a leader) SIGSTOPped, the watchdog restarted
  at once; the active controller SIGKILLed; two followers SIGSTOPped (the quorum loses its
  majority while the active controller lives); the active controller and another node
  SIGKILLed (the controller majority lost).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testcluster import KafkaCluster, KraftCluster, ZkKafkaCluster
from tests.integration.chaos import (
    Chaos,
    Dropouts,
    coordinator_and_leader,
    fault,
    in_parallel,
    wait,
)

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


@pytest.fixture
def zk_run(zk_cluster: ZkKafkaCluster, tmp_path: Path) -> Iterator[Chaos]:
    yield from _run(zk_cluster, tmp_path)


@pytest.fixture
def kraft_run(kraft_cluster: KraftCluster, tmp_path: Path) -> Iterator[Chaos]:
    yield from _run(kraft_cluster, tmp_path)


def _run(cluster: KafkaCluster, tmp_path: Path) -> Iterator[Chaos]:
    run = Chaos(cluster, tmp_path)
    try:
        run.setup()
        yield run
    finally:
        run.close()
        (tmp_path / "chaos.log").write_text("\n".join(run.log) + "\n")
        print("\n".join(run.log))


def test_chaos_zookeeper_mode(zk_run: Chaos) -> None:
    run = zk_run
    cluster = run.cluster
    assert isinstance(cluster, ZkKafkaCluster)

    victim = coordinator_and_leader(run, exclude=cluster.controller_id())
    fault(
        run,
        "coordinator and leader killed, watchdog restarted at once",
        [victim],
        cluster.broker(victim).kill,
        restart_at_once=True,
    )

    controller = cluster.controller_id()
    led = run.led_by(controller)
    run.note(f"controller {controller} leads partitions {led}")
    fault(
        run,
        "controller (and leader) killed",
        [controller],
        cluster.broker(controller).kill,
        before_restart=lambda: run.wait_leader_changes(len(led)),
    )

    survivor = cluster.controller_id()
    paused = [b for b in cluster.broker_ids if b != survivor]
    fault(
        run,
        "two followers paused at once",
        paused,
        lambda: [cluster.broker(b).pause() for b in paused],
    )

    # ZooKeeper: its leader paused alone. The other two elect a new leader and keep the
    # quorum; every server drops its clients meanwhile, so the brokers' and the watchdog's
    # sessions move (a broker's may even expire on a busy machine: it may rightly go and
    # come back). The Admin API and TopicCommand answer throughout; the watchdog restarted
    # with a frozen server in its connect string must find a live one.
    zk_leader = cluster.zk_node("leader")
    run.explain_zookeeper_fault()
    paused_at = time.time()

    def zookeeper_moved_on() -> bool:
        moved = any(m == "leader" for i, m in cluster.zk_modes().items() if i != zk_leader)
        connected = run.scraper.value("kafka_watchdog_zookeeper_session_state", state="CONNECTED")
        return moved and connected == 1 and run.collected_since(paused_at)

    fault(
        run,
        "ZooKeeper leader paused: the other two elect a new one",
        [],
        cluster.zookeeper(zk_leader).pause,
        seen=zookeeper_moved_on,
        blinds=False,
    )

    # ZooKeeper: a follower, then the leader as well (the quorum is lost).
    leader, follower = cluster.zk_node("leader"), cluster.zk_node("follower")
    cluster.zookeeper(follower).kill()
    run.note(f"ZooKeeper follower {follower} killed")
    # The watchdog's session moves to a live server if it was on that one: still connected.
    wait(lambda: run.scraper.value("kafka_watchdog_zookeeper_session_state", state="CONNECTED"),
         "the ZooKeeper session to stay or come back connected")  # fmt: skip
    lost_at = time.time()

    def admin_goes_on() -> None:
        # No ZooKeeper session, but a fresh view from the Admin API, after the loss.
        assert run.scraper.value("kafka_watchdog_up", kafka_cluster=run.name) == 1
        wait(
            lambda: run.collected_since(lost_at), "a metadata collection after the quorum was lost"
        )
        assert not run.scraper.value("kafka_watchdog_zookeeper_session_state", state="CONNECTED")

    fault(
        run,
        "ZooKeeper leader killed too: quorum lost",
        [],
        cluster.zookeeper(leader).kill,
        seen=lambda: run.firing("zookeeper_session_lost"),
        during=admin_goes_on,
        oracle=False,
    )
    run.check_stopped_groups_still_hold()


def test_chaos_kraft(kraft_run: Chaos) -> None:
    run = kraft_run
    cluster = run.cluster
    assert isinstance(cluster, KraftCluster)

    active = cluster.controller_id()
    victim = coordinator_and_leader(run, exclude=active)
    fault(
        run,
        "coordinator and leader paused, watchdog restarted at once",
        [victim],
        cluster.broker(victim).pause,
        restart_at_once=True,
    )

    active = cluster.controller_id()
    led = run.led_by(active)
    run.note(f"active controller {active} leads partitions {led}")
    fault(
        run,
        "active controller (and leader) killed",
        [active],
        cluster.broker(active).kill,
        before_restart=lambda: run.wait_leader_changes(len(led)),
    )

    active = cluster.controller_id()
    paused = [b for b in cluster.broker_ids if b != active]
    run.explain("controller_missing")
    # Without a controller majority nothing commits: the live node's metadata stands still
    # and TopicCommand cannot answer (it waits on the controller), so no oracle while it
    # holds; nothing may resolve, and the daemon must say what it cannot see.
    began = time.time()
    fault(
        run,
        "two followers paused: the quorum loses its majority under a live controller",
        paused,
        lambda: [cluster.broker(b).pause() for b in paused],
        seen=lambda: run.scraper.blind_since(began),
        oracle=False,
    )

    active = cluster.controller_id()
    killed = [active, next(b for b in cluster.broker_ids if b != active)]
    began = time.time()
    fault(
        run,
        "the active controller and one more killed: the controller majority lost",
        killed,
        lambda: [cluster.broker(b).kill() for b in killed],
        seen=lambda: run.scraper.blind_since(began),
        oracle=False,
    )
    run.check_stopped_groups_still_hold()


def test_oracles_agree_at_rest(zk_run: Chaos) -> None:
    """The harness itself: at rest, TopicCommand and the daemon agree that nothing is under
    replicated, and the only incidents are the stopped groups' (which the run set up)."""
    truth, _ = in_parallel(zk_run.truth, zk_run.check_stopped_groups_still_hold)
    assert all(not t.under_replicated for t in truth.values())
    assert not zk_run.open_incidents()


def test_dropouts_are_the_brokers_the_cluster_itself_lost(fresh_zk_cluster: ZkKafkaCluster) -> None:
    """The harness's ground truth for brokers that go without a fault (a ZooKeeper session
    lost beside a CPU hog): the brokers registered as the watch starts are not dropouts,
    and a SIGKILLed broker's registration vanishes once its session expires and is named.
    (Another broker may rightly drop out meanwhile on a busy machine: not asserted.) On a
    private cluster: in x8 the session cluster's next test met the broker restarted after
    this kill not following a topic created right after the heal (not yet understood)."""
    cluster = fresh_zk_cluster
    dropouts = Dropouts(cluster)
    try:
        assert dropouts.take() == set()
        victim = cluster.broker_ids[-1]
        cluster.broker(victim).kill()
        seen: set[int] = set()
        wait(
            lambda: seen.update(dropouts.take()) or victim in seen,
            lambda: f"broker {victim}'s registration to vanish (seen {sorted(seen)})",
            60,
        )
    finally:
        dropouts.close()
