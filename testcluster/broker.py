"""A Kafka server process (`kafka.Kafka server.properties`): a ZooKeeper-mode broker or a
combined KRaft broker+controller, depending on its properties."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from testcluster.dist import KafkaDist
from testcluster.logconf import log_flags
from testcluster.node import Node
from testcluster.process import JavaProcess

BROKER_HEAP = ("-Xms32m", "-Xmx384m")

# Settings that make a 3-broker cluster on a 2-core box small and quick to react. Shared by
# both modes; each cluster adds its own identity, listeners and mode-specific settings.
COMMON_BROKER_CONFIG: dict[str, str] = {
    "num.partitions": "1",
    "offsets.topic.num.partitions": "3",
    "transaction.state.log.num.partitions": "3",
    # A frozen follower leaves the ISR after 3 s (the check runs every 1.5 s).
    "replica.lag.time.max.ms": "3000",
    "replica.fetch.wait.max.ms": "100",
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "1000",
    # Leadership moves only when a test moves it.
    "auto.leader.rebalance.enable": "false",
    "auto.create.topics.enable": "false",
    "unclean.leader.election.enable": "false",
    "delete.topic.enable": "true",
    # Thread pools sized for 2 cores and a handful of partitions.
    "num.network.threads": "2",
    "num.io.threads": "2",
    "background.threads": "2",
    "num.replica.fetchers": "1",
    "num.recovery.threads.per.data.dir": "1",
    "log.cleaner.threads": "1",
    # The cleaner's dedupe buffer is allocated on the heap (128 MiB by default).
    "log.cleaner.dedupe.buffer.size": str(4 * 1024 * 1024),
    "log.segment.bytes": str(16 * 1024 * 1024),
    "log.index.size.max.bytes": str(1024 * 1024),
}


def replication_config(brokers: int) -> dict[str, str]:
    """RF 3 / min ISR 2 everywhere, scaled down for a cluster too small for that, since an
    internal topic with RF 3 on one broker can never be created."""
    rf, min_isr = str(min(3, brokers)), str(min(2, brokers))
    return {
        "default.replication.factor": rf,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min_isr,
    }


class KafkaNode(Node):
    def __init__(
        self,
        node_id: int,
        port: int,
        config: Mapping[str, str],
        *,
        dist: KafkaDist,
        workdir: Path,
        role: str = "broker",
        heap: tuple[str, ...] = BROKER_HEAP,
    ) -> None:
        directory = workdir / f"{role}-{node_id}"
        self.node_id = node_id
        self.port = port
        self.dist = dist
        self.config: dict[str, str] = {
            **COMMON_BROKER_CONFIG,
            "log.dirs": str(directory / "data"),
            **config,
        }
        process = JavaProcess(
            f"{role}-{node_id}",
            "kafka.Kafka",
            [str(directory / "server.properties")],
            classpath=dist.classpath,
            directory=directory,
            workdir=workdir,
            jvm_flags=[
                *heap,
                *log_flags(dist, workdir),
                f"-Dkafka.logs.dir={directory / 'logs'}",
            ],
        )
        super().__init__(process.name, directory, process)

    # Called before each start (ZkKafkaCluster: wait until a killed broker's registration
    # is gone, which Kafka itself requires).
    before_start: Callable[[KafkaNode], None] | None = None

    def start(self) -> None:
        if self.before_start is not None:
            self.before_start(self)
        super().start()

    @property
    def id(self) -> int:
        return self.node_id

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_dirs(self) -> list[Path]:
        """Every log dir (one unless the cluster was made `with_log_dirs`)."""
        return [Path(d) for d in self.config["log.dirs"].split(",")]

    @property
    def data_dir(self) -> Path:
        """The first log dir (KRaft keeps its metadata log there)."""
        return self.data_dirs[0]

    def use_log_dirs(self, count: int) -> None:
        """`count` log dirs instead of one (call before `prepare`)."""
        self.config["log.dirs"] = ",".join(str(self.directory / f"data-{i}") for i in range(count))

    @property
    def properties_path(self) -> Path:
        return self.directory / "server.properties"

    def prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for data in self.data_dirs:
            data.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{key}={value}\n" for key, value in sorted(self.config.items()))
        self.properties_path.write_text(text)
