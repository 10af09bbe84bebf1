"""danielqsj/kafka_exporter's metric names and labels, for dashboards built on it.

kafka_exporter runs one exporter per cluster, so its series have no cluster label. When one
cluster is rendered (one configured, or /metrics?kafka_cluster=NAME) the labels are exactly
its labels; when several are, a kafka_cluster label keeps the series distinct.
"""

from __future__ import annotations

from collections.abc import Sequence

from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.sinks.metrics.families import BLOCK_LINES, Families, Family


def address(host: str, port: int) -> str:
    """host:port as kafka_exporter writes a broker's address (Go's net.JoinHostPort: an IPv6
    host in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def collect(fams: Families, states: Sequence[ClusterState], with_cluster_label: bool) -> None:
    extra = ["kafka_cluster"] if with_cluster_label else []

    def gauge(name: str, labels: list[str]) -> Family:
        return fams.gauge(name, [*labels, *extra], prefix="kafka_")

    brokers = gauge("brokers", [])
    broker_info = gauge("broker_info", ["address", "id"])
    partitions = gauge("topic_partitions", ["topic"])
    tp = ["topic", "partition"]
    current = gauge("topic_partition_current_offset", tp)
    oldest = gauge("topic_partition_oldest_offset", tp)
    in_sync = gauge("topic_partition_in_sync_replica", tp)
    leader = gauge("topic_partition_leader", tp)
    preferred = gauge("topic_partition_leader_is_preferred", tp)
    replicas = gauge("topic_partition_replicas", tp)
    under = gauge("topic_partition_under_replicated_partition", tp)
    ctp = ["consumergroup", "topic", "partition"]
    ct = ["consumergroup", "topic"]
    c_offset = gauge("consumergroup_current_offset", ctp)
    c_offset_sum = gauge("consumergroup_current_offset_sum", ct)
    c_lag = gauge("consumergroup_lag", ctp)
    c_lag_sum = gauge("consumergroup_lag_sum", ct)
    c_members = gauge("consumergroup_members", ["consumergroup"])

    for state in states:
        snap, assessment = state.snapshot, state.assessment
        if snap is None or assessment is None:
            continue
        cl = [state.name] if with_cluster_label else []
        brokers.add_metric(cl, len(snap.brokers))
        for broker_id, broker in sorted(snap.brokers.items()):
            broker_info.add_metric([address(broker.host, broker.port), str(broker_id), *cl], 1)
        for topic in snap.topics.values():
            partitions.add_metric([topic.name, *cl], len(topic.partitions))
            assessed = assessment.topics[topic.name]
            for p, health in zip(topic.partitions, assessed.partitions, strict=True):
                labels = [p.topic, str(p.partition), *cl]
                if p.log_end_offset is not None:
                    current.add_metric(labels, p.log_end_offset)
                if p.log_start_offset is not None:
                    oldest.add_metric(labels, p.log_start_offset)
                in_sync.add_metric(labels, len(p.isr))
                leader.add_metric(labels, p.leader)
                preferred.add_metric(labels, 1.0 if health.preferred_leader else 0.0)
                replicas.add_metric(labels, len(p.replicas))
                under.add_metric(labels, 1.0 if health.under_replicated else 0.0)
            fams.compact(BLOCK_LINES)
        for group_id, group in snap.groups.items():
            c_members.add_metric([group_id, *cl], group.members)
        for group_id, group_lag in state.lag.items():
            for topic_name, parts in group_lag.by_topic().items():
                c_offset_sum.add_metric(
                    [group_id, topic_name, *cl], sum(p.committed for p in parts)
                )
                c_lag_sum.add_metric([group_id, topic_name, *cl], sum(p.lag or 0 for p in parts))
                for lag in parts:
                    labels = [group_id, topic_name, str(lag.partition), *cl]
                    c_offset.add_metric(labels, lag.committed)
                    if lag.lag is not None:
                        c_lag.add_metric(labels, lag.lag)
            fams.compact(BLOCK_LINES)
