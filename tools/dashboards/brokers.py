"""Kafka brokers, from the brokers' own JMX exporter (alerts/jmx-exporter/kafka-broker.yml),
beside kafka-watchdog's view of the same cluster."""

from __future__ import annotations

from kafka_watchdog.sinks.metrics.catalogue import BROKERS
from tools.dashboards.common import (
    GOOD_IS_ZERO,
    Board,
    Query,
    cluster_matcher,
    datasource_variable,
    label_variable,
    stat,
    thresholds,
    timeseries,
    value_names,
)

# Series every broker exports in both modes, whatever its load: the variables' source.
ALWAYS = "kafka_server_replicamanager_partitioncount"
C = cluster_matcher()  # cluster-wide figures: every broker, whatever $instance says
B = cluster_matcher('instance=~"$instance"')
HEAP = cluster_matcher('instance=~"$instance"', 'area="heap"')
P99 = cluster_matcher('instance=~"$instance"', 'quantile="0.99"')
BY_CLUSTER = "sum by (kafka_cluster)"
PER_BROKER = "{{kafka_cluster}} {{instance}}"
ZK = ("zookeeper",)
KRAFT = ("kraft",)
RATE = "[$__rate_interval]"


def _rate(name: str) -> str:
    return f"sum by (kafka_cluster, instance) (rate({name}{B}{RATE}))"


def build() -> Board:
    board = Board(
        BROKERS,
        "kafka-watchdog-brokers",
        "The brokers' own view (Prometheus JMX exporter with alerts/jmx-exporter/"
        "kafka-broker.yml, ZooKeeper mode and KRaft), beside kafka-watchdog's. The scrape "
        "config gives broker targets a kafka_cluster label (docs/operating.md).",
        [
            datasource_variable(),
            label_variable(
                "kafka_cluster",
                "Cluster",
                f"label_values({ALWAYS}, kafka_cluster)",
                f"Clusters, from the kafka_cluster target label of {ALWAYS} (every broker "
                "exports it).",
            ),
            label_variable(
                "instance",
                "Broker",
                f'label_values({ALWAYS}{{kafka_cluster=~"$kafka_cluster"}}, instance)',
                "Broker exporter targets.",
            ),
        ],
    )
    board.row("Health")
    board.add(
        stat(
            "Active controllers",
            "Brokers (KRaft: controllers) that report being the active controller: exactly "
            "1 when healthy.",
            [
                Query(
                    f"{BY_CLUSTER} (kafka_controller_kafkacontroller_activecontrollercount{C})",
                    "{{kafka_cluster}}",
                )
            ],
            colors=thresholds((None, "red"), (1, "green"), (2, "red")),
        ),
        width=4,
        height=5,
    )
    board.add(
        stat(
            "Offline partitions",
            "Partitions without a leader, as the controller counts them (KRaft: every "
            "controller reports it, so the largest is shown).",
            [
                Query(
                    "max by (kafka_cluster) "
                    f"(kafka_controller_kafkacontroller_offlinepartitionscount{C})",
                    "{{kafka_cluster}}",
                )
            ],
            colors=GOOD_IS_ZERO,
        ),
        width=4,
        height=5,
    )
    for name, title, doc in (
        (
            "kafka_server_replicamanager_underreplicatedpartitions",
            "Under-replicated",
            "Partitions whose ISR is short of their replicas, summed over their leaders.",
        ),
        (
            "kafka_server_replicamanager_underminisrpartitioncount",
            "Under min ISR",
            "Partitions where acks=all producers fail, summed over their leaders.",
        ),
        (
            "kafka_log_logmanager_offlinelogdirectorycount",
            "Offline log dirs",
            "Log directories offline on any broker (a failed disk).",
        ),
    ):
        board.add(
            stat(
                title,
                doc,
                [Query(f"{BY_CLUSTER} ({name}{C})", "{{kafka_cluster}}")],
                colors=GOOD_IS_ZERO,
            ),
            width=4,
            height=5,
        )
    board.add(
        stat(
            "Unclean elections (range)",
            "Unclean leader elections the controllers made in the time range: records were lost.",
            [
                Query(
                    f"{BY_CLUSTER} (increase("
                    f"kafka_controller_controllerstats_uncleanleaderelections_total{C}[$__range]))",
                    "{{kafka_cluster}}",
                )
            ],
            colors=GOOD_IS_ZERO,
        ),
        width=4,
        height=5,
    )
    board.add(
        timeseries(
            "Under-replicated partitions: brokers and watchdog",
            "The brokers' own count beside kafka-watchdog's (from the cluster metadata): they "
            "should agree; a gap means a stale broker metric or a stale watchdog view.",
            [
                Query(
                    f"{BY_CLUSTER} (kafka_server_replicamanager_underreplicatedpartitions{C})",
                    "{{kafka_cluster}} brokers",
                ),
                Query(
                    f"kafka_watchdog_under_replicated_partitions{C}",
                    "{{kafka_cluster}} kafka-watchdog",
                ),
            ],
        ),
        width=12,
    )
    board.add(
        timeseries(
            "Partition health per broker",
            "Per broker: partitions it leads that are under-replicated, under or at min ISR; "
            "replicas it holds that are offline.",
            [
                Query(
                    f"kafka_server_replicamanager_underreplicatedpartitions{B}",
                    f"{PER_BROKER} under-replicated",
                ),
                Query(
                    f"kafka_server_replicamanager_underminisrpartitioncount{B}",
                    f"{PER_BROKER} under min ISR",
                ),
                Query(
                    f"kafka_server_replicamanager_atminisrpartitioncount{B}",
                    f"{PER_BROKER} at min ISR",
                ),
                Query(
                    f"kafka_server_replicamanager_offlinereplicacount{B}",
                    f"{PER_BROKER} offline replicas",
                ),
            ],
        ),
        width=12,
    )
    board.add(
        stat(
            "Broker state",
            "3 running; 6 pending controlled shutdown; 7 shutting down.",
            [Query(f"kafka_server_kafkaserver_brokerstate{B}", "{{instance}}")],
            "none",
            colors=thresholds((None, "orange"), (3, "green"), (4, "orange")),
            mappings=value_names(
                {
                    "3": ("running", "green"),
                    "6": ("pending shutdown", "orange"),
                    "7": ("shutting down", "red"),
                }
            ),
        ),
        width=24,
        height=4,
    )

    board.row("Replication")
    board.add(
        timeseries(
            "ISR shrinks and expansions",
            "Per second, on the partitions each broker leads. Steady shrinks and expansions: "
            "a flapping follower.",
            [
                Query(
                    _rate("kafka_server_replicamanager_isrshrinks_total"), f"{PER_BROKER} shrinks"
                ),
                Query(
                    _rate("kafka_server_replicamanager_isrexpands_total"), f"{PER_BROKER} expands"
                ),
            ],
            "ops",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Follower lag",
            "Largest lag, in messages, of each broker's follower replicas behind their leaders.",
            [Query(f"kafka_server_replicafetchermanager_maxlag{B}", PER_BROKER)],
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Leaders and replicas per broker",
            "Partitions each broker leads and holds a replica of; preferred-replica imbalance "
            "of the cluster.",
            [
                Query(f"kafka_server_replicamanager_leadercount{B}", f"{PER_BROKER} leaders"),
                Query(f"kafka_server_replicamanager_partitioncount{B}", f"{PER_BROKER} replicas"),
                Query(
                    "max by (kafka_cluster) "
                    f"(kafka_controller_kafkacontroller_preferredreplicaimbalancecount{C})",
                    "{{kafka_cluster}} not on preferred leader",
                ),
            ],
        ),
        width=8,
    )

    board.row("Throughput")
    board.add(
        timeseries(
            "Bytes in and out",
            "Produced to and fetched by consumers from each broker (replication excluded).",
            [
                Query(_rate("kafka_server_brokertopicmetrics_bytesin_total"), f"{PER_BROKER} in"),
                Query(_rate("kafka_server_brokertopicmetrics_bytesout_total"), f"{PER_BROKER} out"),
            ],
            "Bps",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Records in",
            "Records produced to each broker per second.",
            [Query(_rate("kafka_server_brokertopicmetrics_messagesin_total"), PER_BROKER)],
            "wps",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Failed requests",
            "Produce and fetch requests each broker failed, per second.",
            [
                Query(
                    _rate("kafka_server_brokertopicmetrics_failedproducerequests_total"),
                    f"{PER_BROKER} produce",
                ),
                Query(
                    _rate("kafka_server_brokertopicmetrics_failedfetchrequests_total"),
                    f"{PER_BROKER} fetch",
                ),
            ],
            "reqps",
        ),
        width=8,
    )

    board.row("Requests")
    board.add(
        timeseries(
            "Idle ratio of request handlers and network threads",
            "1 idle, 0 saturated. Below 0.2 for long, the broker cannot keep up.",
            [
                Query(
                    "avg by (kafka_cluster, instance) (rate("
                    f"kafka_server_kafkarequesthandlerpool_requesthandleravgidle_seconds_total{B}"
                    f"{RATE}))",
                    f"{PER_BROKER} request handlers",
                ),
                Query(
                    f"kafka_network_socketserver_networkprocessoravgidlepercent{B}",
                    f"{PER_BROKER} network threads",
                ),
            ],
            "percentunit",
            minimum=0,
            maximum=1,
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Requests per second",
            "Requests received per type, summed over the chosen brokers.",
            [
                Query(
                    "sum by (kafka_cluster, request) "
                    f"(rate(kafka_network_requestmetrics_requests_total{B}{RATE}))",
                    "{{kafka_cluster}} {{request}}",
                ),
            ],
            "reqps",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Request time, 99th percentile",
            "Total time of produce and fetch requests (99th percentile over each broker's "
            "recent requests); request queue: requests waiting for a handler.",
            [
                Query(
                    f"kafka_network_requestmetrics_totaltime_seconds{P99}",
                    f"{PER_BROKER} {{{{request}}}}",
                ),
                Query(
                    f"kafka_network_requestchannel_requestqueuesize{B}",
                    f"{PER_BROKER} queued requests",
                ),
            ],
            "s",
        ),
        width=8,
    )

    board.row("Quorum")
    board.add(
        timeseries(
            "Brokers as the controller counts them",
            "Registered and fenced brokers (fenced: KRaft brokers that missed heartbeats).",
            [
                Query(
                    "max by (kafka_cluster) "
                    f"(kafka_controller_kafkacontroller_activebrokercount{C})",
                    "{{kafka_cluster}} active",
                ),
                Query(
                    "max by (kafka_cluster) "
                    f"(kafka_controller_kafkacontroller_fencedbrokercount{C})",
                    "{{kafka_cluster}} fenced",
                ),
                Query(
                    "max by (kafka_cluster) "
                    f"(kafka_controller_kafkacontroller_globaltopiccount{C})",
                    "{{kafka_cluster}} topics",
                ),
                Query(
                    "max by (kafka_cluster) "
                    f"(kafka_controller_kafkacontroller_globalpartitioncount{C})",
                    "{{kafka_cluster}} partitions",
                ),
            ],
        ),
        width=8,
    )
    board.add(
        timeseries(
            "KRaft metadata quorum",
            "Leader (active controller) and epoch as each node sees them, voters it cannot "
            "reach, and metadata errors on the controllers. KRaft only.",
            [
                Query(f"kafka_server_raft_current_leader{B}", f"{PER_BROKER} leader", modes=KRAFT),
                Query(f"kafka_server_raft_current_epoch{B}", f"{PER_BROKER} epoch", modes=KRAFT),
                Query(
                    f"kafka_server_raft_number_unknown_voter_connections{B}",
                    f"{PER_BROKER} unreachable voters",
                    modes=KRAFT,
                ),
                Query(
                    f"kafka_controller_kafkacontroller_metadataerrorcount{B}",
                    f"{PER_BROKER} metadata errors",
                    modes=KRAFT,
                ),
            ],
            "none",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Metadata log and ZooKeeper sessions",
            "KRaft: metadata records committed per second. ZooKeeper mode: the brokers' "
            "ZooKeeper session expirations and disconnections per second.",
            [
                Query(
                    "sum by (kafka_cluster, instance) "
                    f"(deriv(kafka_server_raft_high_watermark{B}{RATE}))",
                    f"{PER_BROKER} metadata records",
                    modes=KRAFT,
                ),
                Query(
                    _rate("kafka_server_sessionexpirelistener_zookeeperexpires_total"),
                    f"{PER_BROKER} session expirations",
                    modes=ZK,
                ),
                Query(
                    _rate("kafka_server_sessionexpirelistener_zookeeperdisconnects_total"),
                    f"{PER_BROKER} disconnections",
                    modes=ZK,
                ),
            ],
            "ops",
        ),
        width=8,
    )

    board.row("JVM")
    board.add(
        timeseries(
            "Heap",
            "Heap in use and its limit, per broker.",
            [
                Query(f"jvm_memory_used_bytes{HEAP}", f"{PER_BROKER} used"),
                Query(f"jvm_memory_max_bytes{HEAP}", f"{PER_BROKER} max"),
            ],
            "bytes",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Time in garbage collection",
            "Share of wall time each broker spends in each collector.",
            [
                Query(
                    "sum by (kafka_cluster, instance, gc) "
                    f"(rate(jvm_gc_collection_seconds_sum{B}{RATE}))",
                    f"{PER_BROKER} {{{{gc}}}}",
                ),
            ],
            "percentunit",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Garbage collections",
            "Collections per second, per broker and collector.",
            [
                Query(
                    "sum by (kafka_cluster, instance, gc) "
                    f"(rate(jvm_gc_collection_seconds_count{B}{RATE}))",
                    f"{PER_BROKER} {{{{gc}}}}",
                )
            ],
            "ops",
        ),
        width=8,
    )
    return board
