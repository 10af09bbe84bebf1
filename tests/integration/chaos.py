"""Fault injection with invariants checked on what an operator sees: the chaos suite's
harness, shared by tests/integration/test_chaos.py and bench/soak.py.

A `Chaos` run owns a real daemon (restarted at will, always on the same state dir), a
loopback PagerDuty endpoint that records every page, and a scraper that reads /metrics twice
a second. Its workload on the cluster: one topic, groups that stopped consuming with lag
(their consumer alerts fire once and must never resolve: nothing ever commits for them), and
one live group that keeps up (no consumer alert may ever fire for it).

The invariants (issue 13), checked with Kafka's own tools as the oracle:
- no alert resolves while its condition still holds (TopicCommand; the stopped groups'
  condition holds by construction, and ConsumerGroupCommand confirms it at the start and
  the end);
- no alert fires whose condition never held (every firing partition alert is checked
  against TopicCommand; every rule and subject that fires must be one the fault explains);
- exactly one page and one resolve per incident (per PagerDuty dedup key: trigger, then
  at most one resolve, never a second trigger within an incident);
- counters never go backwards, and no series of a group or partition that still exists
  disappears (per daemon process: a restart starts both afresh);
- `up`, the snapshot age and the stage errors say what the daemon could not see.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from kazoo.client import KazooClient
from kazoo.recipe.watchers import ChildrenWatch
from prometheus_client.parser import text_string_to_metric_families

from testcluster import KafkaCluster, RateConsumer
from testcluster.tools import ToolError
from tests.integration.daemon import Daemon
from tests.integration.loopback import Receiver

# Alerting timings: short, so an incident is told within seconds.
EVALUATION_INTERVAL = 0.5
GROUP_WAIT = 1.0
GROUP_INTERVAL = 2.0
# Every alert is its own notification group: one PagerDuty incident per alert.
GROUP_BY = ["kafka_cluster", "rule", "topic", "partition", "group", "broker", "stage"]
PARTITIONS = 6
RECORDS = 100  # per partition
STOPPED_AT = 50  # where the stopped groups committed
STOPPED_GROUPS = 6  # two per broker of a three-broker cluster
# The rules paged in a chaos run; the rest are judged elsewhere (rates need the event
# history, partly_blind is the daemon's own sight: shown in /api/alerts, not paged).
PAGED = (
    "under_replicated",
    "under_min_isr",
    "offline_partitions",
    "broker_gone",
    "controller_missing",
    "zookeeper_session_lost",
    "cluster_unseen",
    "unclean_leader_election",
    "log_truncation",
    "consumer_stalled",
    "consumer_lag",
    "consumer_lag_seconds",
    "commit_beyond_log_end",
)
CONSUMER_RULES = ("consumer_stalled", "consumer_lag", "consumer_lag_seconds")
# Subject labels of an alert (those of its fingerprint besides kafka_cluster).
SUBJECT = ("topic", "partition", "group", "broker", "stage")
# Families whose series come and go by design (they say a state, not a subject).
TRANSIENT = {
    "kafka_watchdog_consumergroup_unknown_since_timestamp_seconds",
    "kafka_watchdog_unknown_since_timestamp_seconds",
    "kafka_watchdog_collection_failing",
}
# Labels that carry a value rather than name the subject (a status changes, its series with).
VALUE_LABELS = {"status", "state", "reason"}


def wait(predicate: Callable[[], Any], what: str | Callable[[], str], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    text = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout:g}s waiting for {text}")


# -- what on-call receives ----------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    at: float  # when it arrived (time.time())
    action: str  # trigger | resolve
    key: str  # PagerDuty dedup_key: one per alert here (GROUP_BY)
    labels: dict[str, str]  # the alert's labels (rule and subject), from its trigger


class Pager(Receiver):
    """A PagerDuty Events API v2 endpoint on loopback: every event, in arrival order."""

    def __init__(self) -> None:
        self.pages: list[Page] = []
        self._labels: dict[str, dict[str, str]] = {}
        super().__init__()

    def record(self, path: str, doc: dict[str, Any]) -> None:
        key, action = doc["dedup_key"], doc["event_action"]
        with self.lock:
            if action == "trigger":
                self._labels[key] = dict(doc["payload"]["custom_details"]["labels"])
            self.pages.append(Page(time.time(), action, key, self._labels.get(key, {})))

    def since(self, at: float) -> list[Page]:
        with self.lock:
            return [p for p in self.pages if p.at >= at]


def subject(labels: dict[str, str]) -> tuple[str, ...]:
    """(rule, subject labels...) of an alert, as a hashable key."""
    return (labels.get("rule", ""), *(f"{k}={labels[k]}" for k in SUBJECT if labels.get(k)))


# -- what the daemon exports, scraped twice a second --------------------------------------------


@dataclass
class _Process:
    pid: int
    counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    series: set[tuple[str, tuple[tuple[str, str], ...]]] = field(default_factory=set)
    scrapes: int = 0


class Scraper:
    """Scrapes the running daemon's /metrics and checks, per daemon process, that no counter
    goes backwards and that no series of a watched subject (a group of the workload, a
    partition of its topic) disappears once it has appeared."""

    def __init__(self, run: Chaos, interval: float = 0.5) -> None:
        self.run = run
        self.interval = interval
        self.violations: list[str] = []
        # (time, what): every scrape in which the daemon said it could not see something:
        # a stage failing or answering in part, parts unknown, no ZooKeeper session, up 0.
        self.blind: list[tuple[float, str]] = []
        self._processes: dict[int, _Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="chaos-scraper", daemon=True)

    def start(self) -> Scraper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.scrape()
            except Exception as exc:  # a scrape racing a restart: the next one counts
                if not isinstance(exc, OSError | ValueError):
                    self.violations.append(f"scrape failed: {exc!r}")

    def scrape(self) -> None:
        daemon = self.run.daemon
        if daemon is None or daemon.proc is None or daemon.proc.poll() is not None:
            return
        pid = daemon.proc.pid
        status, text = daemon.get("/metrics")
        if status != 200 or daemon.proc.poll() is not None:
            return
        process = self._processes.setdefault(pid, _Process(pid))
        process.scrapes += 1
        counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        series: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        blind = []
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = tuple(sorted(sample.labels.items()))
                said = _blindness(sample.name, sample.labels, float(sample.value))
                if said:
                    blind.append(said)
                if family.type == "counter" and sample.name.endswith("_total"):
                    counters[(sample.name, labels)] = float(sample.value)
                if family.name in TRANSIENT or not self.run.watched(sample.labels):
                    continue
                kept = tuple((k, v) for k, v in labels if k not in VALUE_LABELS)
                series.add((sample.name, kept))
        for key, value in counters.items():
            before = process.counters.get(key)
            if before is not None and value < before:
                self.violations.append(f"pid {pid}: counter {key} went back {before} -> {value}")
            # A stage that failed or answered in part between two scrapes: its gauges may
            # have flipped back already (a coordinator that moved within one cycle), its
            # error counter has not.
            if key[0] == "kafka_watchdog_collection_errors_total" and value > (before or 0):
                blind.append(f"{dict(key[1]).get('stage')} errors counted ({value:g})")
        process.counters.update(counters)
        gone = process.series - series
        if gone:
            shown = sorted(gone)[:5]
            self.violations.append(
                f"pid {pid}: {len(gone)} series of existing subjects disappeared: {shown}"
            )
        process.series |= series
        if blind:
            self.blind.append((time.time(), "; ".join(sorted(blind))))

    def blind_since(self, at: float) -> list[str]:
        return [what for when, what in self.blind if when >= at]

    def value(self, name: str, **labels: str) -> float | None:
        """One sample of the latest /metrics of the running daemon."""
        daemon = self.run.daemon
        assert daemon is not None
        for family in text_string_to_metric_families(daemon.get("/metrics")[1]):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return float(s.value)
        return None


def _blindness(name: str, labels: dict[str, str], value: float) -> str | None:
    """What a sample says the daemon could not see, if anything."""
    if name == "kafka_watchdog_collection_failing" and value:
        return f"{labels['stage']} failing ({labels['reason']})"
    if name == "kafka_watchdog_unknown_parts" and value:
        return f"{value:g} {labels['stage']} parts unknown"
    if (
        name == "kafka_watchdog_zookeeper_session_state"
        and value
        and labels["state"] != "CONNECTED"
    ):
        return f"ZooKeeper session {labels['state']}"
    if name == "kafka_watchdog_up" and not value:
        return "up 0"
    return None


# -- Kafka's own tools as the oracle -------------------------------------------------------------

_DESCRIBE = re.compile(
    r"Topic:\s*(\S+)\s+Partition:\s*(\d+)\s+Leader:\s*(\S+)\s+Replicas:\s*(\S+)\s+Isr:\s*(\S*)"
)


@dataclass(frozen=True)
class PartitionTruth:
    leader: int  # -1: none
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    def under_min_isr(self, min_isr: int = 2) -> bool:
        return self.leader < 0 or len(self.isr) < min_isr


# A coordinator moving or loading its groups: the lookup is asked again.
_MOVING = {
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR,
    KafkaError._TIMED_OUT,
}


def topic_command(cluster: KafkaCluster, topic: str) -> dict[int, PartitionTruth]:
    """TopicCommand --describe of one topic: partition -> leader, replicas, ISR."""
    out = cluster.run_tool(
        "TopicCommand",
        "--describe",
        "--topic",
        topic,
        "--command-config",
        cluster.fault_tool_config(),
        bootstrap=cluster.live_bootstrap_servers,
        timeout=90,
    )

    def ids(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in text.split(",") if x.strip().lstrip("-").isdigit())

    found = {}
    for m in _DESCRIBE.finditer(out):
        if m.group(1) != topic:
            continue
        leader = m.group(3)
        found[int(m.group(2))] = PartitionTruth(
            int(leader) if leader.lstrip("-").isdigit() else -1, ids(m.group(4)), ids(m.group(5))
        )
    return found


_GROUP_ROW = re.compile(r"^(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)")


def group_command(cluster: KafkaCluster, groups: Iterable[str]) -> dict[str, dict[int, int]]:
    """ConsumerGroupCommand --describe: group -> partition -> LAG, for groups without an
    active member (a CONSUMER-ID of '-')."""
    args = [a for g in groups for a in ("--group", g)]
    out = cluster.run_tool(
        "ConsumerGroupCommand",
        "--describe",
        *args,
        "--command-config",
        cluster.fault_tool_config(),
        bootstrap=cluster.live_bootstrap_servers,
        timeout=90,
        check=False,
    )
    lags: dict[str, dict[int, int]] = defaultdict(dict)
    for line in out.splitlines():
        m = _GROUP_ROW.match(line.strip())
        if m and m.group(6).isdigit() and m.group(7) == "-":
            lags[m.group(1)][int(m.group(3))] = int(m.group(6))
    return dict(lags)


# -- the run ----------------------------------------------------------------------------------


class Dropouts:
    """Brokers the cluster itself dropped, fault or not: on a ZooKeeper-mode cluster, every
    broker whose registration (/brokers/ids/<id>) vanished at some moment, as a kazoo
    child watch in the test process sees it (each change is delivered, in order, however
    late). Beside a CPU hog, a broker no fault touched can lose its ZooKeeper session and
    go for a few seconds; the watchdog then rightly tells it, and what it tells is judged
    against this ground truth, not against the injected faults alone. On KRaft, nothing is
    watched (registrations do not vanish there)."""

    def __init__(self, cluster: KafkaCluster) -> None:
        self._lock = threading.Lock()
        self._registered: set[int] | None = None
        self._vanished: set[int] = set()
        self._client: KazooClient | None = None
        hosts = getattr(cluster, "zk_hosts", None)
        if hosts is None:
            return
        self._client = KazooClient(hosts=f"{hosts}{getattr(cluster, 'chroot', '')}", timeout=10)
        self._client.start(timeout=30)
        ChildrenWatch(self._client, "/brokers/ids", self._changed)

    def _changed(self, children: list[str]) -> None:
        now = {int(c) for c in children if c.isdigit()}
        with self._lock:
            if self._registered is not None:
                self._vanished |= self._registered - now
            self._registered = now

    def take(self) -> set[int]:
        """The brokers that vanished since the last call."""
        with self._lock:
            vanished, self._vanished = self._vanished, set()
            return vanished

    def close(self) -> None:
        if self._client is not None:
            self._client.stop()
            self._client.close()


class Chaos:
    """One chaos run on one cluster: its workload, the daemon, the pager and the scraper."""

    def __init__(self, cluster: KafkaCluster, workdir: Path, name: str = "chaos") -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.name = name
        self.prefix = f"chaos-{uuid.uuid4().hex[:6]}"
        self.topic = self.prefix
        self.stopped: list[str] = []  # chosen in setup: some coordinated by every broker
        self.live = f"{self.prefix}-live"
        self.pager = Pager()
        self.daemon: Daemon | None = None
        self.processes = 0
        self.scraper = Scraper(self)
        self.consumer: RateConsumer | None = None
        # The allowed incidents: (rule, subject...) that the faults so far explain.
        self.explained: set[tuple[str, ...]] = set()
        self.dropouts: Dropouts | None = None
        self.log: list[str] = []

    # -- set-up and tear-down -----------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        ours = {"include": [f"{re.escape(self.prefix)}.*"]}
        zookeeper = getattr(self.cluster, "zk_connect", None)
        cluster: dict[str, Any] = {
            "name": self.name,
            "bootstrap_servers": self.cluster.bootstrap_servers,
        }
        if zookeeper:
            cluster["zookeeper"] = {"connect": zookeeper}
        now = {"for": "0s"}
        return {
            "log": {"level": "info"},
            "collection": {
                "metadata_interval": "1s",
                "offsets_interval": "1s",
                "configs_interval": "5s",
                "request_timeout": "3s",
            },
            "lag": {"window": "6s", "min_samples": 3},
            "clusters": [cluster],
            "alerting": {
                "evaluation_interval": f"{EVALUATION_INTERVAL}s",
                "state_dir": str(self.workdir / "state"),
                "group_wait": f"{GROUP_WAIT}s",
                "group_interval": f"{GROUP_INTERVAL}s",
                "repeat_interval": "12h",
                "group_by": GROUP_BY,
                # Nothing muted: every incident is told. No flap damping either: the faults
                # hit the same partitions again and again on purpose, and each is an
                # incident of its own (damping has tests of its own).
                "inhibit": [],
                "flap_count": 1000,
                "rules": {
                    "under_replicated": {**now, "topics": ours},
                    "under_min_isr": {**now, "topics": ours},
                    "offline_partitions": {"topics": ours},
                    "broker_gone": now,
                    "controller_missing": now,
                    "zookeeper_session_lost": now,
                    "consumer_stalled": {**now, "groups": ours},
                    "consumer_lag": {**now, "threshold": 10, "groups": ours},
                    "consumer_lag_seconds": {**now, "threshold": 5, "groups": ours},
                    "commit_beyond_log_end": {"groups": ours},
                    "unclean_leader_election": {"topics": ours},
                    "log_truncation": {"topics": ours},
                    "risky_topic_config": {"enabled": False},
                    "controller_flapping": {"enabled": False},
                    "isr_shrink_rate": {"enabled": False},
                    "partly_blind": {"for": "3s"},
                },
                "receivers": [
                    {
                        "name": "pager",
                        "severities": ["critical", "warning", "info"],
                        "matchers": {"rule": "|".join(PAGED)},
                        "pagerduty": {
                            "routing_key": "chaos-pagerduty-routing-key",
                            "api_base": f"http://127.0.0.1:{self.pager.port}",
                        },
                    }
                ],
            },
        }

    def coordinators(self, groups: Iterable[str]) -> dict[str, int]:
        """Each group's coordinator (FindCoordinator answers for groups not created yet)."""
        # Right after leadership moved (the preferred election in setup) a new coordinator
        # answers COORDINATOR_LOAD_IN_PROGRESS while it loads its groups: ask those again
        # until every group has its coordinator.
        found: dict[str, int] = {}
        left = list(groups)
        deadline = time.monotonic() + 120
        while left:
            futures = self.cluster.admin.describe_consumer_groups(left, request_timeout=60)
            for group, future in futures.items():
                try:
                    found[group] = future.result().coordinator.id
                except KafkaException as exc:
                    if exc.args[0].code() not in _MOVING or time.monotonic() > deadline:
                        raise
            left = [g for g in left if g not in found]
            if left:
                time.sleep(0.5)
        return found

    def setup(self) -> None:
        """The workload, then the daemon; returns once the stopped groups' alerts fired."""
        began = time.time()
        cluster = self.cluster
        self.dropouts = Dropouts(cluster)
        # Earlier tests on the session cluster killed and restarted brokers, and a restarted
        # broker leads nothing until the controller's next imbalance check (5 minutes): give
        # every partition, __consumer_offsets' included, back to its preferred leader, so
        # that every broker coordinates groups and leads partitions, as the faults assume.
        # A preferred leader still catching up is refused; try again while one is missing
        # (a fault that needs a broker it cannot find says so in coordinator_and_leader).
        names = [f"{self.prefix}-stop-{i}" for i in range(40)]
        for _ in range(3):
            with contextlib.suppress(ToolError):  # timed out: the lookup below says
                cluster.run_tool(
                    "LeaderElectionCommand",
                    "--election-type",
                    "PREFERRED",
                    "--all-topic-partitions",
                    "--admin.config",
                    cluster.fault_tool_config(),
                    timeout=120,
                    check=False,  # partitions led by their preferred leader are refused
                )
            # Stopped groups coordinated by every broker: any broker's fault hits some.
            candidates = self.coordinators(names)
            if set(candidates.values()) >= set(cluster.broker_ids):
                break
            time.sleep(5)  # the refused preferred leaders are back in the ISR in seconds
        for broker in cluster.broker_ids:
            mine = sorted(g for g, b in candidates.items() if b == broker)
            self.stopped += mine[: STOPPED_GROUPS // len(cluster.broker_ids) or 1]
        cluster.create_topic(self.topic, partitions=PARTITIONS, rf=3)
        producer = Producer({**cluster.client_config, "acks": "all", "linger.ms": 5})
        for p in range(PARTITIONS):
            for i in range(RECORDS):
                producer.produce(self.topic, value=b"x" * 50, partition=p, key=str(i).encode())
        assert producer.flush(60) == 0
        for group in self.stopped:
            consumer = Consumer({**cluster.client_config, "group.id": group})
            try:
                consumer.commit(
                    offsets=[TopicPartition(self.topic, p, STOPPED_AT) for p in range(PARTITIONS)],
                    asynchronous=False,
                )
            finally:
                consumer.close()
        self.consumer = RateConsumer(cluster.bootstrap_servers, self.topic, self.live).start()
        self.consumer.wait_consumed(PARTITIONS * RECORDS, timeout=90)
        lag = RECORDS - STOPPED_AT
        want = {g: dict.fromkeys(range(PARTITIONS), lag) for g in self.stopped}
        seen: list[object] = []
        # ConsumerGroupCommand answers nothing while a coordinator still loads (a busy
        # machine): ask until it shows exactly the commits made.
        wait(
            lambda: seen.append(group_command(cluster, self.stopped)) or seen[-1] == want,
            lambda: f"ConsumerGroupCommand to show the stopped groups' lag: {seen[-1:]}",
            120,
        )
        for group in self.stopped:
            for rule in CONSUMER_RULES:
                labels = {"rule": rule, "group": group}
                if rule != "consumer_stalled":
                    labels["topic"] = self.topic
                self.explained.add(subject(labels))
        self.start_daemon()
        self.scraper.start()
        wait(
            lambda: {subject(a) for a in self.firing()} >= self.explained,
            lambda: f"the stopped groups' alerts to fire; firing: {self.firing()}",
            120,
        )
        self.settled()
        self.note(f"set up in {time.time() - began:.0f}s")

    def close(self) -> None:
        self.scraper.stop()
        if self.dropouts is not None:
            self.dropouts.close()
        if self.consumer is not None:
            self.consumer.stop()
        if self.daemon is not None:
            self.daemon.__exit__(None, None, None)
        self.pager.close()

    # -- the daemon ---------------------------------------------------------------------------

    def start_daemon(self) -> Daemon:
        self.processes += 1
        workdir = self.workdir / f"daemon-{self.processes}"
        workdir.mkdir(parents=True, exist_ok=True)
        daemon = Daemon(workdir, self.config())
        self.daemon = daemon.__enter__()
        daemon.wait(lambda: daemon.clusters()[self.name]["ready"], "the cluster in view", 90)
        return daemon

    def restart_daemon(self) -> None:
        """SIGTERM, then a new process on the same state dir, in the middle of a fault."""
        assert self.daemon is not None
        self.note("restart the watchdog")
        assert self.daemon.terminate() == 0, self.daemon.log()[-3000:]
        self.daemon.__exit__(None, None, None)
        self.start_daemon()

    def alerts(self) -> list[dict[str, Any]]:
        assert self.daemon is not None
        status, body = self.daemon.get("/api/alerts")
        assert status == 200, body
        return [
            {"rule": a["finding"]["rule"], "state": a["state"], **a["finding"]["labels"]}
            for a in json.loads(body)
        ]

    def firing(self, rule: str | None = None) -> list[dict[str, Any]]:
        return [a for a in self.alerts() if a["state"] == "firing" and rule in (None, a["rule"])]

    def evaluations(self) -> int:
        return int(self.scraper.value("kafka_watchdog_alert_evaluations_total") or 0)

    def settled(self) -> None:
        """Wait until whatever the daemon decided by now has reached the pager: enough
        evaluations to span group_wait and group_interval, and an empty outbox."""
        daemon = self.daemon
        assert daemon is not None
        span = max(GROUP_WAIT, GROUP_INTERVAL)
        target = self.evaluations() + math.ceil(span / EVALUATION_INTERVAL) + 2
        daemon.wait(
            lambda: (
                self.evaluations() >= target
                and self.scraper.value("kafka_watchdog_notifications_queued", receiver="pager") == 0
            ),
            f"{target} alert evaluations and an empty outbox",
            120,
        )

    def watched(self, labels: dict[str, str]) -> bool:
        """Whether a series names a subject of the workload that exists throughout."""
        group = labels.get("group")
        if group is not None:
            return group.startswith(self.prefix)
        return labels.get("topic") == self.topic and "partition" in labels

    def note(self, what: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S', time.gmtime())}Z {what}")

    # -- the oracle and the checks ------------------------------------------------------------

    def truth(self) -> dict[int, PartitionTruth]:
        return topic_command(self.cluster, self.topic)

    def agree_with_topic_command(self, timeout: float = 90) -> dict[int, PartitionTruth]:
        """Wait until the daemon's firing partition alerts are exactly what TopicCommand
        says (two readings of a live cluster, compared until they agree once). Returns the
        truth they agreed on."""
        last: list[str] = []

        def agree() -> dict[int, PartitionTruth] | None:
            truth = self.truth()
            want = {("under_replicated", p) for p, t in truth.items() if t.under_replicated} | {
                ("under_min_isr", p)
                for p, t in truth.items()
                if t.under_min_isr() and t.leader >= 0
            }
            got = {
                (a["rule"], int(a["partition"]))
                for a in self.firing()
                if a["rule"] in ("under_replicated", "under_min_isr")
                and a.get("topic") == self.topic
            }
            last[:] = [f"TopicCommand {sorted(want)}", f"daemon {sorted(got)}"]
            return truth if want == got else None

        truth: dict[int, PartitionTruth] = wait(
            agree, lambda: f"agreement with TopicCommand: {last}", timeout
        )
        return truth

    def check_pages(self, since: float, *, resolved_by_now: bool) -> None:
        """Exactly one page and at most one resolve per incident; nothing paged that no
        fault explains; the stopped groups' alerts paged once in the whole run and never
        resolved. With `resolved_by_now`: every incident opened since `since` is resolved,
        except the stopped groups' (their condition holds for good)."""
        problems = []
        dropped = self.dropouts.take() if self.dropouts is not None else set()
        if dropped:
            self.note(f"the cluster dropped broker(s) {sorted(dropped)} by itself")
            self.explain_fault(dropped)
        for page in self.pager.since(0):
            if subject(page.labels) not in self.explained:
                problems.append(f"paged without a fault that explains it: {page}")
        by_key: dict[str, list[Page]] = defaultdict(list)
        for page in self.pager.since(0):
            by_key[page.key].append(page)
        for pages in by_key.values():
            actions = [p.action for p in pages]
            labels = next((p.labels for p in pages if p.labels), {})
            if labels.get("group") in self.stopped:
                if actions != ["trigger"]:
                    problems.append(f"a stopped group's alert paged {actions}: {labels}")
                continue
            # Incidents: trigger, resolve, trigger, resolve... (a fault may recur).
            expected = ["trigger", "resolve"] * len(actions)
            if actions != expected[: len(actions)]:
                problems.append(f"not one page and one resolve per incident: {actions} {labels}")
            recent = [p for p in pages if p.at >= since]
            if resolved_by_now and recent and recent[-1].action != "resolve":
                problems.append(f"still open after healing: {labels}")
        assert not problems, "\n".join(problems)

    def check_no_resolve_while_it_holds(
        self, since: float, truth: dict[int, PartitionTruth]
    ) -> None:
        """No resolve since `since` (the fault) for an alert whose condition holds now."""
        holds = {
            subject({"rule": "under_replicated", "topic": self.topic, "partition": str(p)})
            for p, t in truth.items()
            if t.under_replicated
        } | {
            subject({"rule": "under_min_isr", "topic": self.topic, "partition": str(p)})
            for p, t in truth.items()
            if t.under_min_isr() and t.leader >= 0
        }
        wrong = [
            p
            for p in self.pager.since(since)
            if p.action == "resolve" and subject(p.labels) in holds
        ]
        assert not wrong, f"resolved while TopicCommand says it still holds: {wrong}"

    def check_live_group_never_fired(self) -> None:
        live = [a for a in self.alerts() if a.get("group") == self.live and a["state"] != "pending"]
        assert not live, f"an alert fired for the group that keeps up: {live}"

    def check_scraper(self) -> None:
        assert not self.scraper.violations, "\n".join(self.scraper.violations[:20])

    def check_stopped_groups_still_hold(self) -> None:
        truth = group_command(self.cluster, self.stopped)
        lag = RECORDS - STOPPED_AT
        assert truth == {g: dict.fromkeys(range(PARTITIONS), lag) for g in self.stopped}, truth
        firing = {subject(a) for a in self.firing() if a.get("group") in self.stopped}
        assert firing == {s for s in self.explained if s[0] in CONSUMER_RULES}, firing

    def led_by(self, broker: int) -> list[int]:
        """The partitions of the run's topic that `broker` leads now."""
        meta = self.cluster.metadata(self.topic).topics[self.topic]
        return [p for p, part in meta.partitions.items() if part.leader == broker]

    def wait_leader_changes(self, at_least: int) -> None:
        """The running daemon counted at least `at_least` leader changes of the topic (a
        killed leader's partitions moved, possibly through a moment without a leader)."""
        wait(
            lambda: (self.scraper.value(
                "kafka_watchdog_leader_changes_total", topic=self.topic) or 0) >= at_least,
            f"{at_least} leader changes of {self.topic} counted",
        )  # fmt: skip

    def registered(self) -> set[int]:
        return set(self.cluster.metadata().brokers)

    def explain_fault(self, brokers: Iterable[int]) -> None:
        """What a fault on `brokers` may rightly raise, whatever the order Kafka acts in:
        the broker gone; the partitions they hold a replica of under-replicated, under
        min ISR, or offline for a moment (a dead leader's partition may pass through 'no
        leader' before its successor is elected). TopicCommand then checks the settled
        state exactly (`agree_with_topic_command`)."""
        hit = set(brokers)
        meta = self.cluster.metadata(self.topic).topics[self.topic]
        for p, part in meta.partitions.items():
            if hit & set(part.replicas):
                where = {"topic": self.topic, "partition": str(p)}
                for rule in ("under_replicated", "under_min_isr", "offline_partitions"):
                    self.explained.add(subject({"rule": rule, **where}))
        for broker in hit:
            self.explained.add(subject({"rule": "broker_gone", "broker": str(broker)}))

    def explain_zookeeper_fault(self) -> None:
        """One ZooKeeper node of three killed or frozen: the quorum stays and the Admin path
        goes on. The watchdog's session, if it was on that node (or on any, when the node
        was the leader: every server drops its clients while a new one is elected), is
        suspended until it moves: zookeeper_session_lost (with `for: 0s` here) may page. A
        broker's session may expire the same way on a busy machine: any broker may rightly
        go and come back."""
        self.explain("zookeeper_session_lost")
        self.explain_fault(self.cluster.broker_ids)

    def collected_since(self, moment: float) -> bool:
        """The watchdog's metadata stage answered after `moment`, as its /metrics says."""
        last = self.scraper.value(
            "kafka_watchdog_last_collection_success_timestamp_seconds", stage="metadata"
        )
        return (last or 0) > moment

    def explain(self, rule: str, **labels: str) -> None:
        self.explained.add(subject({"rule": rule, **labels}))

    def open_incidents(self) -> list[dict[str, Any]]:
        """Firing alerts other than the stopped groups' (which hold for good)."""
        return [a for a in self.firing() if a.get("group") not in self.stopped]


def in_parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Run oracle calls (each one JVM) at once: their start-up is most of their cost."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(c) for c in calls]]


# -- one fault, start to end (the chaos suite and bench/soak.py) -------------------------------


def fault(
    run: Chaos,
    name: str,
    hit: list[int],
    inject: Callable[[], None],
    *,
    restart_at_once: bool = False,
    seen: Callable[[], Any] | None = None,
    during: Callable[[], None] | None = None,
    before_restart: Callable[[], None] | None = None,
    oracle: bool = True,
    blinds: bool = True,
) -> None:
    """One fault: inject it, restart the watchdog in its middle, check the invariants
    while it holds, heal the cluster, check them again once everything resolved.
    `oracle` False: TopicCommand cannot answer during this fault (the brokers block on a
    ZooKeeper without quorum); nothing may resolve during it then. `blinds` False: the
    daemon may see all through it (a fault the cluster absorbs), so it need not say it
    could not see."""
    began = time.time()
    run.note(f"{name}: {hit}")
    run.explain_fault(hit)
    inject()
    if not restart_at_once:
        wait(seen or (lambda: run.open_incidents()), f"{name}: the fault seen", 120)
        run.settled()
    if before_restart is not None:
        before_restart()
    run.restart_daemon()
    if seen is not None:
        wait(seen, f"{name}: the fault seen after the restart", 120)
    # While it holds: the daemon agrees with TopicCommand, nothing that holds resolved.
    if oracle:
        truth = run.agree_with_topic_command()
        run.settled()
        run.check_no_resolve_while_it_holds(began, truth)
    else:
        run.settled()
        resolved = [p for p in run.pager.since(began) if p.action == "resolve"]
        assert not resolved, f"{name}: resolved while nothing could change: {resolved}"
    run.check_pages(began, resolved_by_now=False)
    if during is not None:
        during()
    if blinds:
        assert run.scraper.blind_since(began), f"{name}: the daemon never said it could not see"
    run.check_scraper()
    # Healed: every incident of this fault resolved once, the stopped groups' alerts hold.
    run.note(f"{name}: heal")
    run.cluster.heal(timeout=180)
    wait(lambda: not run.open_incidents(), lambda: f"{name}: resolved: {run.open_incidents()}")
    run.settled()
    run.check_pages(began, resolved_by_now=True)
    run.check_live_group_never_fired()
    run.check_scraper()
    run.note(f"{name}: done in {time.time() - began:.0f}s")


def coordinator_and_leader(run: Chaos, exclude: int) -> int:
    """A broker other than `exclude` that coordinates stopped groups and leads partitions."""
    coordinators = run.coordinators(run.stopped)
    leaders = {
        p.leader for p in run.cluster.metadata(run.topic).topics[run.topic].partitions.values()
    }
    candidates = [b for b in set(coordinators.values()) & leaders if b != exclude]
    assert candidates, (
        f"no broker but {exclude} both coordinates stopped groups {coordinators} and leads "
        f"a partition of {run.topic} (leaders {sorted(leaders)})"
    )
    return max(candidates, key=lambda b: list(coordinators.values()).count(b))
