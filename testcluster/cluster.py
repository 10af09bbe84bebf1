"""What both kinds of cluster share: lifecycle, readiness, Admin API helpers, tools, logs."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    ClusterMetadata,
    NewTopic,
    PartitionMetadata,
)

from testcluster import reaper
from testcluster.broker import BROKER_HEAP, KafkaNode
from testcluster.dist import KafkaDist
from testcluster.jmx import JmxExporter, agent_jar
from testcluster.logconf import write_log_configs
from testcluster.node import Node
from testcluster.ports import free_ports, is_listening
from testcluster.tools import run_tool
from testcluster.waiting import GiveUp, WaitTimeout, wait_for

T = TypeVar("T")

# librdkafka's own log lines (connection refused while a broker is down, ...) go to Python
# logging, where pytest captures them, instead of spraying stderr.
CLIENT_LOG = logging.getLogger("testcluster.client")
log = logging.getLogger("testcluster")

# Per-request deadline for the harness's own Admin API calls. Short, because a paused broker
# accepts connections and then never answers; the callers poll and retry.
ADMIN_TIMEOUT = 5.0


class ClusterError(RuntimeError):
    pass


class ProcessDied(ClusterError, GiveUp):
    """A JVM exited while the harness waited for it."""


class KafkaCluster(ABC):
    """A local Kafka cluster of real JVMs on loopback ports. Subclasses add the quorum."""

    kind = "kafka"
    node_dir_patterns: tuple[str, ...] = ()
    # JVM heap flags of every broker; a benchmark with 10,000 partitions sets more before
    # start() (the default suits the test clusters' handful of partitions).
    broker_heap: tuple[str, ...] = BROKER_HEAP

    def __init__(
        self,
        workdir: str | PathLike[str] | None = None,
        *,
        broker_config: Mapping[str, str] | None = None,
        dist: KafkaDist | None = None,
    ) -> None:
        self._owns_workdir = workdir is None
        base = Path(workdir) if workdir is not None else None
        if base is None:
            base = Path(tempfile.mkdtemp(prefix=f"testcluster-{self.kind}-"))
        base.mkdir(parents=True, exist_ok=True)
        self.workdir = base.resolve()
        self.broker_config = dict(broker_config or {})
        self._dist = dist
        self.brokers: dict[int, KafkaNode] = {}
        self._admin: AdminClient | None = None
        self.started = False
        self.startup_seconds: float | None = None
        self.jmx_exporter: JmxExporter | None = None
        # Broker id -> port of its JMX exporter agent (only with `with_jmx_exporter`).
        self.exporter_ports: dict[int, int] = {}
        self.log_dirs_per_broker = 1  # `with_log_dirs`

    # ---- what a subclass provides -------------------------------------------------------

    @abstractmethod
    def _fetch_dist(self) -> KafkaDist: ...

    @abstractmethod
    def _build(self, dist: KafkaDist) -> None:
        """Allocate ports and create the node objects (no process started)."""

    @abstractmethod
    def _start_processes(self, timeout: float) -> None:
        """Start every JVM, in whatever order the quorum needs."""

    @abstractmethod
    def quorum_problems(self) -> list[str]:
        """What is wrong with the metadata quorum right now (empty when fine)."""

    @abstractmethod
    def controller_id(self) -> int:
        """The id of the node acting as controller."""

    @property
    @abstractmethod
    def members(self) -> list[Node]:
        """Every JVM-backed node of the cluster (quorum first, then brokers)."""

    # ---- lifecycle ---------------------------------------------------------------------

    @property
    def dist(self) -> KafkaDist:
        if self._dist is None:
            self._dist = self._fetch_dist()
        return self._dist

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap for node in self.brokers.values())

    @property
    def client_config(self) -> dict[str, str]:
        """librdkafka settings of the harness's own clients: where to connect and, on a
        secured cluster, how to authenticate (a subclass adds its security settings)."""
        return {"bootstrap.servers": self.bootstrap_servers}

    @property
    def broker_ids(self) -> list[int]:
        return sorted(self.brokers)

    def broker(self, broker_id: int) -> KafkaNode:
        try:
            return self.brokers[broker_id]
        except KeyError:
            raise KeyError(f"no broker {broker_id}; brokers are {self.broker_ids}") from None

    def start(self, timeout: float = 180.0) -> Self:
        """Start every process and return once the cluster takes acks=all writes."""
        if self.started:
            return self
        began = time.monotonic()
        reaper.reap(self.workdir)  # leftovers of an earlier run in the same workdir
        dist = self.dist
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Every start is a new cluster: the node directories of an earlier one carry its
        # ports, ids and (KRaft) cluster id in their data.
        for pattern in self.node_dir_patterns:
            for old in self.workdir.glob(pattern):
                shutil.rmtree(old, ignore_errors=True)
        self.brokers = {}
        write_log_configs(self.workdir)
        self._build(dist)
        if self.log_dirs_per_broker > 1:
            for node in self.brokers.values():
                node.use_log_dirs(self.log_dirs_per_broker)
        self._attach_jmx_exporter()
        self.started = True
        try:
            self._start_processes(timeout)
            waited_from, restarts = began, self.supervisor_restarts()
            while True:
                try:
                    self.wait_ready(max(30.0, timeout - (time.monotonic() - waited_from)))
                    break
                except WaitTimeout:
                    # A broker the supervisor started again (it died at start-up) gets a
                    # start-up of its own: on a starved machine its first one may have used
                    # most of the time, dying included. Restarts are bounded (supervise).
                    if self.supervisor_restarts() == restarts:
                        raise
                    waited_from, restarts = time.monotonic(), self.supervisor_restarts()
        except Exception as exc:
            tails = self.format_log_tails(25)
            self.stop()
            raise ClusterError(
                f"{self.kind} cluster in {self.workdir} did not start: {exc}\n{tails}"
            ) from exc
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def with_jmx_exporter(self, config: Path | None = None) -> Self:
        """Start every broker with the Prometheus JMX exporter agent (call before `start`).

        Opt-in: the agent costs each broker JVM memory and start-up time, so the default
        clusters go without. `config` defaults to the project's alerts/jmx-exporter config.
        """
        if self.started:
            raise ClusterError("with_jmx_exporter() must be called before start()")
        jar = agent_jar()
        self.jmx_exporter = JmxExporter(jar) if config is None else JmxExporter(jar, config)
        return self

    def with_log_dirs(self, count: int) -> Self:
        """Give every broker `count` log dirs (JBOD; call before `start`), so that a test
        can fail one of them for real (`KafkaNode.data_dirs`) while the broker runs on."""
        if self.started:
            raise ClusterError("with_log_dirs() must be called before start()")
        self.log_dirs_per_broker = count
        return self

    @property
    def exporter_targets(self) -> dict[int, str]:
        """Broker id -> host:port of its JMX exporter, for a Prometheus scrape config."""
        return {i: f"127.0.0.1:{port}" for i, port in sorted(self.exporter_ports.items())}

    def _attach_jmx_exporter(self) -> None:
        self.exporter_ports = {}
        if self.jmx_exporter is None:
            return
        ports = free_ports(len(self.brokers))
        for (broker_id, node), port in zip(sorted(self.brokers.items()), ports, strict=True):
            node.process.jvm_flags.append(self.jmx_exporter.javaagent_flag(port))
            self.exporter_ports[broker_id] = port

    def stop(self) -> None:
        """Tear everything down at once: SIGKILL every JVM (paused ones included).

        No graceful shutdown: the data is thrown away, and a controlled shutdown of three
        brokers would cost seconds per broker.
        """
        admin, self._admin = self._admin, None
        if admin is not None:
            # Destroyed here, on this thread, rather than by a GC pass on a librdkafka thread.
            admin.__exit__(None, None, None)
        for node in reversed(self.members):
            node.kill()
        reaper.reap(self.workdir)
        self.started = False
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- readiness and health ----------------------------------------------------------

    def wait_ready(self, timeout: float = 120.0) -> None:
        """All brokers registered and an RF-3 topic takes acks=all writes.

        The internal offsets topic is created here too (by one offset commit), so a test that
        breaks a broker before its first consumer group does not find it missing.
        """
        deadline = time.monotonic() + timeout
        # Ports first: an Admin client pointed at closed ports only logs connection errors.
        self.wait_for(self._all_listening, timeout, "every broker to listen", interval=0.3)
        self.wait_for(
            self._all_registered, _left(deadline), f"all {len(self.brokers)} brokers registered"
        )
        topic = f"testcluster-ready-{uuid.uuid4().hex[:8]}"
        self.create_topic(
            topic, partitions=1, rf=len(self.brokers), timeout=_left(deadline), retry=True
        )
        self.wait_for(
            lambda: self._produce_one(topic), _left(deadline), f"an acks=all write to {topic}"
        )
        group = f"{topic}-group"
        self.wait_for(
            lambda: self._commit_one(group, topic),
            _left(deadline),
            "an offset commit (creates __consumer_offsets)",
        )
        self.wait_for(lambda: self._delete_group(group), _left(deadline), f"deleting group {group}")
        self.delete_topic(topic, timeout=_left(deadline))

    def problems(self) -> list[str]:
        """Everything that keeps the cluster from being healthy right now (empty when fine):
        a dead or paused process, a quorum problem, an unregistered broker, a partition
        without a leader or with a replica missing from its ISR."""
        found = [
            f"{node.name} is {node.process.state}" for node in self.members if not node.healthy
        ]
        if found:
            return found
        found += self.quorum_problems()
        metadata = self.metadata()
        missing = set(self.brokers) - set(metadata.brokers)
        if missing:
            found.append(f"brokers {sorted(missing)} not registered")
        for name, topic in sorted(metadata.topics.items()):
            if topic.error is not None:
                found.append(f"topic {name}: {topic.error}")
            for pid, part in sorted(topic.partitions.items()):
                if part.leader < 0:
                    found.append(f"{name}-{pid} has no leader")
                elif sorted(part.isrs) != sorted(part.replicas):
                    found.append(f"{name}-{pid} ISR {sorted(part.isrs)} of {part.replicas}")
        return found

    def wait_healthy(self, timeout: float = 120.0) -> None:
        last: list[str] = []

        def healthy() -> bool:
            nonlocal last
            self.check_alive()  # a dead process will not come back by waiting
            last = self.problems()
            return not last

        self.wait_for(healthy, timeout, "a healthy cluster", describe=lambda: f"problems: {last}")

    def heal(self, timeout: float = 120.0) -> list[str]:
        """Undo whatever a test did to the processes, wait until healthy, say what was done."""
        actions = []
        for node in self.members:
            if node.paused:
                node.resume()
                actions.append(f"resumed {node.name}")
            elif not node.running:
                node.start()
                actions.append(f"restarted {node.name}")
        deadline = time.monotonic() + timeout
        try:
            self.wait_healthy(min(timeout / 2, 45.0))
        except WaitTimeout:
            # A ZooKeeper-mode broker resumed after its session expired can stay out of every
            # ISR for good (its cached partition state is fenced and never refreshed); an
            # operator restarts such a broker, and so do we, rather than fail every later test.
            stuck = self._brokers_out_of_isr() or sorted(self.brokers)
            for broker_id in stuck:
                self.brokers[broker_id].stop(timeout=15)
                self.brokers[broker_id].start()
                actions.append(f"restarted broker {broker_id}, stuck out of the ISRs")
            log.warning("heal: %s", "; ".join(actions))
            self.wait_healthy(_left(deadline))
        return actions

    def _brokers_out_of_isr(self) -> list[int]:
        """Brokers that are replicas somewhere but missing from that partition's ISR, or not
        registered at all."""
        metadata = self.metadata()
        stuck = set(self.brokers) - set(metadata.brokers)
        for topic in metadata.topics.values():
            for part in topic.partitions.values():
                stuck |= set(part.replicas) - set(part.isrs)
        return sorted(stuck & set(self.brokers))

    def supervise(self) -> None:  # noqa: B027 (a hook: most kinds supervise nothing)
        """Start again what a supervisor (systemd, Kubernetes) would: nothing here; the
        ZooKeeper-mode cluster restarts a broker that exited at start-up."""

    def supervisor_restarts(self) -> int:
        """How many processes `supervise` has started again so far."""
        return 0

    def check_alive(self, nodes: Iterable[Node] | None = None) -> None:
        """Raise ProcessDied (with its log tail) if a JVM of the cluster has exited (after
        `supervise` has started again what it would)."""
        self.supervise()
        for node in self.members if nodes is None else nodes:
            if not node.running:
                raise ProcessDied(
                    f"{node.name} exited with {node.process.returncode}; "
                    f"last lines of {node.process.log_path}:\n{node.log_tail(30)}"
                )

    def _all_listening(self) -> bool:
        self.check_alive()
        return all(is_listening(node.port) for node in self.brokers.values())

    def _all_registered(self) -> bool:
        self.check_alive()
        return set(self.metadata().brokers) >= set(self.brokers)

    def _produce_one(self, topic: str) -> bool:
        config = {
            **self.client_config,
            "acks": "all",
            "message.timeout.ms": 10000,
        }
        delivered: list[bool] = []
        with Producer(config, logger=CLIENT_LOG) as producer:
            producer.produce(topic, b"ready", on_delivery=lambda e, _m: delivered.append(not e))
            producer.flush(12)
        return delivered == [True]

    def _delete_group(self, group: str) -> bool:
        future = self.admin.delete_consumer_groups([group], request_timeout=ADMIN_TIMEOUT)[group]
        try:
            future.result()
        except KafkaException as exc:
            # Kafka 4's group coordinator keeps admin-committed offsets without a group.
            if exc.args[0].code() != KafkaError.GROUP_ID_NOT_FOUND:
                raise
        return True

    def _commit_one(self, group: str, topic: str) -> bool:
        # A plain consumer commit: AlterConsumerGroupOffsets through librdkafka aborted the
        # whole process once while the coordinator was still loading (seen on a clean CI run).
        consumer = Consumer(
            {
                **self.client_config,
                "group.id": group,
                "enable.auto.commit": False,
                "socket.timeout.ms": 10000,
            },
            logger=CLIENT_LOG,
        )
        try:
            consumer.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
        except KafkaException:
            return False
        finally:
            consumer.close()
        return True

    # ---- Admin API helpers -------------------------------------------------------------

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(
                {
                    **self.client_config,
                    "socket.timeout.ms": int(ADMIN_TIMEOUT * 1000),
                    "reconnect.backoff.max.ms": 1000,
                },
                logger=CLIENT_LOG,
            )
        return self._admin

    def metadata(self, topic: str | None = None, *, retry_for: float = 10.0) -> ClusterMetadata:
        """The Admin API's metadata, retried for up to `retry_for` seconds.

        Right after a broker dies, a request that was in flight to it fails with a transport
        error; a test asserting on `isr_of` at that moment wants the next answer, not that.
        """
        deadline = time.monotonic() + retry_for
        while True:
            try:
                return self.admin.list_topics(topic, timeout=ADMIN_TIMEOUT)
            except KafkaException:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(0.2)

    def partition(self, topic: str, partition: int, *, retry_for: float = 5.0) -> PartitionMetadata:
        """One partition's metadata (leader, replicas, isrs).

        Each broker's metadata cache is updated on its own, so a broker asked right after a
        topic was created may not know it yet: an unknown topic is asked again for up to
        `retry_for` seconds before it counts as missing.
        """
        deadline = time.monotonic() + retry_for
        while True:
            described = self.metadata(topic).topics.get(topic)
            if described is not None and described.error is None:
                break
            if time.monotonic() >= deadline:
                why = described.error if described is not None else "missing"
                raise ClusterError(f"topic {topic}: {why}")
            time.sleep(0.2)
        try:
            return described.partitions[partition]
        except KeyError:
            raise ClusterError(f"topic {topic} has no partition {partition}") from None

    def leader_of(self, topic: str, partition: int = 0) -> int:
        """The leader's broker id, -1 when the partition is offline."""
        return self.partition(topic, partition).leader

    def isr_of(self, topic: str, partition: int = 0) -> list[int]:
        return sorted(self.partition(topic, partition).isrs)

    def replicas_of(self, topic: str, partition: int = 0) -> list[int]:
        return list(self.partition(topic, partition).replicas)

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        rf: int = 3,
        config: Mapping[str, str] | None = None,
        *,
        timeout: float = 60.0,
        retry: bool = True,
    ) -> None:
        """Create a topic and wait until every partition has a leader and a full ISR.

        Errors are retried until `timeout`: right after a heal, a controller that does not
        list a restarted broker yet says INVALID_REPLICATION_FACTOR (x8), and a KRaft quorum
        still electing after a controller kill says "Timed out waiting for controller" (x6,
        x9). With `retry=False` they raise at once.
        """
        new = NewTopic(
            name, num_partitions=partitions, replication_factor=rf, config=dict(config or {})
        )

        def request() -> bool:
            future = self.admin.create_topics([new], operation_timeout=min(timeout, 30))[name]
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS or not retry:
                    raise ClusterError(f"creating topic {name}: {exc}") from exc
            return True

        if retry:
            self.wait_for(request, timeout, f"the creation of topic {name}", interval=0.5)
        else:
            request()

        seen = 0

        def complete() -> bool:
            # Three complete answers in a row: each may come from another broker, and a
            # broker's metadata cache can lag behind the one that answered first.
            nonlocal seen
            described = self.metadata(name).topics.get(name)
            ok = (
                described is not None
                and described.error is None
                and len(described.partitions) == partitions
                and all(p.leader >= 0 and len(p.isrs) == rf for p in described.partitions.values())
            )
            seen = seen + 1 if ok else 0
            return seen >= 3

        self.wait_for(
            complete, timeout, f"topic {name} to have leaders and full ISRs", interval=0.05
        )

    def delete_topic(self, name: str, *, timeout: float = 60.0) -> None:
        """Delete a topic and wait until the metadata no longer lists it."""
        future = self.admin.delete_topics([name], operation_timeout=min(timeout, 30))[name]
        try:
            future.result()
        except KafkaException as exc:
            raise ClusterError(f"deleting topic {name}: {exc}") from exc
        self.wait_for(
            lambda: name not in self.metadata().topics, timeout, f"topic {name} to be gone"
        )

    # ---- tools, waiting and diagnostics -------------------------------------------------

    @property
    def live_bootstrap_servers(self) -> str:
        """Bootstrap list without paused or dead brokers (for clients started mid-failure)."""
        return ",".join(n.bootstrap for n in self.brokers.values() if n.healthy)

    def fault_tool_config(self) -> str:
        """A client config file for Kafka's tools while a broker is paused or gone.

        A paused broker stays in the metadata for a while and accepts connections it never
        answers: short requests (5 s) make the tools go to a live broker instead of waiting
        the default 30 s on it. The API timeout (60 s) outlasts a live broker's own 30 s
        request to the controller: a KRaft broker forwards some calls (ListPartitionReassignments,
        which TopicCommand --describe makes) to the controller it last knew, which can be the
        paused node for a while after a controller change (its log then says "name=forwarding]
        Disconnecting from node N due to request timeout"); it answers once it has given up on
        that node and asked the new controller. Run the tool with a timeout above 60 s.
        Metadata at most 3 s old: in KRaft the metadata's "controller" (where the tools send
        ListPartitionReassignments) is a random unfenced broker, and one taken just before
        the paused broker was fenced stays the tool's target until its metadata is renewed
        (the default 5 minutes: "Timed out waiting to send the call").
        """
        config = self.workdir / "fault-tool.properties"
        if not config.exists():
            config.write_text(
                "request.timeout.ms=5000\ndefault.api.timeout.ms=60000\nmetadata.max.age.ms=3000\n"
            )
        return str(config)

    def run_tool(
        self,
        main_class: str,
        *args: str,
        timeout: float = 60.0,
        check: bool = True,
        bootstrap: str | None = None,
    ) -> str:
        """Run a Kafka CLI class (short name like "TopicCommand" or a full class name) on
        this cluster's classpath against its bootstrap servers (or `bootstrap`); return its
        stdout. Raises ToolError on a non-zero exit when `check`."""
        return run_tool(
            self.dist,
            self.workdir,
            main_class,
            *args,
            bootstrap=bootstrap or self.bootstrap_servers,
            timeout=timeout,
            check=check,
        )

    def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 30.0,
        what: str = "the condition",
        *,
        interval: float = 0.2,
        describe: Callable[[], str] | None = None,
    ) -> T:
        """`wait_for` whose failure message also carries the process states; the cluster's
        supervisor runs at every poll."""

        def diagnostics() -> str:
            text = describe() + "\n" if describe is not None else ""
            return (
                text
                + "processes: "
                + ", ".join(f"{n.name}={n.process.state}" for n in self.members)
            )

        def supervised() -> T:
            self.supervise()
            return predicate()

        return wait_for(supervised, timeout, what, interval=interval, diagnostics=diagnostics)

    def log_tails(self, n: int = 40) -> dict[str, str]:
        """The last `n` lines of every process's log, by process name."""
        return {node.name: node.log_tail(n) for node in self.members}

    def format_log_tails(self, n: int = 40) -> str:
        return "\n".join(
            f"===== {name} ({self.workdir / name / 'output.log'})\n{text}"
            for name, text in self.log_tails(n).items()
        )

    def pids(self) -> dict[str, int]:
        """Running JVMs by process name (for memory sampling)."""
        return {n.name: n.pid for n in self.members if n.running and n.pid is not None}


def _left(deadline: float) -> float:
    return max(1.0, deadline - time.monotonic())
