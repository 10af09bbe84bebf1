"""A ZooKeeper ensemble member (QuorumPeerMain from the Kafka 3.9 classpath)."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from testcluster.dist import KafkaDist
from testcluster.logconf import log_flags
from testcluster.node import Node
from testcluster.process import JavaProcess

ZK_HEAP = ("-Xms16m", "-Xmx128m")


@dataclass(frozen=True)
class ZkAddress:
    node_id: int
    client_port: int
    peer_port: int
    election_port: int

    @property
    def server_line(self) -> str:
        return f"server.{self.node_id}=127.0.0.1:{self.peer_port}:{self.election_port}"


class ZooKeeperNode(Node):
    def __init__(
        self,
        address: ZkAddress,
        ensemble: Sequence[ZkAddress],
        *,
        dist: KafkaDist,
        workdir: Path,
    ) -> None:
        directory = workdir / f"zookeeper-{address.node_id}"
        self.node_id = address.node_id
        self.address = address
        self.ensemble = list(ensemble)
        process = JavaProcess(
            f"zookeeper-{address.node_id}",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            [str(directory / "zoo.cfg")],
            classpath=dist.classpath,
            directory=directory,
            workdir=workdir,
            jvm_flags=[
                *ZK_HEAP,
                *log_flags(dist, workdir),
                # No JMX beans for log4j: it pulls in classes we do not ship and costs startup.
                "-Dzookeeper.jmx.log4j.disable=true",
            ],
        )
        super().__init__(process.name, directory, process)

    @property
    def client_port(self) -> int:
        return self.address.client_port

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.address.client_port}"

    def prepare(self) -> None:
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / "myid").write_text(f"{self.node_id}\n")
        lines = [
            # Short ticks make session expiry (and so broker deregistration) fast.
            "tickTime=500",
            "initLimit=20",
            "syncLimit=10",
            "minSessionTimeout=1000",
            "maxSessionTimeout=60000",
            f"dataDir={data}",
            f"clientPort={self.address.client_port}",
            "clientPortAddress=127.0.0.1",
            # The admin HTTP server would make every node want port 8080.
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "autopurge.purgeInterval=0",
            # Snapshots and logs on a test box do not need fsync.
            "forceSync=no",
            *(member.server_line for member in self.ensemble),
        ]
        (self.directory / "zoo.cfg").write_text("\n".join(lines) + "\n")

    def four_letter(self, word: str, timeout: float = 1.0) -> str:
        """Send a four-letter command (`srvr`, `ruok`, `mntr`, ...) and return the answer."""
        with socket.create_connection(("127.0.0.1", self.client_port), timeout=timeout) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def mode(self) -> str | None:
        """leader, follower or standalone while serving; None when it is not serving."""
        try:
            answer = self.four_letter("srvr")
        except OSError:
            return None
        for line in answer.splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None  # "This ZooKeeper instance is not currently serving requests"
