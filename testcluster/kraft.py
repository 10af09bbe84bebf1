"""A KRaft Kafka 4.x cluster of combined broker+controller nodes with a static voter set."""

from __future__ import annotations

import base64
import re
import subprocess
import uuid
from collections.abc import Mapping
from os import PathLike

from testcluster.broker import KafkaNode, replication_config
from testcluster.cluster import ClusterError, KafkaCluster
from testcluster.dist import KafkaDist, kraft_dist
from testcluster.logconf import log_flags
from testcluster.node import Node
from testcluster.ports import free_ports
from testcluster.process import java_command, with_death_signal
from testcluster.tools import TOOL_HEAP


def new_cluster_id() -> str:
    """16 random bytes, url-safe base64 without padding; never starting with '-', which the
    tools would read as an option."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


class KraftCluster(KafkaCluster):
    kind = "kraft"
    node_dir_patterns: tuple[str, ...] = ("kraft-*",)

    def __init__(
        self,
        workdir: str | PathLike[str] | None = None,
        nodes: int = 3,
        *,
        broker_config: Mapping[str, str] | None = None,
        dist: KafkaDist | None = None,
    ) -> None:
        super().__init__(workdir, broker_config=broker_config, dist=dist)
        self.node_count = nodes
        self.cluster_id = new_cluster_id()
        self.controller_ports: dict[int, int] = {}

    def _fetch_dist(self) -> KafkaDist:
        return kraft_dist()

    @property
    def members(self) -> list[Node]:
        return list(self.brokers.values())

    @property
    def controller_quorum_voters(self) -> str:
        return ",".join(f"{i}@127.0.0.1:{p}" for i, p in sorted(self.controller_ports.items()))

    def _build(self, dist: KafkaDist) -> None:
        ports = free_ports(2 * self.node_count)
        self.cluster_id = new_cluster_id()
        self.controller_ports = {i + 1: ports[2 * i + 1] for i in range(self.node_count)}
        for index in range(self.node_count):
            node_id = index + 1
            broker_port = ports[2 * index]
            config = {
                **replication_config(self.node_count),
                "share.coordinator.state.topic.replication.factor": str(min(3, self.node_count)),
                "share.coordinator.state.topic.min.isr": str(min(2, self.node_count)),
                "process.roles": "broker,controller",
                "node.id": str(node_id),
                "controller.quorum.voters": self.controller_quorum_voters,
                "controller.listener.names": "CONTROLLER",
                "listeners": (
                    f"PLAINTEXT://127.0.0.1:{broker_port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_ports[node_id]}"
                ),
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "inter.broker.listener.name": "PLAINTEXT",
                # Kafka's default: a silent broker is fenced (and loses its leaderships)
                # after 9 s; 4 s fenced live brokers on two busy cores (see zkcluster.py).
                "broker.session.timeout.ms": "9000",
                # The controller quorum keeps Kafka's Raft timeouts (2 s fetch, 1 s election,
                # 2 s request). Three times those held the quorum beside a CPU hog (s11), but
                # in idle runs a killed controller's successor took long enough that the next
                # test's CreateTopics timed out "waiting for controller" (x6, x9): see
                # docs/testing.md.
                "broker.heartbeat.interval.ms": "500",
                **self.broker_config,
            }
            self.brokers[node_id] = KafkaNode(
                node_id,
                broker_port,
                config,
                dist=dist,
                workdir=self.workdir,
                role="kraft",
                heap=self.broker_heap,
            )

    def _start_processes(self, timeout: float) -> None:
        self.format_storage(timeout)
        for node in self.brokers.values():
            node.start()

    def _format_args(self) -> list[str]:
        """Extra StorageTool format arguments (a secured cluster adds its SCRAM users)."""
        return []

    def format_storage(self, timeout: float = 120.0) -> None:
        """StorageTool format on every node at once, all with the same cluster id."""
        running = []
        for node in self.brokers.values():
            node.prepare()
            command = java_command(
                "kafka.tools.StorageTool",
                [
                    "format",
                    "-t",
                    self.cluster_id,
                    "-c",
                    str(node.properties_path),
                    *self._format_args(),
                ],
                self.dist.classpath,
                self.workdir,
                [*TOOL_HEAP, *log_flags(self.dist, self.workdir, "tool")],
            )
            log = (node.directory / "format.log").open("wb")
            proc = subprocess.Popen(
                with_death_signal(command),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            running.append((node, proc, log))
        failures = []
        for node, proc, log in running:
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            log.close()
            if code != 0:
                output = (node.directory / "format.log").read_text(errors="replace")
                failures.append(f"{node.name}: StorageTool format exited {code}:\n{output}")
        if failures:
            raise ClusterError("\n".join(failures))

    def quorum_status(self) -> dict[str, str]:
        """`MetadataQuorumCommand describe --status` as a dict (LeaderId, LeaderEpoch, ...)."""
        # 90 s: the tool's JVM alone took over 30 s to start and answer at a load of 180.
        out = self.run_tool("MetadataQuorumCommand", "describe", "--status", timeout=90)
        status = {}
        for line in out.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                status[key.strip()] = value.strip()
        return status

    def controller_id(self) -> int:
        """The active controller, from DescribeQuorum (the metadata's "controller" in KRaft is a
        random live broker, so the Admin API cannot tell)."""
        leader = self.quorum_status().get("LeaderId", "")
        if not re.fullmatch(r"-?\d+", leader):
            raise ClusterError(f"MetadataQuorumCommand gave no LeaderId: {leader!r}")
        return int(leader)

    def quorum_problems(self) -> list[str]:
        # Brokers register through the active controller, so "all registered" (checked by
        # the caller) already proves a working quorum; running the CLI here would cost a JVM
        # start on every poll.
        return []
