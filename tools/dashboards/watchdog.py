"""kafka-watchdog itself: is it seeing each cluster, how its collections fare, and what its
alerting does."""

from __future__ import annotations

from kafka_watchdog.sinks.metrics.catalogue import WATCHDOG
from tools.dashboards.common import (
    GOOD_IS_ONE,
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
FIRING = cluster_matcher('state="firing"')
STAGE = "{{kafka_cluster}} {{source}}/{{stage}}"
RATE = "[$__rate_interval]"
# The daemon's process_* series carry no kafka_cluster label; they are picked out by the
# target that also exports kafka_watchdog_build_info.
OURS = "and on (instance, job) kafka_watchdog_build_info"
ZK = ("zookeeper",)


def build() -> Board:
    board = Board(
        WATCHDOG,
        "kafka-watchdog-self",
        "kafka-watchdog's own health: freshness of its view of each cluster, its collections, "
        "its alerts and notifications, its process.",
        [datasource_variable(), cluster_variable("kafka_watchdog_up")],
    )
    board.row("Health")
    board.add(
        stat(
            "View of each cluster",
            "fresh: the watchdog has a current view of the cluster; stale: it has not (see "
            "/readyz for the reason).",
            [Query(f"kafka_watchdog_up{S}", "{{kafka_cluster}}")],
            colors=GOOD_IS_ONE,
            mappings=value_names({"0": ("stale", "red"), "1": ("fresh", "green")}),
        ),
        width=6,
        height=5,
    )
    board.add(
        timeseries(
            "View age",
            "Age of the latest cluster view; it should stay below the metadata interval plus "
            "a collection's duration.",
            [Query(f"kafka_watchdog_snapshot_age_seconds{S}", "{{kafka_cluster}}")],
            "s",
        ),
        width=6,
        height=5,
    )
    board.add(
        stat(
            "ZooKeeper session",
            "The watchdog's ZooKeeper session per ZooKeeper-mode cluster (CONNECTED when healthy).",
            [
                Query(
                    f"kafka_watchdog_zookeeper_session_state{S} == 1",
                    "{{kafka_cluster}} {{state}}",
                    modes=ZK,
                )
            ],
            "none",
        ),
        width=6,
        height=5,
    )
    board.add(
        table(
            "Version",
            "kafka-watchdog, Python and librdkafka versions of each running daemon.",
            [Query("kafka_watchdog_build_info")],
            hide=("__name__", "Value"),
        ),
        width=6,
        height=5,
    )

    board.row("Collections")
    board.add(
        timeseries(
            "Duration of the last collection",
            "Per source and stage (metadata, offsets, groups, configs, quorum, zookeeper).",
            [Query(f"kafka_watchdog_collection_duration_seconds{S}", STAGE)],
            "s",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Failed collections",
            "Collections that failed per second, per source and stage (attempts shown for scale).",
            [
                Query(
                    f"sum by (kafka_cluster, source, stage) "
                    f"(rate(kafka_watchdog_collection_errors_total{S}{RATE}))",
                    f"{STAGE} failed",
                ),
                Query(
                    f"sum by (kafka_cluster, source, stage) "
                    f"(rate(kafka_watchdog_collections_total{S}{RATE}))",
                    f"{STAGE} attempted",
                ),
            ],
            "ops",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Since the last success",
            "Seconds since each stage last succeeded; malformed znodes skipped (ZooKeeper mode).",
            [
                Query(
                    f"time() - kafka_watchdog_last_collection_success_timestamp_seconds{S}",
                    STAGE,
                ),
                Query(
                    f"increase(kafka_watchdog_zookeeper_malformed_znodes_total{S}{RATE})",
                    "{{kafka_cluster}} malformed znodes",
                    modes=ZK,
                ),
            ],
            "s",
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Parts not seen",
            "Consumer groups, partitions' log offsets and topics' configs a stage could not "
            "answer for: they keep their last known state and alerts on them hold (the "
            "partly_blind alert says which stage, since when).",
            [
                Query(f"kafka_watchdog_unknown_parts{S}", "{{kafka_cluster}} {{stage}}"),
                Query(
                    f"time() - kafka_watchdog_unknown_since_timestamp_seconds{S}",
                    "{{kafka_cluster}} {{stage}} unknown for (s)",
                    empty_ok="only while a stage lacks an answer",
                ),
            ],
        ),
        width=12,
    )
    board.add(
        timeseries(
            "Partial answers and lost answers",
            "Collections that answered in part; collections whose answer was lost with the "
            "Admin API worker; worker restarts by cause (abort: a librdkafka assertion).",
            [
                Query(
                    f"sum by (kafka_cluster, stage) "
                    f"(increase(kafka_watchdog_partial_answers_total{S}{RATE}))",
                    "{{kafka_cluster}} {{stage}} partial",
                ),
                Query(
                    f"sum by (kafka_cluster, stage) "
                    f"(increase(kafka_watchdog_collections_lost_total{S}{RATE}))",
                    "{{kafka_cluster}} {{stage}} lost",
                ),
                Query(
                    f"increase(kafka_watchdog_admin_worker_restarts_total{S}{RATE})",
                    "{{kafka_cluster}} worker {{cause}}",
                    empty_ok="only after a worker restart",
                ),
            ],
        ),
        width=12,
    )

    board.row("Alerting")
    board.add(
        timeseries(
            "Alerts by state",
            "The built-in alerting's alerts: pending, firing, and resolved ones still kept.",
            [
                Query(
                    f"sum by (kafka_cluster, state) (kafka_watchdog_alerts{S})",
                    "{{kafka_cluster}} {{state}}",
                    empty_ok="only while an alert is open or recently resolved",
                )
            ],
            stacked=True,
        ),
        width=8,
    )
    board.add(
        table(
            "Firing alerts by rule",
            "Firing alerts per rule and severity.",
            [
                Query(
                    f"sum by (kafka_cluster, rule, severity) (kafka_watchdog_alerts{FIRING})",
                    empty_ok="only while an alert fires",
                )
            ],
        ),
        width=8,
    )
    board.add(
        stat(
            "Notifier",
            "1 on the replica that sends notifications (with alerting.ha only one replica does).",
            [Query("kafka_watchdog_alerting_notifier", "{{instance}}")],
            "none",
            mappings=value_names({"0": ("standby", "blue"), "1": ("notifier", "green")}),
        ),
        width=8,
    )
    board.add(
        timeseries(
            "Notifications",
            "Per receiver and target (apprise, pagerduty, alertmanager): delivered, failed "
            "attempts (retried from the outbox) and given up, per second.",
            [
                Query(
                    "sum by (receiver, target) "
                    f"(rate(kafka_watchdog_notifications_sent_total{RATE}))",
                    "{{receiver}} {{target}} sent",
                    empty_ok="only after a notification was delivered",
                ),
                Query(
                    "sum by (receiver, target) "
                    f"(rate(kafka_watchdog_notifications_failed_total{RATE}))",
                    "{{receiver}} {{target}} failed",
                    empty_ok="only after a delivery failed",
                ),
                Query(
                    "sum by (receiver, target) "
                    f"(rate(kafka_watchdog_notifications_dropped_total{RATE}))",
                    "{{receiver}} {{target}} given up",
                    empty_ok="only after a notification was given up",
                ),
            ],
            "ops",
        ),
        width=12,
    )
    board.add(
        timeseries(
            "Notifications queued",
            "Waiting in the outbox: a receiver that is down or backing off.",
            [
                Query(
                    "kafka_watchdog_notifications_queued",
                    "{{receiver}}",
                    empty_ok="only with receivers configured",
                )
            ],
        ),
        width=12,
    )

    board.row("Process")
    board.add(
        timeseries(
            "Memory",
            "Resident memory of each kafka-watchdog process.",
            [Query(f"process_resident_memory_bytes {OURS}", "{{instance}}")],
            "bytes",
        ),
        width=12,
    )
    board.add(
        timeseries(
            "CPU",
            "CPU seconds per second used by each kafka-watchdog process.",
            [Query(f"rate(process_cpu_seconds_total{RATE}) {OURS}", "{{instance}}")],
            "percentunit",
        ),
        width=12,
    )
    return board
