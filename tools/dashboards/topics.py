"""Kafka topics and partitions: per-topic health, config hazards, leader balance, log growth."""

from __future__ import annotations

from kafka_watchdog.sinks.metrics.catalogue import TOPICS
from tools.dashboards.common import (
    Board,
    Query,
    cluster_matcher,
    cluster_variable,
    datasource_variable,
    label_variable,
    table,
    timeseries,
)

S = cluster_matcher('topic=~"$topic"')
HIDE = ("__name__", "instance", "job")
STATES = ("under_replicated", "under_min_isr", "at_min_isr", "offline", "unavailable")


def build() -> Board:
    board = Board(
        TOPICS,
        "kafka-watchdog-topics",
        "Per-topic health, risky settings, leader balance and log growth, from kafka-watchdog.",
        [
            datasource_variable(),
            cluster_variable("kafka_watchdog_up"),
            # Every watched topic has kafka_watchdog_topic_partitions, whatever its traffic.
            label_variable(
                "topic",
                "Topic",
                'label_values(kafka_watchdog_topic_partitions{kafka_cluster=~"$kafka_cluster"}, '
                "topic)",
                "Topics, from kafka_watchdog_topic_partitions (every watched topic has it).",
            ),
        ],
    )
    board.row("Topic health")
    board.add(
        table(
            "Topics, least healthy first",
            "Partitions per state for each topic (TopicCommand's definitions); the ISR "
            "shrinks column counts shrinks in the time range.",
            [
                Query(
                    "sort_desc(kafka_watchdog_topic_under_min_isr_partitions"
                    f"{S} * 1000 + kafka_watchdog_topic_under_replicated_partitions{S})"
                ),
                Query(f"kafka_watchdog_topic_partitions{S}"),
                *(Query(f"kafka_watchdog_topic_{state}_partitions{S}") for state in STATES),
                Query(
                    "sum by (kafka_cluster, topic) (increase(kafka_watchdog_isr_shrinks_total"
                    f"{S}[$__range]))"
                ),
                Query(
                    "sum by (kafka_cluster, topic) (increase(kafka_watchdog_isr_expands_total"
                    f"{S}[$__range]))"
                ),
            ],
            hide=(*HIDE, "Value #A"),
        ),
        width=24,
        height=9,
    )
    board.add(
        timeseries(
            "Under-replicated partitions per topic",
            "Partitions of each topic whose ISR is short of their replicas.",
            [
                Query(
                    f"kafka_watchdog_topic_under_replicated_partitions{S}",
                    "{{kafka_cluster}} {{topic}}",
                )
            ],
        ),
        width=12,
    )
    board.add(
        timeseries(
            "Under min ISR per topic",
            "Partitions of each topic where acks=all producers fail (ISR below "
            "min.insync.replicas, or no leader).",
            [
                Query(
                    f"kafka_watchdog_topic_under_min_isr_partitions{S}",
                    "{{kafka_cluster}} {{topic}}",
                )
            ],
        ),
        width=12,
    )

    board.row("Config hazards")
    board.add(
        table(
            "Risky topic settings",
            "One row per topic and hazard that holds now (see docs/metrics.md for each hazard).",
            [
                Query(
                    f"kafka_watchdog_topic_config_hazard{S}",
                    empty_ok="only while a topic has a risky setting",
                )
            ],
            hide=(*HIDE, "Value"),
        ),
        width=24,
        height=7,
    )

    board.row("Leader balance")
    board.add(
        timeseries(
            "Partitions led per broker",
            "Leaders per broker id (-1: offline partitions).",
            [
                Query(
                    'count_values by (kafka_cluster) ("broker", '
                    f"kafka_watchdog_partition_leader{S})",
                    "{{kafka_cluster}} broker {{broker}}",
                )
            ],
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Not led by the preferred replica",
            "Partitions per topic whose leader is not the first assigned replica (a "
            "preferred leader election moves them back).",
            [
                Query(
                    "sum by (kafka_cluster, topic) "
                    f"(1 - kafka_watchdog_partition_leader_is_preferred{S})",
                    "{{kafka_cluster}} {{topic}}",
                )
            ],
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Leader changes",
            "Partition leader changes per topic and interval.",
            [
                Query(
                    "sum by (kafka_cluster, topic) "
                    f"(increase(kafka_watchdog_leader_changes_total{S}[$__rate_interval]))",
                    "{{kafka_cluster}} {{topic}}",
                )
            ],
            bars=True,
        ),
        width=8,
    )

    board.row("Log growth")
    board.add(
        timeseries(
            "Records written per second",
            "Growth of the log end offsets per topic (collected on the watchdog's offsets "
            "interval, so steps of that length).",
            [
                Query(
                    "sum by (kafka_cluster, topic) "
                    f"(deriv(kafka_watchdog_partition_log_end_offset{S}[$__rate_interval]))",
                    "{{kafka_cluster}} {{topic}}",
                )
            ],
            "wps",
        ),
        width=12,
    )
    board.add(
        timeseries(
            "Records retained",
            "Log end minus log start offset, summed per topic.",
            [
                Query(
                    "sum by (kafka_cluster, topic) (kafka_watchdog_partition_log_end_offset"
                    f"{S} - kafka_watchdog_partition_log_start_offset{S})",
                    "{{kafka_cluster}} {{topic}}",
                )
            ],
        ),
        width=12,
    )
    board.add(
        timeseries(
            "Bytes on disk",
            "What each topic takes on the brokers' disks, every replica counted (DescribeLogDirs).",
            [Query(f"kafka_watchdog_topic_size_bytes{S}", "{{kafka_cluster}} {{topic}}")],
            "bytes",
        ),
        width=24,
    )

    board.row("Partitions")
    board.add(
        table(
            "Partitions",
            "Replicas, in-sync replicas and leader of each partition of the chosen topics.",
            [
                Query(f"kafka_watchdog_partition_replicas{S}"),
                Query(f"kafka_watchdog_partition_in_sync_replicas{S}"),
                Query(f"kafka_watchdog_partition_leader{S}"),
            ],
            hide=HIDE,
        ),
        width=24,
        height=10,
    )
    return board
