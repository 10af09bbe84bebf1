"""The harness itself against real clusters: the failures the watchdog must see do happen,
and Kafka's own tools agree with what the Admin API reports."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import psutil
import pytest
from confluent_kafka import TopicCollection
from kazoo.client import KazooClient

from testcluster import (
    KafkaCluster,
    KraftCluster,
    RateConsumer,
    RateProducer,
    ZkKafkaCluster,
    wait_for,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["zk", "kraft"])
def cluster(request: pytest.FixtureRequest) -> KafkaCluster:
    """Each test below runs against the ZooKeeper-mode and the KRaft session cluster."""
    found: KafkaCluster = request.getfixturevalue(f"{request.param}_cluster")
    return found


def new_topic(cluster: KafkaCluster, partitions: int = 1) -> str:
    name = f"harness-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(name, partitions=partitions, rf=3)
    return name


def quiet_follower(cluster: KafkaCluster, topic: str) -> int:
    """A follower of partition 0 that is not the controller: pausing it then moves no
    controllership, which would only slow the test down."""
    leader = cluster.leader_of(topic, 0)
    controller = cluster.controller_id()
    followers = [b for b in cluster.replicas_of(topic, 0) if b != leader]
    return next((b for b in followers if b != controller), followers[0])


def described_isr(cluster: KafkaCluster, topic: str, partition: int = 0) -> list[int]:
    """The ISR through DescribeTopics, a second Admin API path next to Metadata."""
    futures = cluster.admin.describe_topics(TopicCollection([topic]), request_timeout=5)
    description = futures[topic].result()
    return sorted(node.id for node in description.partitions[partition].isr)


def test_paused_follower_leaves_the_isr_and_rejoins_after_resume(cluster: KafkaCluster) -> None:
    topic = new_topic(cluster, partitions=2)
    replicas = sorted(cluster.replicas_of(topic, 0))
    leader = cluster.leader_of(topic, 0)
    follower = quiet_follower(cluster, topic)

    cluster.broker(follower).pause()
    cluster.wait_for(
        lambda: follower not in cluster.isr_of(topic, 0),
        30,
        f"broker {follower} to leave the ISR of {topic}-0",
    )
    assert cluster.leader_of(topic, 0) == leader
    cluster.wait_for(lambda: follower not in described_isr(cluster, topic), 15, "DescribeTopics")

    cluster.broker(follower).resume()
    cluster.wait_for(
        lambda: cluster.isr_of(topic, 0) == replicas,
        60,
        f"broker {follower} to rejoin the ISR of {topic}-0",
    )
    # Each broker updates its own metadata cache: the broker that answers DescribeTopics may
    # learn of the rejoin a moment after the one that answered Metadata (seen under load).
    cluster.wait_for(lambda: described_isr(cluster, topic) == replicas, 15, "DescribeTopics")


def test_a_broker_started_again_right_after_a_kill_comes_back(zk_cluster: ZkKafkaCluster) -> None:
    """Kafka refuses to start a ZooKeeper-mode broker while the killed one's registration
    lives on (its session): the harness waits for it to go, so a heal (or a test)
    may start a killed broker at once."""
    victim = zk_cluster.broker(max(zk_cluster.broker_ids))
    victim.kill()
    victim.start()

    # Its start-up done (a stale registration would still list it as a broker meanwhile);
    # wait_for raises at once if it exits instead.
    def started_again() -> bool:
        this_start = victim.log_tail(2000).rpartition("==== testcluster: starting")[2]
        return f"[KafkaServer id={victim.id}] started" in this_start

    zk_cluster.wait_for(
        started_again,
        120,
        f"broker {victim.id} started again",
    )
    zk_cluster.wait_healthy(120)
    assert victim.running


def test_killed_leader_is_replaced_and_restarted_broker_catches_up(cluster: KafkaCluster) -> None:
    topic = new_topic(cluster, partitions=3)
    replicas = sorted(cluster.replicas_of(topic, 0))
    leader = cluster.leader_of(topic, 0)

    def replaced() -> int:
        # Leader and ISR from one answer: each broker updates its metadata cache on its own,
        # so two calls can meet two brokers, one of them behind.
        p = cluster.partition(topic, 0)
        return p.leader if p.leader not in (-1, leader) and leader not in p.isrs else 0

    cluster.broker(leader).kill()
    elected = cluster.wait_for(
        replaced, 60, f"a new leader for {topic}-0, and {leader} out of its ISR, after SIGKILL"
    )
    assert elected in replicas

    cluster.broker(leader).start()
    cluster.wait_for(
        lambda: cluster.isr_of(topic, 0) == replicas,
        90,
        f"restarted broker {leader} back in the ISR of {topic}-0",
    )


def test_topic_command_agrees_with_the_admin_api_while_a_follower_is_paused(
    cluster: KafkaCluster,
) -> None:
    topic = new_topic(cluster, partitions=2)
    follower = quiet_follower(cluster, topic)
    cluster.broker(follower).pause()
    # Out of every ISR: as a follower after replica.lag.time.max.ms, as a leader once fenced
    # (KRaft) or its ZooKeeper session expires.
    cluster.wait_for(
        lambda: all(follower not in cluster.isr_of(topic, p) for p in (0, 1)),
        45,
        f"paused broker {follower} out of every ISR of {topic}",
    )
    admin_urp = {p for p in (0, 1) if len(cluster.isr_of(topic, p)) < 3}
    config = cluster.fault_tool_config()
    out = cluster.run_tool(
        "TopicCommand",
        "--describe",
        "--under-replicated-partitions",
        "--topic",
        topic,
        "--command-config",
        config,
        bootstrap=cluster.live_bootstrap_servers,
        timeout=90,
    )
    listed = {int(p) for p in re.findall(r"Partition:\s*(\d+)", out)}
    assert listed == admin_urp == {0, 1}, out
    at_min = cluster.run_tool(
        "TopicCommand",
        "--describe",
        "--at-min-isr-partitions",
        "--topic",
        topic,
        "--command-config",
        config,
        bootstrap=cluster.live_bootstrap_servers,
        timeout=90,
    )
    assert {int(p) for p in re.findall(r"Partition:\s*(\d+)", at_min)} == {0, 1}, at_min

    cluster.broker(follower).resume()
    # Full ISRs again; on a busy machine the pause can outlast the broker's ZooKeeper session,
    # and a ZooKeeper-mode broker resumed after that can stay out of every ISR for good
    # (Kafka's, not ours): heal() waits for health and restarts such a broker, as an
    # operator would.
    cluster.heal()
    assert all(len(cluster.isr_of(topic, p)) == 3 for p in (0, 1))
    out = cluster.run_tool("TopicCommand", "--describe", "--under-replicated-partitions")
    assert topic not in out


def test_traffic_counts_acks_and_a_stopped_consumer_leaves_lag(cluster: KafkaCluster) -> None:
    """Acked records are the records in the log (Kafka's GetOffsetShell); the stopped member
    committed exactly what it read, per partition (ConsumerGroupCommand), and left the rest
    as lag. It may have read only some of its partitions by then (on a busy machine it once
    read 100 records from one partition only): a partition it never read has no commit, and
    the tool does not list it for the now empty group, or lists it with "-" while the
    member's leave is still being processed (x9)."""
    topic = new_topic(cluster, partitions=2)
    group = f"lag-{uuid.uuid4().hex[:6]}"
    with RateProducer(cluster.bootstrap_servers, topic, rate=200, acks="all") as producer:
        consumer = RateConsumer(cluster.bootstrap_servers, topic, group).start()
        consumer.wait_consumed(100, 30)
        consumer.stop()  # commits and leaves the group; the producer goes on
        producer.wait_acked(consumer.consumed + 200, 30)
    assert producer.failed == 0, producer.errors
    # Asynchronous commits on the way may fail (nothing new to commit, coordinator busy);
    # the synchronous one at stop() is what the tool must show.
    assert not consumer.errors or all("commit" in e for e in consumer.errors), consumer.errors

    shell = cluster.run_tool("GetOffsetShell", "--topic", topic)
    ends = {
        int(p): int(o) for p, o in re.findall(rf"^{re.escape(topic)}:(\d+):(\d+)$", shell, re.M)
    }
    assert sorted(ends) == [0, 1], shell
    assert sum(ends.values()) == producer.acked, shell  # idempotent: no duplicates

    out = cluster.run_tool("ConsumerGroupCommand", "--describe", "--group", group)
    rows = {}
    for line in out.splitlines():
        # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
        fields = line.split()
        # A partition without a commit shows "-" as its offset (or is not listed at all,
        # once the group is empty): either way, nothing was committed for it.
        if len(fields) >= 6 and fields[0] == group and fields[1] == topic and fields[3] != "-":
            rows[int(fields[2])] = (int(fields[3]), int(fields[4]), int(fields[5]))
    read = {p: n for p, n in consumer.consumed_by_partition.items() if n}
    assert {p: current for p, (current, _, _) in rows.items()} == read, out
    for p, (current, end, lag) in rows.items():
        assert (end, lag) == (ends[p], ends[p] - current), out
    assert sum(read.values()) == consumer.consumed
    # What the group left unread, over both partitions, listed or not.
    unread = sum(ends.values()) - consumer.consumed
    assert unread == producer.acked - consumer.consumed >= 200


def test_zookeeper_follower_can_be_stopped_and_started(zk_cluster: ZkKafkaCluster) -> None:
    follower = zk_cluster.zk_node("follower")
    zk_cluster.zookeeper(follower).stop()
    # The other two serve as a quorum. On a starved machine they may first hold an election
    # (a follower that missed the leader's ticks drops to LOOKING for a few seconds).
    expected = [f"zookeeper-{follower} not serving"]
    zk_cluster.wait_for(
        lambda: zk_cluster.zk_problems() == expected,
        60,
        f"only zookeeper-{follower} down",
        describe=lambda: f"problems: {zk_cluster.zk_problems()}",
    )
    # Two of three still form a quorum: Kafka keeps working, brokers stay registered.
    topic = new_topic(zk_cluster)
    client = KazooClient(hosts=zk_cluster.zk_hosts, timeout=10)
    client.start(timeout=15)
    try:
        ids = sorted(int(i) for i in client.get_children(f"{zk_cluster.chroot}/brokers/ids"))
        assert ids == zk_cluster.broker_ids
        assert client.exists(f"{zk_cluster.chroot}/brokers/topics/{topic}")
    finally:
        client.stop()
        client.close()

    zk_cluster.zookeeper(follower).start()
    zk_cluster.wait_for(lambda: not zk_cluster.zk_problems(), 30, "all ZooKeeper nodes serving")


def test_kraft_controller_is_reported_by_the_quorum_tool(kraft_cluster: KraftCluster) -> None:
    status = kraft_cluster.quorum_status()
    assert int(status["LeaderId"]) in kraft_cluster.broker_ids
    assert status["ClusterId"] == kraft_cluster.cluster_id


def test_fresh_cluster_is_private_and_may_be_left_broken(
    fresh_kraft_cluster: KraftCluster,
) -> None:
    # Internal topics, and the readiness probe's own (deleted by start(), which may lag).
    own = ("__", "testcluster-ready-")
    topics = {t for t in fresh_kraft_cluster.metadata().topics if not t.startswith(own)}
    assert topics == set(), "a fresh cluster has no user topics"
    fresh_kraft_cluster.broker(2).kill()
    fresh_kraft_cluster.broker(3).pause()  # the fixture's teardown copes with both


def _testcluster_jvms(workdir: Path) -> list[int]:
    marker = str(workdir.resolve())
    found = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if cmdline and "java" in Path(cmdline[0]).name and marker in " ".join(cmdline):
            found.append(proc.info["pid"])
    return found


def test_stop_leaves_no_jvm_even_with_a_paused_broker(tmp_path: Path) -> None:
    cluster = ZkKafkaCluster(tmp_path / "small", brokers=1, zk_nodes=1)
    with cluster:
        assert len(_testcluster_jvms(tmp_path)) == 2
        cluster.broker(1).pause()
    assert _testcluster_jvms(tmp_path) == []
    pidfile = tmp_path / "small" / "testcluster.pids"
    assert not pidfile.exists() or not pidfile.read_text().strip()


_ORPHAN = textwrap.dedent(
    """
    import sys, threading, time
    from testcluster import KraftCluster

    cluster = KraftCluster(sys.argv[1], nodes=1)
    if sys.argv[2] == "thread":
        # Started off the main thread: no parent-death signal, like a cluster in a worker.
        worker = threading.Thread(target=cluster.start)
        worker.start()
        worker.join()
    else:
        cluster.start()
    print("ready", flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("started_from", ["main", "thread"])
def test_jvms_do_not_outlive_a_killed_python(tmp_path: Path, started_from: str) -> None:
    """SIGKILL of the Python process: from the main thread the JVMs die with it (parent-death
    signal); from another thread they survive until `python -m testcluster reap`."""
    workdir = tmp_path / "orphan"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    python = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN, str(workdir), started_from],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert python.stdout is not None
        assert python.stdout.readline().strip() == "ready"
        assert len(_testcluster_jvms(workdir)) == 1
    finally:
        python.send_signal(signal.SIGKILL)
        python.wait()
    if started_from == "thread":
        assert len(_testcluster_jvms(workdir)) == 1
        out = subprocess.run(
            [sys.executable, "-m", "testcluster", "reap"],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=60,
            check=True,
        ).stdout
        assert re.search(r"killed [1-9][0-9]* JVM", out), out
    wait_for(lambda: not _testcluster_jvms(workdir), 15, f"no JVM left in {workdir}")


_ASK_PORTS = textwrap.dedent(
    """
    import sys
    from testcluster.ports import free_ports

    print(" ".join(str(p) for p in free_ports(int(sys.argv[1]))), flush=True)
    sys.stdin.read()  # alive until told: a live process's ports stay its own
    """
)


def test_ports_are_never_handed_to_two_live_processes(tmp_path: Path) -> None:
    """pytest-xdist workers start clusters side by side: a port one of them was handed must
    not be handed to another before (or after) its JVM binds it; a dead one's are forgotten."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TESTCLUSTER_PORTS": str(tmp_path / "ports")}
    dead_pid = 2**22 + 1  # above the kernel's pid_max: never a live process
    (tmp_path / "ports").write_text(f"40000 {dead_pid}\nnot a line\n")
    askers = [
        subprocess.Popen(
            [sys.executable, "-c", _ASK_PORTS, "300"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        handed = [set(map(int, a.stdout.readline().split())) for a in askers if a.stdout]
        assert [len(ports) for ports in handed] == [300] * 4
        assert len(set().union(*handed)) == 1200, "a port was handed to two live processes"
        registry = (tmp_path / "ports").read_text().splitlines()
        assert len(registry) == 1200 and not any(line.endswith(f" {dead_pid}") for line in registry)
    finally:
        for asker in askers:
            asker.communicate("", timeout=30)
