"""Kafka consumer lag: lag in messages and seconds, lag status, committed vs log end."""

from __future__ import annotations

from kafka_watchdog.sinks.metrics.catalogue import LAG
from tools.dashboards.common import (
    GOOD_IS_ZERO,
    Board,
    Query,
    cluster_matcher,
    cluster_variable,
    datasource_variable,
    label_variable,
    stat,
    table,
    timeseries,
)

S = cluster_matcher('group=~"$group"')
NOT_OK = cluster_matcher('group=~"$group"', 'status!="OK"')
HIDE = ("__name__", "instance", "job")
GT = "{{kafka_cluster}} {{group}} {{topic}}"


def build() -> Board:
    board = Board(
        LAG,
        "kafka-watchdog-consumer-lag",
        "Consumer group lag in messages and seconds, lag status (Burrow's rules), committed "
        "offsets against the log end, from kafka-watchdog.",
        [
            datasource_variable(),
            cluster_variable("kafka_watchdog_up"),
            # Group series appear only after a group commits: the variable is a filter whose
            # "All" (.*) still matches everything, so the dashboard never hangs on it.
            label_variable(
                "group",
                "Group",
                "label_values(kafka_watchdog_consumergroup_members"
                '{kafka_cluster=~"$kafka_cluster"}, group)',
                "Consumer groups (All matches every group, including ones that appear later).",
            ),
        ],
    )
    board.row("Groups at risk")
    board.add(
        stat(
            "Groups not OK",
            "Groups whose lag status is not OK (WARN: lag growing; STALL: stuck with a "
            "member; STOP: consumer gone; REWIND: offset went back; ERROR; UNKNOWN).",
            [
                Query(
                    f"count by (kafka_cluster) (kafka_watchdog_consumergroup_status{NOT_OK} == 1)",
                    "{{kafka_cluster}}",
                    empty_ok="only while a group is not OK",
                )
            ],
            colors=GOOD_IS_ZERO,
        ),
        width=6,
        height=8,
    )
    board.add(
        table(
            "Groups, worst first",
            "Each group's status (its worst partition's), its largest lag in seconds and its "
            "total lag in messages, sorted by lag in seconds.",
            [
                Query(
                    "sort_desc(max by (kafka_cluster, group) "
                    f"(kafka_watchdog_consumergroup_topic_lag_seconds_max{S}))"
                ),
                Query(f"sum by (kafka_cluster, group) (kafka_watchdog_consumergroup_topic_lag{S})"),
                Query(f"kafka_watchdog_consumergroup_status{S} == 1"),
            ],
            "s",
            hide=(*HIDE, "Value #C"),
        ),
        width=18,
        height=8,
    )
    board.add(
        timeseries(
            "Status of groups not OK",
            "1 while the group is in the status shown.",
            [
                Query(
                    f"kafka_watchdog_consumergroup_status{NOT_OK} == 1",
                    "{{kafka_cluster}} {{group}} {{status}}",
                    empty_ok="only while a group is not OK",
                )
            ],
            bars=True,
        ),
        width=16,
        height=6,
    )
    board.add(
        table(
            "Groups not seen now",
            "Groups part of whose lag is carried, not read: their coordinator or a partition's "
            "leader did not answer (their series show the last known lag; alerts on them "
            "hold). Value: since when, as a time.",
            [
                Query(
                    f"kafka_watchdog_consumergroup_unknown_since_timestamp_seconds{S} * 1000",
                    empty_ok="only while a group's lag is unknown",
                )
            ],
            "dateTimeAsIso",
            hide=HIDE,
        ),
        width=8,
        height=6,
    )

    board.add(
        table(
            "Forecast: retention risk and time to catch up",
            "Per group and topic, soonest first: seconds until retention deletes records the "
            "group has not read (a lower bound; +Inf: none at risk), and until it has no lag "
            "at its current rates (+Inf: never). docs/foresight.md gives the error bounds.",
            [
                Query(
                    "sort(min by (kafka_cluster, group, topic) "
                    f"(kafka_watchdog_consumergroup_topic_retention_risk_seconds{S}))"
                ),
                Query(
                    "max by (kafka_cluster, group, topic) "
                    f"(kafka_watchdog_consumergroup_topic_catchup_seconds{S})"
                ),
            ],
            "s",
            hide=HIDE,
        ),
        width=18,
        height=8,
    )
    board.add(
        stat(
            "Records deleted unread (range)",
            "Records retention deleted before the group read them (its committed offset fell "
            "below the log start).",
            [
                Query(
                    "sum by (kafka_cluster) (increase("
                    f"kafka_watchdog_consumergroup_records_skipped_total{S}[$__range]))",
                    "{{kafka_cluster}}",
                    empty_ok="only after retention deleted records a group had not read",
                )
            ],
            colors=GOOD_IS_ZERO,
        ),
        width=6,
        height=8,
    )

    board.row("Lag")
    board.add(
        timeseries(
            "Lag in seconds",
            "How far behind each group is on each topic, in time: the age of the oldest "
            "unread record (largest over the topic's partitions).",
            [Query(f"kafka_watchdog_consumergroup_topic_lag_seconds_max{S}", GT)],
            "s",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Lag in messages",
            "Records not yet consumed, summed over each topic's partitions.",
            [Query(f"kafka_watchdog_consumergroup_topic_lag{S}", GT)],
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Largest partition lag",
            "Records not yet consumed on the group's most lagging partition of each topic.",
            [Query(f"kafka_watchdog_consumergroup_topic_lag_max{S}", GT)],
        ),
        width=8,
    )

    board.row("Committed vs log end")
    board.add(
        timeseries(
            "Committed offset and log end",
            "Sum of each group's committed offsets and of the log end offsets of the same "
            "partitions: the gap is the lag.",
            [
                Query(
                    "sum by (kafka_cluster, group, topic) "
                    f"(kafka_watchdog_consumergroup_committed_offset{S})",
                    "{{kafka_cluster}} {{group}} {{topic}} committed",
                ),
                # The log end of the partitions each group commits on: the log end times 1,
                # joined onto the group's partitions (group_right keeps the group label).
                Query(
                    "sum by (kafka_cluster, group, topic) ("
                    f"kafka_watchdog_partition_log_end_offset{cluster_matcher()} * on "
                    "(kafka_cluster, topic, partition) group_right () "
                    f"(0 * kafka_watchdog_consumergroup_committed_offset{S} + 1))",
                    "{{kafka_cluster}} {{group}} {{topic}} log end",
                ),
            ],
        ),
        width=12,
    )
    board.add(
        timeseries(
            "Consumption rate",
            "Records committed per second by each group on each topic.",
            [
                Query(
                    "sum by (kafka_cluster, group, topic) "
                    f"(deriv(kafka_watchdog_consumergroup_committed_offset{S}[$__rate_interval]))",
                    GT,
                )
            ],
            "wps",
        ),
        width=12,
    )
    board.add(
        table(
            "Members and state",
            "Members of each group and its state (Stable, Empty, PreparingRebalance...).",
            [
                Query(f"kafka_watchdog_consumergroup_members{S}"),
                Query(f"kafka_watchdog_consumergroup_state{S} == 1"),
            ],
            hide=(*HIDE, "Value #B"),
        ),
        width=24,
        height=7,
    )

    board.row("Partitions")
    board.add(
        table(
            "Partitions of the chosen groups",
            "Lag in messages and seconds per partition, each partition's status and "
            "seconds until retention deletes what the group has not read there; clamped "
            "reads: commits seen ahead of the log end read (reported as lag 0).",
            [
                Query(f"sort_desc(kafka_watchdog_consumergroup_lag{S})"),
                Query(f"kafka_watchdog_consumergroup_lag_seconds{S}"),
                Query(f"kafka_watchdog_consumergroup_partition_status{S} == 1"),
                Query(f"kafka_watchdog_consumergroup_retention_risk_seconds{S}"),
            ],
            hide=(*HIDE, "Value #C"),
        ),
        width=18,
        height=10,
    )
    board.add(
        stat(
            "Clamped reads (range)",
            "Times a committed offset was newer than the log end read: a read race, "
            "reported as lag 0. Harmless unless it grows fast.",
            [
                Query(
                    "sum by (kafka_cluster) "
                    f"(increase(kafka_watchdog_consumergroup_lag_clamped_total{S}[$__range]))",
                    "{{kafka_cluster}}",
                )
            ],
        ),
        width=6,
        height=10,
    )
    return board
