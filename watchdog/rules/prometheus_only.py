"""Alerts that only Prometheus raises, about the watchdog itself: it cannot page that it is
down, nor rely on its own notifications to say that they fail. Declared here, beside the
rules, so that alerts/kafka-watchdog.rules.yml comes from one registry; the daemon never
evaluates them (registry.PROMETHEUS_ONLY, not registry.RULES)."""

from __future__ import annotations

from kafka_watchdog.rules.spec import Concern, PrometheusOnly, PromQL

WATCHDOG = "kafka-watchdog {{ $labels.instance }}"

PROMETHEUS_ONLY = (
    PrometheusOnly(
        "watchdog_down",
        "critical",
        "Prometheus cannot scrape a kafka-watchdog it scraped within the last day.",
        300,
        PromQL(
            Concern.SELF,
            # A watchdog target is one whose job served kafka_watchdog_build_info lately:
            # no job name is assumed (the chart's depends on the release name).
            "up == 0 and on (job) group by (job) (last_over_time(kafka_watchdog_build_info[1d]))",
            WATCHDOG + " is down",
            "Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) "
            "for $for: unless another replica of an HA deployment notifies, the Kafka "
            "clusters it watches are not watched and nobody is paged for them.",
        ),
        "A watchdog that is down cannot say so.",
    ),
    PrometheusOnly(
        "watchdog_absent",
        "critical",
        "No kafka-watchdog metrics reach Prometheus at all.",
        600,
        PromQL(
            Concern.SELF,
            "absent(kafka_watchdog_build_info)",
            "No kafka-watchdog reports to Prometheus",
            "No target has served kafka_watchdog_build_info for $for: every kafka-watchdog "
            "is down, or the scrape configuration lost them (a renamed job, a "
            "ServiceMonitor that no longer selects the Service). Nobody watches the Kafka "
            "clusters.",
        ),
        "A watchdog that is gone, or not scraped, cannot say so.",
    ),
    PrometheusOnly(
        "collection_failing",
        "warning",
        "A collection stage of the watchdog has failed for 10 minutes.",
        600,
        PromQL(
            Concern.SELF,
            # Without the reason: a stage failing one way and then another is one alert.
            "max without (reason) (kafka_watchdog_collection_failing) == 1",
            WATCHDOG + " fails to collect {{ $labels.stage }} from {{ $labels.source }} of "
            "Kafka cluster {{ $labels.kafka_cluster }}",
            "Every attempt of the {{ $labels.stage }} stage ({{ $labels.source }}) on Kafka "
            "cluster {{ $labels.kafka_cluster }} has failed for $for: what it reads "
            "(metadata, offsets and lag, configs, the quorum) is stale and the alerts on it "
            "are blind. The reason label of kafka_watchdog_collection_failing says why "
            "(authentication, tls, authorization, unreachable, timeout); /api/clusters "
            "and the log have the message.",
        ),
        "The daemon pages when it loses its whole view of a cluster (cluster_unseen); one "
        "failing stage is the watchdog's own health, for whoever watches the watchdog.",
    ),
    PrometheusOnly(
        "notifications_failing",
        "critical",
        "Deliveries to a receiver have kept failing for 15 minutes.",
        900,
        PromQL(
            Concern.SELF,
            # Failures in every 10-minute window for 15 minutes: a receiver that is down,
            # not one retry that succeeded a moment later.
            "sum by (instance, job, receiver, target) "
            "(increase(kafka_watchdog_notifications_failed_total[10m])) > 0",
            WATCHDOG + " cannot deliver to receiver {{ $labels.receiver }}",
            "Deliveries to receiver {{ $labels.receiver }} ({{ $labels.target }}) have kept "
            'failing for $for ({{ $value | printf "%.0f" }} failed attempts in the last 10 '
            "minutes): its notifications wait in the outbox "
            "(kafka_watchdog_notifications_queued) and nobody is told. The watchdog's log "
            "has the error.",
        ),
        "A watchdog whose notifications fail cannot tell anyone through them.",
    ),
    PrometheusOnly(
        "notifications_dropped",
        "warning",
        "The watchdog gave up notifications in the last hour.",
        0,
        PromQL(
            Concern.SELF,
            # The counter appears with its first drop, which increase() cannot see: a series
            # that did not exist an hour ago counts too.
            "sum by (instance, job, receiver, target) "
            "(increase(kafka_watchdog_notifications_dropped_total[1h])) > 0 "
            "or sum by (instance, job, receiver, target) "
            "(kafka_watchdog_notifications_dropped_total "
            "unless kafka_watchdog_notifications_dropped_total offset 1h)",
            WATCHDOG + " gave up notifications to receiver {{ $labels.receiver }}",
            "Receiver {{ $labels.receiver }} ({{ $labels.target }}) refused notifications "
            "as malformed, or was removed from the config while they waited, within the "
            "last hour: they were dropped, not delivered. The watchdog's log has the "
            "receiver's answer. Resolves an hour after the last one.",
        ),
        "Dropped notifications are the ones the watchdog could not send.",
    ),
    PrometheusOnly(
        "alerting_state_unhealthy",
        "warning",
        "The watchdog has failed to write its alerting state for 10 minutes.",
        600,
        PromQL(
            Concern.SELF,
            "kafka_watchdog_alerting_state_healthy == 0",
            WATCHDOG + " cannot write its alerting state",
            "The alerting state (alerting.state_dir) of {{ $labels.instance }} has not been "
            "written for $for: a full or read-only disk, a deleted file or an unusable "
            "directory (/readyz says which). Pages still go out, from memory, but a restart "
            "now may page open incidents again and forget API silences.",
        ),
        "The daemon reports its state on /readyz and keeps paging; whether its disk works "
        "is for whoever watches the watchdog.",
    ),
)
