"""The alerting pipeline's own series: open alerts, evaluations, and notifications sent,
failed, queued."""

from __future__ import annotations

from collections import Counter

from kafka_watchdog.alerting.status import AlertingStatus
from kafka_watchdog.sinks.metrics.families import Families

C = "kafka_cluster"


def collect(fams: Families, status: AlertingStatus, clusters: set[str]) -> None:
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for alert in status.alerts:
        cluster = alert.finding.labels.get(C, "")
        if cluster in clusters:
            counts[(cluster, alert.finding.rule, alert.finding.severity, alert.state.value)] += 1
    family = fams.gauge(
        "alerts",
        "Alerts by rule, severity and state (pending, firing, resolved and still kept).",
        [C, "rule", "severity", "state"],
    )
    for labels, count in sorted(counts.items()):
        family.add_metric(list(labels), count)
    fams.gauge(
        "alerting_notifier",
        "1 when this replica is the one that notifies (always 1 without alerting.ha).",
        [],
    ).add_metric([], 1 if status.notifier else 0)
    fams.counter(
        "alert_evaluations",
        "Alert evaluations completed (every alerting.evaluation_interval, scraped or not).",
        [],
    ).add_metric([], status.evaluations)
    target = ["receiver", "target"]
    for name, counter, doc in (
        ("notifications_sent", status.sent, "Notifications delivered."),
        ("notifications_failed", status.failed, "Delivery attempts that failed (retried)."),
        (
            "notifications_dropped",
            status.dropped,
            "Notifications given up: the receiver refused them as malformed or is gone.",
        ),
    ):
        counter_family = fams.counter(name, doc, target)
        for (receiver, kind), value in sorted(counter.items()):
            counter_family.add_metric([receiver, kind], value)
    queued = fams.gauge(
        "notifications_queued",
        "Notifications waiting in the outbox (receiver down, or backing off).",
        ["receiver"],
    )
    for receiver in status.receivers:
        queued.add_metric([receiver], status.queued.get(receiver, 0))
    fams.gauge(
        "alerting_state_healthy",
        "1 when the alerting state (alerting.state_dir) is being written; 0 when a write "
        "failed, the file was deleted or the state_dir is unusable (see /readyz for why).",
        [],
    ).add_metric([], 0 if status.state_error else 1)
    fams.counter(
        "alerting_state_write_failures",
        "Writes of the alerting state that failed (retried at the next evaluation).",
        [],
    ).add_metric([], status.state_write_failures)
    fams.counter(
        "alerting_state_rows_skipped",
        "Saved alerts, groups, silences or outbox rows that were unreadable and skipped.",
        [],
    ).add_metric([], status.state_rows_skipped)
    fams.gauge(
        "alerting_state_lost",
        "1 when the alerting state file was damaged at start and moved aside (a fresh one "
        "was started: open incidents may be paged again).",
        [],
    ).add_metric([], 1 if status.state_lost else 0)
