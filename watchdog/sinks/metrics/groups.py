"""Consumer group metrics: committed offsets, lag in messages and seconds, status."""

from __future__ import annotations

from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.sinks.metrics.families import BLOCK_LINES, Families, label_set

C, G, T, P = "kafka_cluster", "group", "topic", "partition"


def collect(fams: Families, cluster: ClusterState, config: MetricsConfig) -> None:
    name = cluster.name
    snap = cluster.snapshot
    group_states = snap.groups if snap is not None else {}
    members = fams.gauge("consumergroup_members", [C, G])
    state = fams.gauge("consumergroup_state", [C, G, "state"])
    for group_id, group in group_states.items():
        members.add_metric([name, group_id], group.members)
        state.add_metric([name, group_id, group.state], 1)

    gl = [C, G]
    gtl = [C, G, T]
    gtpl = [C, G, T, P]
    status = fams.gauge("consumergroup_status", [C, G, "status"])
    lag_sum = fams.gauge("consumergroup_topic_lag", gtl)
    lag_max = fams.gauge("consumergroup_topic_lag_max", gtl)
    seconds_max = fams.gauge("consumergroup_topic_lag_seconds_max", gtl)
    unknown_since = fams.gauge("consumergroup_unknown_since_timestamp_seconds", gl)
    races = fams.counter("consumergroup_lag_clamped", gl)
    if config.partition_level:
        committed = fams.gauge("consumergroup_committed_offset", gtpl)
        lag = fams.gauge("consumergroup_lag", gtpl)
        seconds = fams.gauge("consumergroup_lag_seconds", gtpl)
        pstatus = fams.gauge("consumergroup_partition_status", [*gtpl, "status"])
    for group_id, group_lag in cluster.lag.items():
        status.add_metric([name, group_id, group_lag.status.value], 1)
        stale = group_lag.stale_since
        if stale is not None:
            unknown_since.add_metric([name, group_id], stale)
        group_label = label_set([C, G], [name, group_id])
        races.add_metric([name, group_id], cluster.lag_races.get(group_id, 0))
        for topic, parts in group_lag.by_topic().items():
            known = [p.lag for p in parts if p.lag is not None]
            lag_sum.add_metric([name, group_id, topic], sum(known))
            lag_max.add_metric([name, group_id, topic], max(known, default=0))
            secs = [p.lag_seconds for p in parts if p.lag_seconds is not None]
            if secs:
                seconds_max.add_metric([name, group_id, topic], max(secs))
            if not config.partition_level:
                continue
            for p in parts:
                labels = f'{group_label},topic="{topic}",partition="{p.partition}"'
                committed.add(labels, p.committed)
                if p.lag is not None:
                    lag.add(labels, p.lag)
                if p.lag_seconds is not None:
                    seconds.add(labels, p.lag_seconds)
                pstatus.add(f'{labels},status="{p.status.value}"', 1)
        fams.compact(BLOCK_LINES)
