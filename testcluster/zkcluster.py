"""A ZooKeeper-mode Kafka 3.9 cluster: a ZooKeeper ensemble plus brokers under a chroot."""

from __future__ import annotations

import time
from collections.abc import Mapping
from os import PathLike

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from testcluster.broker import KafkaNode, replication_config
from testcluster.cluster import ClusterError, KafkaCluster
from testcluster.dist import KafkaDist, zookeeper_dist
from testcluster.node import Node
from testcluster.ports import free_ports
from testcluster.zookeeper import ZkAddress, ZooKeeperNode

SERVING = ("leader", "follower", "standalone")
# A killed broker's registration lasts its session (zookeeper.session.timeout.ms below) and
# ZooKeeper's expiry check: start it anyway after this long (its own error then says why).
REGISTRATION_GONE_WITHIN = 60.0


class ZkKafkaCluster(KafkaCluster):
    kind = "zk"
    node_dir_patterns = ("zookeeper-*", "broker-*")

    def __init__(
        self,
        workdir: str | PathLike[str] | None = None,
        brokers: int = 3,
        zk_nodes: int = 3,
        chroot: str = "/kafka",
        *,
        broker_config: Mapping[str, str] | None = None,
        dist: KafkaDist | None = None,
    ) -> None:
        super().__init__(workdir, broker_config=broker_config, dist=dist)
        self.broker_count = brokers
        self.zk_count = zk_nodes
        self.chroot = "/" + chroot.strip("/") if chroot.strip("/") else ""
        self.zookeepers: dict[int, ZooKeeperNode] = {}
        self.restarted_after_expiry: dict[int, int] = {}

    def _fetch_dist(self) -> KafkaDist:
        return zookeeper_dist()

    @property
    def zk_hosts(self) -> str:
        """host:port,... of the ensemble, without the chroot."""
        return ",".join(z.host_port for z in self.zookeepers.values())

    @property
    def zk_connect(self) -> str:
        """The brokers' `zookeeper.connect`: the ensemble plus the chroot."""
        return self.zk_hosts + self.chroot

    @property
    def members(self) -> list[Node]:
        return [*self.zookeepers.values(), *self.brokers.values()]

    def zookeeper(self, node_id: int) -> ZooKeeperNode:
        try:
            return self.zookeepers[node_id]
        except KeyError:
            raise KeyError(f"no ZooKeeper node {node_id}; have {sorted(self.zookeepers)}") from None

    def _build(self, dist: KafkaDist) -> None:
        ports = free_ports(3 * self.zk_count + self.broker_count)
        self.zookeepers = {}
        addresses = [
            ZkAddress(i + 1, ports[3 * i], ports[3 * i + 1], ports[3 * i + 2])
            for i in range(self.zk_count)
        ]
        self.zookeepers = {
            a.node_id: ZooKeeperNode(a, addresses, dist=dist, workdir=self.workdir)
            for a in addresses
        }
        for index, port in enumerate(ports[3 * self.zk_count :]):
            broker_id = index + 1
            listener = f"PLAINTEXT://127.0.0.1:{port}"
            config = {
                **replication_config(self.broker_count),
                "broker.id": str(broker_id),
                "listeners": listener,
                "advertised.listeners": listener,
                "zookeeper.connect": self.zk_connect,
                # A dead broker's znode (and so its leaderships) goes after 6 s. Kafka's 18 s
                # was tried (every broker's 6 s session ran out at once with two test workers
                # beside a CPU hog, which no longer run together: tools/test_workers.py), but
                # then a paused broker stays registered through the chaos suite's checks and
                # its TopicCommand oracle timed out on it, idle.
                "zookeeper.session.timeout.ms": "6000",
                # Generous: a restarted broker must survive a ZooKeeper election.
                "zookeeper.connection.timeout.ms": "30000",
                **self.broker_config,
            }
            broker = KafkaNode(
                broker_id, port, config, dist=dist, workdir=self.workdir, heap=self.broker_heap
            )
            broker.before_start = self._wait_registration_gone
            self.brokers[broker_id] = broker

    def _start_processes(self, timeout: float) -> None:
        for zk in self.zookeepers.values():
            zk.start()
        # Brokers give up on ZooKeeper after zookeeper.connection.timeout.ms, so only start
        # them once the ensemble serves.
        self.wait_for(self._zk_serving, min(timeout, 90), "a ZooKeeper quorum", interval=0.3)
        for broker in self.brokers.values():
            broker.start()

    def _zk_serving(self) -> bool:
        self.check_alive(self.zookeepers.values())
        return not self.zk_problems()

    def supervise(self) -> None:
        """A broker whose ZooKeeper session expired while it started is started again (at
        most twice), as its supervisor (systemd, Kubernetes) would: Kafka exits then
        ("Exiting Kafka due to fatal exception during startup" with a
        ZooKeeperClientExpiredException or a KeeperException$SessionExpiredException) and
        does not come back by itself. On a busy machine a broker's session can run out
        during start-up."""
        for node in self.brokers.values():
            if self._expired_at_startup(node):
                self.restarted_after_expiry[node.node_id] = (
                    self.restarted_after_expiry.get(node.node_id, 0) + 1
                )
                node.start()

    def supervisor_restarts(self) -> int:
        return sum(self.restarted_after_expiry.values())

    def _expired_at_startup(self, node: KafkaNode) -> bool:
        if node.running or node.process.returncode != 1:
            return False
        if self.restarted_after_expiry.get(node.node_id, 0) >= 2:
            return False
        tail = node.log_tail(60)
        # Kafka's own wrapper or ZooKeeper's, depending on the call the expiry hit.
        expired = "ZooKeeperClientExpiredException" in tail or "SessionExpiredException" in tail
        return "fatal exception during startup" in tail and expired

    def _wait_registration_gone(self, node: KafkaNode) -> None:
        """A SIGKILLed broker's /brokers/ids/<id> lives on until its ZooKeeper session
        expires, and a broker started meanwhile exits at once ("node already exists
        and owner ... does not match current session"). So a broker is started only once no
        registration of it is left, as an operator restarting it by hand would wait. With
        no ZooKeeper quorum to ask, it is started at once (it waits for ZooKeeper itself)."""
        path = f"{self.chroot}/brokers/ids/{node.node_id}"
        client = KazooClient(hosts=self.zk_hosts, timeout=5.0)
        try:
            client.start(timeout=10)
        except KazooTimeoutError:
            return
        try:
            deadline = time.monotonic() + REGISTRATION_GONE_WITHIN
            while client.exists(path) is not None and time.monotonic() < deadline:
                time.sleep(0.2)
        except KazooException:
            return
        finally:
            client.stop()
            client.close()

    def zk_modes(self) -> dict[int, str | None]:
        """Each ZooKeeper node's `srvr` mode; None where it is not serving."""
        return {i: z.mode() if z.healthy else None for i, z in self.zookeepers.items()}

    def zk_node(self, mode: str) -> int:
        """The id of a ZooKeeper node serving in `mode` ("leader", "follower") now."""
        modes = self.zk_modes()
        found = next((i for i, m in modes.items() if m == mode), None)
        if found is None:
            raise ClusterError(f"no ZooKeeper {mode} serving now: {modes}")
        return found

    def zk_problems(self) -> list[str]:
        modes = self.zk_modes()
        problems = [f"zookeeper-{i} not serving" for i, m in modes.items() if m not in SERVING]
        if not any(m in ("leader", "standalone") for m in modes.values()):
            problems.append("no ZooKeeper leader")
        return problems

    def quorum_problems(self) -> list[str]:
        problems = self.zk_problems()
        if not problems and self.controller_id() < 0:
            problems.append("no controller")
        return problems

    def controller_id(self) -> int:
        # In ZooKeeper mode the metadata's controller is the real one (/controller).
        return self.metadata().controller_id
