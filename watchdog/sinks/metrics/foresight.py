"""Lag foresight and broker disk metrics: time to catch up, retention risk, records deleted
unread (`collect`); each broker's log dirs, sizes per topic (`collect_disks`: they come from
their own loop, so they are built apart)."""

from __future__ import annotations

from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.sinks.metrics.families import BLOCK_LINES, Families

C, G, T, P, B, D = "kafka_cluster", "group", "topic", "partition", "broker", "log_dir"


def collect(fams: Families, cluster: ClusterState, config: MetricsConfig) -> None:
    name = cluster.name
    catchup = fams.gauge("consumergroup_topic_catchup_seconds", [C, G, T])
    topic_risk = fams.gauge("consumergroup_topic_retention_risk_seconds", [C, G, T])
    part_risk = fams.gauge("consumergroup_retention_risk_seconds", [C, G, T, P])
    for group_id, seen in cluster.foresight.items():
        for topic, t in seen.topics.items():
            if t.catchup_seconds is not None:
                catchup.add_metric([name, group_id, topic], t.catchup_seconds)
            if t.retention_seconds is not None:
                topic_risk.add_metric([name, group_id, topic], t.retention_seconds)
        if config.partition_level:
            for p in seen.partitions:
                if p.retention_seconds is not None:
                    part_risk.add_metric(
                        [name, group_id, p.topic, str(p.partition)], p.retention_seconds
                    )
        fams.compact(BLOCK_LINES)
    skipped = fams.counter("consumergroup_records_skipped", [C, G, T])
    for (group_id, topic), records in sorted(cluster.records_skipped.items()):
        skipped.add_metric([name, group_id, topic], records)


def collect_disks(fams: Families, cluster: ClusterState) -> None:
    name = cluster.name
    online = fams.gauge("broker_log_dir_online", [C, B, D])
    size = fams.gauge("broker_log_dir_size_bytes", [C, B, D])
    replicas = fams.gauge("broker_log_dir_partitions", [C, B, D])
    usable = fams.gauge("broker_log_dir_usable_bytes", [C, B, D])
    total = fams.gauge("broker_log_dir_total_bytes", [C, B, D])
    growth = fams.gauge("broker_log_dir_growth_bytes_per_second", [C, B, D])
    topics: dict[str, int] = {}
    for broker, b in sorted(cluster.log_dirs.items()):
        for path, d in sorted(b.dirs.items()):
            labels = [name, str(broker), path]
            online.add_metric(labels, 1 if d.online else 0)
            size.add_metric(labels, d.size_bytes)
            replicas.add_metric(labels, len(d.replicas))
            if d.usable_bytes is not None:
                usable.add_metric(labels, d.usable_bytes)
            if d.total_bytes is not None:
                total.add_metric(labels, d.total_bytes)
            if d.growth_bytes_per_second is not None:
                growth.add_metric(labels, d.growth_bytes_per_second)
        for topic, n in b.topic_bytes().items():
            topics[topic] = topics.get(topic, 0) + n
    sizes = fams.gauge("topic_size_bytes", [C, T])
    for topic, n in sorted(topics.items()):
        sizes.add_metric([name, topic], n)
