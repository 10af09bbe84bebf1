"""The alerting pipeline's own series: open alerts, evaluations, and notifications sent,
failed, queued."""

from __future__ import annotations

from collections import Counter

from kafka_watchdog.alerting.service import AlertingService
from kafka_watchdog.sinks.metrics.families import Families

C = "kafka_cluster"


def collect(fams: Families, service: AlertingService, clusters: set[str]) -> None:
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for alert in service.book.alerts.values():
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
    ).add_metric([], 1 if service.is_notifier else 0)
    fams.counter(
        "alert_evaluations",
        "Alert evaluations completed (every alerting.evaluation_interval, scraped or not).",
        [],
    ).add_metric([], service.evaluations_total)
    target = ["receiver", "target"]
    for name, counter, doc in (
        ("notifications_sent", service.sent, "Notifications delivered."),
        ("notifications_failed", service.failed, "Delivery attempts that failed (retried)."),
        (
            "notifications_dropped",
            service.dropped,
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
    waiting = service.store.queued() if service.store is not None else {}
    for receiver in service.receivers:
        queued.add_metric([receiver], waiting.get(receiver, 0))
