"""The operator kit on a real Prometheus: the dashboards' queries, the broker and watchdog
rules and the JMX exporter config, against a real cluster in a known state.

One KRaft cluster for the whole module (its brokers run the JMX exporter agent with
alerts/jmx-exporter/kafka-broker.yml), the real watchdog daemon, and Debian's Prometheus
scraping both with both rule files loaded. The state: a paused follower (under-replication),
a group that committed more than consumer_lag's threshold behind the log end (lag), a topic
with min.insync.replicas=1 at RF 3 (a risky config), a receiver nobody listens on (failing
notifications). Then:
- every panel query of every dashboard, with the Grafana variables substituted, parses in
  Prometheus, and the ones that should show data return at least one series;
- the dashboards' variables list the cluster;
- every rule of both files loads and evaluates without error; KafkaUnderReplicatedPartitions
  fires, and so do the watchdog rules' under_replicated, consumer_lag and
  notifications_failing, with the labels and annotations an on-call person reads;
- the brokers export exactly the broker metrics the catalogue declares for KRaft (and, on a
  one-broker ZooKeeper-mode cluster, for ZooKeeper mode).
"""

from __future__ import annotations

import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from kafka_watchdog.rules.registry import BY_NAME
from kafka_watchdog.sinks.metrics.catalogue import BROKER_METRICS
from testcluster import KraftCluster, ZkKafkaCluster
from testcluster.prometheus import PrometheusServer, QueryError, ScrapeJob
from tests.integration.daemon import Daemon, free_port
from tools.dashboards import DASHBOARDS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "kit"
GROUP = "billing"
BROKER_JOB = "kafka-brokers"
# What Grafana would put in place of the variables. $__rate_interval is at least four scrape
# intervals in Grafana; 20 s holds enough 1 s samples for rate() and deriv().
VARIABLES = {
    "$kafka_cluster": CLUSTER,
    "$instance": ".*",
    "$topic": ".*",
    "$group": ".*",
    "$__rate_interval": "20s",
    "$__interval": "5s",
    "$__range": "5m",
}


@dataclass
class Kit:
    cluster: KraftCluster
    daemon: Daemon
    prometheus: PrometheusServer
    paused: int
    topic: str


def substitute(expr: str) -> str:
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
    assert "$" not in expr, f"a variable the test does not know: {expr}"
    return expr


def rules_firing_at_once(tmp: Path) -> list[Path]:
    """The rule files as shipped, except `for`: the expressions, labels and annotations are
    what is tested here; the `for` durations are promtool's to test (alerts/tests)."""
    copies = []
    for path in sorted((ROOT / "alerts").glob("*.rules.yml")):
        copy = tmp / path.name
        copy.write_text(re.sub(r"(?m)^(\s+)for: \S+$", r"\1for: 0s", path.read_text()))
        copies.append(copy)
    return copies


def lagging_group(bootstrap: str, topic: str, partitions: int) -> None:
    """A group behind by more than consumer_lag's default threshold on `topic` (its
    Prometheus alert has that threshold: the rule file carries the registry's defaults)."""
    threshold = BY_NAME["consumer_lag"].threshold
    assert threshold is not None
    per_partition = int(threshold) // partitions + 100
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
    for i in range(per_partition * partitions):
        while True:
            try:
                producer.produce(topic, value=b"x" * 10, partition=i % partitions)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.5)
    assert producer.flush(120) == 0
    # A commit without joining: the group is Empty and per_partition - 10 records behind on
    # each partition.
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False}
    )
    try:
        offsets = [TopicPartition(topic, p, 10) for p in range(partitions)]
        consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()


def values(prom: PrometheusServer, expr: str) -> list[float]:
    return [float(r["value"][1]) for r in prom.query(expr)]


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    tmp = tmp_path_factory.mktemp("prometheus-kit")
    cluster = KraftCluster(tmp / "cluster").with_jmx_exporter()
    cluster.start()
    try:
        topic = f"orders-{uuid.uuid4().hex[:6]}"
        # retry: a create that timed out on a busy machine and was resent finds its topic.
        cluster.create_topic(topic, partitions=3, rf=3, retry=True)
        cluster.create_topic(
            f"risky-{uuid.uuid4().hex[:6]}",
            partitions=1,
            rf=3,
            config={"min.insync.replicas": "1"},
            retry=True,
        )
        lagging_group(cluster.bootstrap_servers, topic, 3)
        config = {
            "collection": {
                "metadata_interval": "1s",
                "offsets_interval": "1s",
                "request_timeout": "3s",
            },
            "clusters": [{"name": CLUSTER, "bootstrap_servers": cluster.bootstrap_servers}],
            "alerting": {
                "evaluation_interval": "1s",
                "group_wait": "1s",
                "retry_max_interval": "2s",
                # Nobody listens there: deliveries fail and queue, as a receiver outage would.
                "receivers": [{"name": "chat", "apprise": [f"json://127.0.0.1:{free_port()}/"]}],
            },
        }
        with Daemon(tmp, config) as daemon:
            daemon.wait(lambda: daemon.clusters()[CLUSTER]["ready"], "the watchdog's view", 90)
            jobs = [
                ScrapeJob("kafka-watchdog", {f"127.0.0.1:{daemon.port}": {}}),
                ScrapeJob(
                    BROKER_JOB,
                    {
                        target: {"kafka_cluster": CLUSTER, "broker": str(broker)}
                        for broker, target in cluster.exporter_targets.items()
                    },
                ),
            ]
            with PrometheusServer(tmp, jobs, rules_firing_at_once(tmp)) as prom:
                prom.wait_for(
                    lambda: len(values(prom, "up == 1")) == 1 + len(cluster.brokers),
                    60,
                    "every target scraped",
                )
                # Pause a follower that is not the active controller (KRaft nodes here are
                # brokers and controllers both): its partitions lose it from their ISRs.
                controller = prom.wait_for(
                    lambda: values(
                        prom, f'max(kafka_server_raft_current_leader{{job="{BROKER_JOB}"}})'
                    ),
                    60,
                    "the quorum leader seen by the exporters",
                )[0]
                paused = next(b for b in cluster.broker_ids if b != int(controller))
                cluster.broker(paused).pause()
                yield Kit(cluster, daemon, prom, paused, topic)
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def faulty(kit: Kit) -> Kit:
    """The known state, seen by Prometheus through both the brokers and the watchdog."""
    prom = kit.prometheus
    sel = f'kafka_cluster="{CLUSTER}"'
    waits = {
        "the brokers' under-replicated partitions": (
            f"sum(kafka_server_replicamanager_underreplicatedpartitions{{{sel}}}) > 0"
        ),
        "the watchdog's under-replicated partitions": (
            f"kafka_watchdog_under_replicated_partitions{{{sel}}} > 0"
        ),
        "the group's lag": f'kafka_watchdog_consumergroup_topic_lag{{{sel}, group="{GROUP}"}} > 0',
        "the risky topic's hazard": f"kafka_watchdog_topic_config_hazard{{{sel}}}",
        # 20 s of lag samples: every [$__rate_interval] window holds enough points.
        "20 s of samples": (
            f'count_over_time(kafka_watchdog_consumergroup_topic_lag{{group="{GROUP}"}}[20s]) > 15'
        ),
    }
    for what, expr in waits.items():
        prom.wait_for(lambda expr=expr: prom.query(expr), 120, what)
    return kit


def test_01_kraft_brokers_export_exactly_the_declared_broker_metrics(kit: Kit) -> None:
    names = set(kit.prometheus.label_values("__name__", f'{{job="{BROKER_JOB}"}}'))
    declared = {s for m in BROKER_METRICS if "kraft" in m.modes for s in m.samples}
    assert declared - names == set(), "declared for KRaft but not exported"
    kafka = {n for n in names if n.startswith("kafka_")}
    assert kafka - declared == set(), "exported but not declared in the catalogue"


def test_02_variables_list_the_cluster(faulty: Kit) -> None:
    for name, build in DASHBOARDS.items():
        board = build()
        for variable in (v.build() for v in board.variables):
            if variable.type_val != "query":
                continue
            query = str(variable.query)
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
            assert match, f"{name}: {query}"
            series, label = substitute(match[1]), match[2]
            found = faulty.prometheus.label_values(label, series)
            assert found, f"{name}: variable {variable.name} lists nothing ({query})"
            if label == "kafka_cluster":
                assert CLUSTER in found, f"{name}: {found}"


def test_03_every_panel_query_parses_and_shows_data(faulty: Kit) -> None:
    errors, empty = [], []
    checked = 0
    for name, build in DASHBOARDS.items():
        for q in build().expectations:
            expr = substitute(q.expr)
            where = f"{name} / {q.panel} / {q.ref_id}"
            try:
                result = faulty.prometheus.query(expr)
            except QueryError as exc:
                errors.append(f"{where}: {exc}")
                continue
            checked += 1
            if not result and not q.empty_ok and "kraft" in q.modes:
                empty.append(f"{where}: {expr}")
    assert not errors, "queries Prometheus refused:\n" + "\n".join(errors)
    assert not empty, "queries that should show data but returned nothing:\n" + "\n".join(empty)
    assert checked > 50


def test_04_rules_evaluate_and_under_replication_fires(faulty: Kit) -> None:
    prom = faulty.prometheus

    def firing() -> list[dict[str, Any]]:
        return [
            a
            for a in prom.alerts()
            if a["labels"]["alertname"] == "KafkaUnderReplicatedPartitions"
            and a["state"] == "firing"
        ]

    (alert,) = prom.wait_for(firing, 60, "KafkaUnderReplicatedPartitions to fire")
    assert alert["labels"]["kafka_cluster"] == CLUSTER
    assert alert["labels"]["severity"] == "warning"
    assert (
        f"under-replicated partitions in Kafka cluster {CLUSTER}"
        in (alert["annotations"]["summary"])
    )
    assert alert["annotations"]["runbook_url"].startswith("https://")
    # Every rule of every file evaluated without error (a typo in a metric name does not
    # error, so test_01 and the unit tests check the names).
    rules = prom.rules()
    assert rules
    bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not bad, bad


def test_05_zookeeper_brokers_export_exactly_the_declared_broker_metrics(
    tmp_path: Path,
) -> None:
    # One ZooKeeper node and one broker: enough to see every MBean the config reads.
    with ZkKafkaCluster(tmp_path / "zk", brokers=1, zk_nodes=1).with_jmx_exporter() as zk:
        (target,) = zk.exporter_targets.values()
        deadline = time.monotonic() + 60
        while True:
            with urllib.request.urlopen(f"http://{target}/metrics", timeout=10) as answer:
                text = answer.read().decode()
            if "kafka_server_replicamanager_partitioncount" in text:
                break
            assert time.monotonic() < deadline, "the exporter never listed the broker's MBeans"
            time.sleep(0.5)
    names = {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }
    declared = {s for m in BROKER_METRICS if "zookeeper" in m.modes for s in m.samples}
    assert declared - names == set(), "declared for ZooKeeper mode but not exported"
    kafka = {n for n in names if n.startswith("kafka_")}
    assert kafka - declared == set(), "exported but not declared in the catalogue"


def test_06_watchdog_rules_load_and_fire_for_the_injected_faults(faulty: Kit) -> None:
    prom = faulty.prometheus
    path = ROOT / "alerts" / "kafka-watchdog.rules.yml"
    shipped = set(re.findall(r"(?m)^      - alert: (\S+)$", path.read_text()))
    loaded = {r["name"] for r in prom.rules() if r["type"] == "alerting"}
    assert shipped <= loaded, f"not loaded: {sorted(shipped - loaded)}"

    def firing(name: str, **labels: str) -> list[dict[str, Any]]:
        return [
            a
            for a in prom.alerts()
            if a["labels"]["alertname"] == name
            and a["state"] == "firing"
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]

    where = {"kafka_cluster": CLUSTER, "topic": faulty.topic}
    (urp,) = prom.wait_for(lambda: firing("under_replicated", **where), 60, "under_replicated")
    assert urp["labels"] == {
        "alertname": "under_replicated",
        "rule": "under_replicated",
        "severity": "warning",
        **where,
    }  # one alert, not one per partition nor per scrape target
    assert urp["annotations"]["summary"] == (
        f"{int(float(urp['value']))} under-replicated partitions in topic {faulty.topic} "
        f"of Kafka cluster {CLUSTER}"
    )
    lag_where = {"kafka_cluster": CLUSTER, "group": GROUP, "topic": faulty.topic}
    (lag,) = prom.wait_for(lambda: firing("consumer_lag", **lag_where), 60, "consumer_lag")
    assert lag["labels"]["severity"] == "warning"
    assert lag["annotations"]["summary"].startswith(f"Group {GROUP} lags ")
    assert f"on topic {faulty.topic} in Kafka cluster {CLUSTER}" in lag["annotations"]["summary"]
    # The receiver nobody listens on: the watchdog's own delivery trouble, which only
    # Prometheus can tell.
    (failing,) = prom.wait_for(
        lambda: firing("notifications_failing", receiver="chat"), 60, "notifications_failing"
    )
    assert failing["labels"]["target"] == "apprise"
    for alert in (urp, lag, failing):
        url = alert["annotations"]["runbook_url"]
        assert url.startswith("https://") and url.endswith(f"/{alert['labels']['rule']}.md")
