"""Kafka overview: is every cluster seen, healthy, and has anything been lost."""

from __future__ import annotations

from kafka_watchdog.sinks.metrics.catalogue import OVERVIEW
from tools.dashboards.common import (
    GOOD_IS_ONE,
    GOOD_IS_ZERO,
    Board,
    Query,
    cluster_matcher,
    cluster_variable,
    datasource_variable,
    stat,
    table,
    timeseries,
    value_names,
)

S = cluster_matcher()
BY = "sum by (kafka_cluster)"
RATE = "[$__rate_interval]"
STATES = (
    ("under_replicated", "Under-replicated"),
    ("under_min_isr", "Under min ISR"),
    ("at_min_isr", "At min ISR"),
    ("offline", "Offline"),
    ("unavailable", "Unavailable"),
)
EVENTS = (
    ("isr_shrinks", "ISR shrinks"),
    ("isr_expands", "ISR expansions"),
    ("leader_changes", "leader changes"),
    ("unclean_leader_elections", "unclean leader elections"),
    ("log_truncations", "log truncations"),
)


def build() -> Board:
    board = Board(
        OVERVIEW,
        "kafka-watchdog-overview",
        "Every watched Kafka cluster at a glance, from kafka-watchdog: is it seen, which "
        "partitions are at risk, and was anything lost.",
        [datasource_variable(), cluster_variable("kafka_watchdog_up")],
    )
    board.row("Clusters")
    board.add(
        stat(
            "Watchdog view",
            "1 (fresh) when kafka-watchdog has a current view of the cluster; 0 (stale) means "
            "every other panel shows old data.",
            [Query(f"kafka_watchdog_up{S}", "{{kafka_cluster}}")],
            colors=GOOD_IS_ONE,
            mappings=value_names({"0": ("stale", "red"), "1": ("fresh", "green")}),
        ),
        width=4,
        height=5,
    )
    board.add(
        stat(
            "View age",
            "Age of the latest cluster view.",
            [Query(f"kafka_watchdog_snapshot_age_seconds{S}", "{{kafka_cluster}}")],
            "s",
        ),
        width=4,
        height=5,
    )
    board.add(
        stat(
            "Brokers alive",
            "Registered brokers.",
            [Query(f"kafka_watchdog_brokers{S}", "{{kafka_cluster}}")],
        ),
        width=4,
        height=5,
    )
    board.add(
        stat(
            "Brokers gone",
            "Brokers known from replica assignments or an earlier registration that are not "
            "registered now.",
            [Query(f"{BY} (1 - kafka_watchdog_broker_up{S})", "{{kafka_cluster}}")],
            colors=GOOD_IS_ZERO,
        ),
        width=4,
        height=5,
    )
    board.add(
        stat(
            "Active controller",
            "Broker (KRaft: controller) id of the active controller.",
            [Query(f"kafka_watchdog_controller_id{S}", "{{kafka_cluster}}")],
            "none",
        ),
        width=4,
        height=5,
    )
    board.add(
        stat(
            "Topics / partitions",
            "Watched topics and their partitions.",
            [
                Query(f"kafka_watchdog_topics{S}", "{{kafka_cluster}} topics"),
                Query(f"kafka_watchdog_partitions{S}", "{{kafka_cluster}} partitions"),
            ],
        ),
        width=4,
        height=5,
    )
    board.add(
        table(
            "Clusters",
            "Mode (zookeeper or kraft) and cluster id of each watched cluster.",
            [Query(f"kafka_watchdog_cluster_info{S}")],
            hide=("Value", "__name__", "instance", "job"),
        ),
        width=24,
        height=5,
    )

    board.row("Controller")
    board.add(
        timeseries(
            "Active controller",
            "Id of the active controller over time: a step is a controller change.",
            [Query(f"kafka_watchdog_controller_id{S}", "{{kafka_cluster}}")],
            "none",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Controller epoch",
            "ZooKeeper controller epoch, or KRaft metadata quorum leader epoch: it grows with "
            "every election.",
            [Query(f"kafka_watchdog_controller_epoch{S}", "{{kafka_cluster}}")],
            "none",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Controller changes",
            "Controller moves (to another node) and elections (every new epoch: moves and "
            "re-elections on the same node) seen per interval.",
            [
                Query(
                    f"{BY} (increase(kafka_watchdog_controller_changes_total{S}{RATE}))",
                    "{{kafka_cluster}} moved",
                ),
                Query(
                    f"{BY} (increase(kafka_watchdog_controller_elections_total{S}{RATE}))",
                    "{{kafka_cluster}} elections",
                ),
            ],
            bars=True,
        ),
        width=8,
    )

    board.row("Partitions")
    board.add(
        timeseries(
            "Partitions at risk",
            "Partitions per state, with TopicCommand's definitions. Under min ISR or offline: "
            "acks=all producers fail now.",
            [
                Query(f"kafka_watchdog_{state}_partitions{S}", f"{{{{kafka_cluster}}}} {label}")
                for state, label in STATES
            ],
        ),
        width=12,
        height=9,
    )
    for state, label in STATES[:2] + STATES[3:4]:
        board.add(
            stat(
                label,
                f"Partitions {label.lower()} now.",
                [Query(f"kafka_watchdog_{state}_partitions{S}", "{{kafka_cluster}}")],
                colors=GOOD_IS_ZERO,
            ),
            width=4,
            height=4,
        )
    board.add(
        stat(
            "Unclean elections (range)",
            "Unclean leader elections seen in the dashboard's time range: records were lost.",
            [
                Query(
                    f"{BY} (increase(kafka_watchdog_unclean_leader_elections_total{S}[$__range]))",
                    "{{kafka_cluster}}",
                )
            ],
            colors=GOOD_IS_ZERO,
        ),
        width=6,
        height=5,
    )
    board.add(
        stat(
            "Log truncations (range)",
            "Log end offsets seen going backwards in the time range: records were lost.",
            [
                Query(
                    f"{BY} (increase(kafka_watchdog_log_truncations_total{S}[$__range]))",
                    "{{kafka_cluster}}",
                )
            ],
            colors=GOOD_IS_ZERO,
        ),
        width=6,
        height=5,
    )

    board.row("Partitions at risk")
    risk = (
        "max by (kafka_cluster, topic, partition) ("
        f"kafka_watchdog_partition_under_replicated{S}"
        f" + kafka_watchdog_partition_under_min_isr{S}"
        f" + 2 * kafka_watchdog_partition_offline{S}) > 0"
    )
    board.add(
        table(
            "Partitions at risk, worst first",
            "Risk: 1 under-replicated, 2 under min ISR too (acks=all fails), 3 or more offline. "
            "In sync: replicas in the ISR now.",
            [
                Query(
                    f"sort_desc({risk})",
                    empty_ok="only while a partition is at risk",
                ),
                Query(
                    f"kafka_watchdog_partition_in_sync_replicas{S} and on (kafka_cluster, topic, "
                    f"partition) ({risk})",
                    empty_ok="only while a partition is at risk",
                ),
            ],
            hide=("__name__", "instance", "job"),
        ),
        width=24,
        height=8,
    )

    board.row("Recent events")
    board.add(
        timeseries(
            "Events",
            "Change events kafka-watchdog saw, per interval and cluster.",
            [
                Query(
                    f"{BY} (increase(kafka_watchdog_{name}_total{S}[$__rate_interval]))",
                    f"{{{{kafka_cluster}}}} {label}",
                )
                for name, label in EVENTS
            ]
            + [
                Query(
                    f"{BY} (increase(kafka_watchdog_controller_changes_total{S}{RATE}))",
                    "{{kafka_cluster}} controller changes",
                )
            ],
            bars=True,
            stacked=True,
        ),
        width=16,
        height=9,
    )
    board.add(
        table(
            "Topics with events (range)",
            "Topics with ISR shrinks, leader changes, unclean elections or truncations in "
            "the time range.",
            [
                Query(
                    "sum by (kafka_cluster, topic) (increase(kafka_watchdog_isr_shrinks_total"
                    f"{S}[$__range]) + increase(kafka_watchdog_leader_changes_total{S}[$__range])"
                    f" + increase(kafka_watchdog_unclean_leader_elections_total{S}[$__range])"
                    f" + increase(kafka_watchdog_log_truncations_total{S}[$__range])) > 0",
                    empty_ok="only after an event in the time range",
                )
            ],
        ),
        width=8,
        height=9,
    )

    board.row("Broker disks")
    board.add(
        stat(
            "Log dirs offline",
            "Log dirs their broker reports offline (KAFKA_STORAGE_ERROR) or no longer lists "
            "(DescribeLogDirs): their replicas are gone from that broker.",
            [
                Query(
                    f"count by (kafka_cluster) (kafka_watchdog_broker_log_dir_online{S} == 0)",
                    "{{kafka_cluster}}",
                    empty_ok="only while a log dir is offline",
                )
            ],
            colors=GOOD_IS_ZERO,
        ),
        width=4,
        height=8,
    )
    board.add(
        timeseries(
            "Log dir size",
            "Bytes of the replicas on each broker's log dirs.",
            [
                Query(
                    f"kafka_watchdog_broker_log_dir_size_bytes{S}",
                    "{{kafka_cluster}} broker {{broker}} {{log_dir}}",
                )
            ],
            "bytes",
        ),
        width=7,
        height=8,
    )
    board.add(
        timeseries(
            "Log dir growth per hour",
            "Growth of each log dir over the last hour, in bytes per hour.",
            [
                Query(
                    f"kafka_watchdog_broker_log_dir_growth_bytes_per_second{S} * 3600",
                    "{{kafka_cluster}} broker {{broker}} {{log_dir}}",
                    empty_ok="from the second log dirs round on",
                )
            ],
            "bytes",
        ),
        width=7,
        height=8,
    )
    board.add(
        table(
            "Log dirs",
            "Each log dir: online (1) or not, replicas on it, free and total space of its "
            "volume (brokers 3.3 and later report the space).",
            [
                Query(f"kafka_watchdog_broker_log_dir_online{S}"),
                Query(f"kafka_watchdog_broker_log_dir_partitions{S}"),
                Query(f"kafka_watchdog_broker_log_dir_usable_bytes{S}"),
                Query(f"kafka_watchdog_broker_log_dir_total_bytes{S}"),
            ],
            hide=("__name__", "instance", "job"),
        ),
        width=6,
        height=8,
    )
    return board
