"""alerts/kafka-broker.rules.yml: Prometheus alerting rules on the brokers' JMX exporter
metrics (alerts/jmx-exporter/kafka-broker.yml), declared once here and written by
`make generate`.

ZooKeeper mode and KRaft differ in who reports the controller's metrics, and the rules are
written to hold for both:
- ActiveControllerCount: every ZooKeeper-mode broker reports it (1 on the controller, 0
  elsewhere); in KRaft only the controllers do (1 on the active one). Summed per cluster, a
  healthy cluster has exactly 1 either way.
- OfflinePartitionsCount: the ZooKeeper-mode controller alone counts (others report 0); every
  KRaft controller, active or standby, reports the same count. max() per cluster is right
  for both, where sum() would triple-count on KRaft.
- UncleanLeaderElectionsPerSec: the same ControllerStats MBean in both modes, on the active
  controller.
- FencedBrokerCount is only ever non-zero on KRaft (brokers that stopped heartbeating).

Clusters are told apart by the `kafka_cluster` target label that the scrape config sets on
broker targets (docs/operating.md); without it every broker counts as one cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka_watchdog.rules.spec import runbook_url
from tools.rulefile import quoted, runbook_base

# The runbook links are absolute, from the one base of tools/rulefile.py (a relative path is
# useless in a chat message); `make generate RUNBOOK_BASE_URL=...` points them elsewhere.


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: str  # file name under docs/runbooks, without .md


@dataclass(frozen=True)
class Group:
    name: str
    alerts: tuple[Alert, ...]


IN_CLUSTER = "in Kafka cluster {{ $labels.kafka_cluster }}"
ON_BROKER = "on broker {{ $labels.instance }} of Kafka cluster {{ $labels.kafka_cluster }}"

GROUPS: tuple[Group, ...] = (
    Group(
        "kafka-broker-availability",
        (
            Alert(
                "KafkaOfflinePartitions",
                "max by (kafka_cluster) (kafka_controller_kafkacontroller_offlinepartitionscount)"
                " > 0",
                "1m",
                "critical",
                "{{ $value }} partitions without a leader " + IN_CLUSTER,
                "The controller counts {{ $value }} partitions with no leader: nobody can "
                "produce to or consume from them until a replica comes back.",
                "offline_partitions",
            ),
            Alert(
                "KafkaUnderMinIsrPartitions",
                "sum by (kafka_cluster) (kafka_server_replicamanager_underminisrpartitioncount)"
                " > 0",
                "1m",
                "critical",
                "{{ $value }} partitions under min.insync.replicas " + IN_CLUSTER,
                "{{ $value }} partitions have fewer in-sync replicas than min.insync.replicas: "
                "producers with acks=all get NOT_ENOUGH_REPLICAS.",
                "under_min_isr",
            ),
            Alert(
                "KafkaOfflineLogDirectory",
                "max by (kafka_cluster, instance) (kafka_log_logmanager_offlinelogdirectorycount)"
                " > 0",
                "1m",
                "critical",
                "{{ $value }} offline log directories " + ON_BROKER,
                "A log directory of broker {{ $labels.instance }} went offline (a failed or "
                "full disk): its replicas there are offline until the directory is repaired "
                "and the broker restarted.",
                "broker_offline_log_directory",
            ),
        ),
    ),
    Group(
        "kafka-broker-replication",
        (
            Alert(
                "KafkaUnderReplicatedPartitions",
                "sum by (kafka_cluster) (kafka_server_replicamanager_underreplicatedpartitions)"
                " > 0",
                "5m",
                "warning",
                "{{ $value }} under-replicated partitions " + IN_CLUSTER,
                "{{ $value }} partitions have had fewer in-sync replicas than replicas for 5 "
                "minutes: one more failure from writes failing. The brokers dashboard shows "
                "which leaders report them.",
                "under_replicated",
            ),
            Alert(
                "KafkaIsrShrinking",
                "sum by (kafka_cluster, instance) "
                "(rate(kafka_server_replicamanager_isrshrinks_total[5m])) > 0",
                "15m",
                "warning",
                "ISRs keep shrinking " + ON_BROKER,
                "Partitions led by {{ $labels.instance }} have lost in-sync replicas in every "
                "5 minutes for 15 minutes ({{ $value | humanize }} shrinks/s): a follower "
                "falls behind over and over (slow disk, GC pauses, network).",
                "isr_shrink_rate",
            ),
            Alert(
                "KafkaUncleanLeaderElection",
                "sum by (kafka_cluster) "
                "(increase(kafka_controller_controllerstats_uncleanleaderelections_total[1h]))"
                " > 0",
                "0s",
                "critical",
                "Unclean leader election " + IN_CLUSTER,
                "The controller made a replica outside the ISR leader in the last hour: "
                "acknowledged records were lost. Resolves an hour after the last one.",
                "unclean_leader_election",
            ),
        ),
    ),
    Group(
        "kafka-broker-controller",
        (
            Alert(
                "KafkaActiveControllerCount",
                "sum by (kafka_cluster) (kafka_controller_kafkacontroller_activecontrollercount)"
                " != 1",
                "1m",
                "critical",
                "{{ $value }} active controllers " + IN_CLUSTER,
                "Exactly one broker (KRaft: controller) should be the active controller; "
                "{{ $value }} say they are. 0: no leader elections or topic changes happen; "
                "2 or more: a controller is partitioned from the others.",
                "broker_active_controller_count",
            ),
            Alert(
                "KafkaFencedBrokers",
                "max by (kafka_cluster) (kafka_controller_kafkacontroller_fencedbrokercount) > 0",
                "5m",
                "warning",
                "{{ $value }} fenced brokers " + IN_CLUSTER,
                "The KRaft controller has fenced {{ $value }} brokers for 5 minutes (they "
                "stopped heartbeating): they lead nothing and their replicas fall out of the "
                "ISRs. Always 0 in ZooKeeper mode.",
                "broker_fenced",
            ),
        ),
    ),
    Group(
        "kafka-broker-load",
        (
            Alert(
                "KafkaRequestHandlersBusy",
                "avg by (kafka_cluster, instance) (rate("
                "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_seconds_total[5m]))"
                " < 0.2",
                "15m",
                "warning",
                "Request handlers of {{ $labels.instance }} idle only "
                "{{ $value | humanizePercentage }} " + IN_CLUSTER,
                "The request handler threads of broker {{ $labels.instance }} have been more "
                "than 80% busy for 15 minutes: requests queue up and produce and fetch "
                "latency grows.",
                "broker_request_handlers_busy",
            ),
        ),
    ),
)

ALERTS: tuple[Alert, ...] = tuple(a for g in GROUPS for a in g.alerts)


def render(base_url: str | None = None) -> str:
    base = runbook_base(base_url)
    lines = [
        "# Generated by `make generate` from tools/broker_rules.py: edit that, not this.",
        "# Prometheus alerting rules on the Kafka brokers' JMX exporter metrics (the names of",
        "# alerts/jmx-exporter/kafka-broker.yml), for ZooKeeper-mode and KRaft clusters.",
        "# Broker targets need a kafka_cluster label (docs/operating.md). Tests:",
        "# alerts/tests/kafka-broker.test.yml (promtool test rules).",
        "groups:",
    ]
    for group in GROUPS:
        lines += [f"  - name: {group.name}", "    rules:"]
        for alert in group.alerts:
            lines += [
                f"      - alert: {alert.name}",
                f"        expr: {quoted(alert.expr)}",
                f"        for: {alert.for_}",
                "        labels:",
                f"          severity: {alert.severity}",
                "        annotations:",
                f"          summary: {quoted(alert.summary)}",
                f"          description: {quoted(alert.description)}",
                f"          runbook_url: {quoted(runbook_url(alert.runbook, base))}",
            ]
    return "\n".join(lines) + "\n"
