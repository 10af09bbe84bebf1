"""Broker disks: a log dir that went offline or that its broker no longer lists."""

from __future__ import annotations

from collections.abc import Iterator

from kafka_watchdog.model.disks import MISSING
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import Concern, PromQL, RuleSpec, Settings


def log_dir_offline(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
    for broker, b in sorted(state.log_dirs.items()):
        for path, d in sorted(b.dirs.items()):
            if d.online:
                continue
            parts = sorted(d.replicas)
            shown = ", ".join(f"{t}-{p}" for t, p in parts[:10])
            more = f" and {len(parts) - 10} more" if len(parts) > 10 else ""
            why = "is no longer listed" if d.error == MISSING else f"is offline ({d.error})"
            lost = f": replicas lost on {shown}{more}" if parts else ""
            yield rule.finding(
                state,
                f"broker {broker} log dir {path} {why}{lost}",
                len(parts),
                broker=broker,
                log_dir=path,
            )


RULES = (
    RuleSpec(
        "log_dir_offline",
        "critical",
        "A broker's log dir is offline (KAFKA_STORAGE_ERROR) or no longer listed: its "
        "replicas are gone from that broker.",
        ("broker", "log_dir"),
        log_dir_offline,
        prometheus=PromQL(
            Concern.REPLICATION,
            "min by (kafka_cluster, broker, log_dir) (kafka_watchdog_broker_log_dir_online) == 0",
            "Log dir {{ $labels.log_dir }} of broker {{ $labels.broker }} is offline in Kafka "
            "cluster {{ $labels.kafka_cluster }}",
            "Broker {{ $labels.broker }} reports log dir {{ $labels.log_dir }} offline "
            "(KAFKA_STORAGE_ERROR) or no longer lists it: the replicas it held are gone from "
            "that broker and their ISRs shrink. The watchdog's alert and log name the "
            "partitions (kafka_watchdog_broker_log_dir_partitions counts them).",
        ),
    ),
)
