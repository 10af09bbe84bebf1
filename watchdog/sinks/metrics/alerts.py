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
    family = fams.gauge("alerts", [C, "rule", "severity", "state"])
    for labels, count in sorted(counts.items()):
        family.add_metric(list(labels), count)
    fams.gauge("alerting_notifier", []).add_metric([], 1 if status.notifier else 0)
    fams.counter("alert_evaluations", []).add_metric([], status.evaluations)
    target = ["receiver", "target"]
    for name, counter in (
        ("notifications_sent", status.sent),
        ("notifications_failed", status.failed),
        ("notifications_dropped", status.dropped),
    ):
        counter_family = fams.counter(name, target)
        for (receiver, kind), value in sorted(counter.items()):
            counter_family.add_metric([receiver, kind], value)
    queued = fams.gauge("notifications_queued", ["receiver"])
    for receiver in status.receivers:
        queued.add_metric([receiver], status.queued.get(receiver, 0))
    fams.gauge("alerting_state_healthy", []).add_metric([], 0 if status.state_error else 1)
    fams.counter("alerting_state_write_failures", []).add_metric([], status.state_write_failures)
    fams.counter("alerting_state_rows_skipped", []).add_metric([], status.state_rows_skipped)
    fams.gauge("alerting_state_lost", []).add_metric([], 1 if status.state_lost else 0)
