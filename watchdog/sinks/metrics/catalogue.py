"""Every metric family the exporter emits, declared once: name, type, labels, help, unit, and
the dashboard rows that chart it.

Pure data, no I/O. `families.Families` takes each family's help text and checks its type and
labels against this table, so the exporter cannot emit a family that is not declared here;
docs/metrics.md and the dashboards (`make generate`) are generated from it, and
tests/unit/test_catalogue.py renders a fully populated view and checks the output against it
both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal


class Section(StrEnum):
    WATCHDOG = "watchdog"  # the watchdog's own health
    CLUSTER = "cluster"  # brokers, controller, partitions, topics, events, hazards
    GROUPS = "groups"  # consumer groups and lag
    ALERTING = "alerting"  # alerts and notifications (with alerting enabled)
    COMPAT = "compat"  # kafka_exporter's names (metrics.kafka_exporter_compat: true)
    PROCESS = "process"  # prometheus_client's process_* and python_* of the daemon
    BROKER = "broker"  # not ours: the brokers' JMX exporter (alerts/jmx-exporter/)


# Dashboard titles: the generator (tools/dashboards) uses these, and `rows` below name
# "<dashboard> / <row title>"; tests/unit/test_dashboards.py checks both ways that the
# generated dashboards chart exactly what the catalogue says.
OVERVIEW = "Kafka overview"
TOPICS = "Kafka topics and partitions"
LAG = "Kafka consumer lag"
BROKERS = "Kafka brokers (JMX exporter)"
WATCHDOG = "kafka-watchdog"

Kind = Literal["gauge", "counter", "summary"]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str  # the family name; a counter's samples add `_total`
    type: Kind
    labels: tuple[str, ...]
    help: str
    unit: str  # what one unit of the value is ("" for identities and 0/1 flags)
    section: Section
    rows: tuple[str, ...] = ()  # "<dashboard> / <row>" that chart it
    when: str = ""  # when the family is present, if not always
    # Labels present only in some renders (kafka_exporter names get kafka_cluster only when
    # several clusters are rendered together).
    optional_labels: tuple[str, ...] = ()
    # Broker metrics only: the cluster modes whose brokers export it.
    modes: tuple[str, ...] = ("zookeeper", "kraft")

    @property
    def samples(self) -> tuple[str, ...]:
        """The sample names that PromQL sees."""
        if self.type == "counter":
            return (self.name + "_total",)
        if self.type == "summary":
            return (self.name + "_count", self.name + "_sum")
        return (self.name,)

    def accepts(self, labels: tuple[str, ...]) -> bool:
        return set(labels) in (set(self.labels), {*self.labels, *self.optional_labels})


def row(dashboard: str, title: str) -> str:
    return f"{dashboard} / {title}"


W = "kafka_watchdog_"
C, T, P, G = "kafka_cluster", "topic", "partition", "group"
STAGE = (C, "source", "stage")
TP = (C, T, P)
GT = (C, G, T)
GTP = (C, G, T, P)
ZK_ONLY = "ZooKeeper-mode clusters watched through ZooKeeper (`zookeeper.connect` set)"
PER_PARTITION = "`metrics.partition_level: true` (the default)"
WITH_LAG = "groups with committed offsets"

# Row names, so a typo fails at import rather than in a test.
OV_CLUSTERS = row(OVERVIEW, "Clusters")
OV_CONTROLLER = row(OVERVIEW, "Controller")
OV_PARTITIONS = row(OVERVIEW, "Partitions")
OV_AT_RISK = row(OVERVIEW, "Partitions at risk")
OV_EVENTS = row(OVERVIEW, "Recent events")
OV_DISKS = row(OVERVIEW, "Broker disks")
TP_HEALTH = row(TOPICS, "Topic health")
TP_HAZARDS = row(TOPICS, "Config hazards")
TP_LEADERS = row(TOPICS, "Leader balance")
TP_GROWTH = row(TOPICS, "Log growth")
TP_PARTITIONS = row(TOPICS, "Partitions")
LG_RISK = row(LAG, "Groups at risk")
LG_LAG = row(LAG, "Lag")
LG_OFFSETS = row(LAG, "Committed vs log end")
LG_PARTITIONS = row(LAG, "Partitions")
BR_HEALTH = row(BROKERS, "Health")
BR_REPLICATION = row(BROKERS, "Replication")
BR_THROUGHPUT = row(BROKERS, "Throughput")
BR_REQUESTS = row(BROKERS, "Requests")
BR_QUORUM = row(BROKERS, "Quorum")
BR_JVM = row(BROKERS, "JVM")
WD_HEALTH = row(WATCHDOG, "Health")
WD_COLLECTIONS = row(WATCHDOG, "Collections")
WD_ALERTING = row(WATCHDOG, "Alerting")
WD_PROCESS = row(WATCHDOG, "Process")


def _m(
    name: str,
    type_: Kind,
    labels: tuple[str, ...],
    help_: str,
    unit: str,
    section: Section,
    rows: tuple[str, ...] = (),
    when: str = "",
) -> Metric:
    return Metric(W + name, type_, labels, help_, unit, section, rows, when)


_S = Section
_FLAG_HELP = {
    "under_replicated": "fewer in-sync replicas than replicas",
    "under_min_isr": "ISR below min.insync.replicas, or no leader: acks=all producers fail",
    "at_min_isr": "ISR equal to min.insync.replicas: one more failure blocks acks=all",
    "offline": "no leader",
    "unavailable": "no leader, or a leader that is not a live broker",
}

WATCHDOG_METRICS: tuple[Metric, ...] = (
    # -- the watchdog's own health ---------------------------------------------------------
    _m(
        "build_info",
        "gauge",
        ("version", "python_version", "librdkafka_version"),
        "Version of kafka-watchdog and of the libraries it reads Kafka with (librdkafka's as "
        "the Admin API worker reports it: empty until the first worker started).",
        "",
        _S.WATCHDOG,
        (WD_HEALTH, WD_PROCESS),  # Process: picks the daemon's process_* series out
    ),
    _m(
        "up",
        "gauge",
        (C,),
        "1 when the watchdog has a fresh view of the cluster, else 0.",
        "",
        _S.WATCHDOG,
        (OV_CLUSTERS, WD_HEALTH),
    ),
    _m(
        "last_collection_success_timestamp_seconds",
        "gauge",
        STAGE,
        "When a collection stage last succeeded (Unix time).",
        "seconds since the epoch",
        _S.WATCHDOG,
        (WD_COLLECTIONS,),
        "after the stage's first success",
    ),
    _m(
        "collection_duration_seconds",
        "gauge",
        STAGE,
        "Duration of the stage's last collection.",
        "seconds",
        _S.WATCHDOG,
        (WD_COLLECTIONS,),
        "after the stage's first collection",
    ),
    _m(
        "collections",
        "counter",
        STAGE,
        "Collections attempted per source and stage.",
        "collections",
        _S.WATCHDOG,
        (WD_COLLECTIONS,),
    ),
    _m(
        "collection_errors",
        "counter",
        STAGE,
        "Collections failed per source and stage.",
        "collections",
        _S.WATCHDOG,
        (WD_COLLECTIONS,),
    ),
    _m(
        "collection_failing",
        "gauge",
        (*STAGE, "reason"),
        "1 while the stage's last attempt failed, with why: authentication, tls, "
        "authorization (a missing ACL), unreachable, timeout or error. Absent while it "
        "succeeds. The message is in /api/clusters and the log.",
        "",
        _S.WATCHDOG,
        when="while the stage's last attempt failed",
    ),
    _m(
        "zookeeper_session_state",
        "gauge",
        (C, "state"),
        "1 for the current state of the ZooKeeper session, 0 for the others.",
        "",
        _S.WATCHDOG,
        (WD_HEALTH,),
        ZK_ONLY,
    ),
    _m(
        "zookeeper_malformed_znodes",
        "counter",
        (C,),
        "Znodes skipped because their data could not be parsed.",
        "znodes",
        _S.WATCHDOG,
        (WD_COLLECTIONS,),
        ZK_ONLY,
    ),
    _m(
        "snapshot_age_seconds",
        "gauge",
        (C,),
        "Age of the latest cluster view.",
        "seconds",
        _S.WATCHDOG,
        (OV_CLUSTERS, WD_HEALTH),
        "once the cluster has been seen",
    ),
    _m(
        "partial_answers",
        "counter",
        STAGE,
        "Collections that answered for part of the cluster only (some groups or topics "
        "unanswered: a coordinator gone, an ACL missing); they count as errors too.",
        "collections",
        _S.WATCHDOG,
        (WD_COLLECTIONS,),
    ),
    _m(
        "collections_lost",
        "counter",
        STAGE,
        "Collections whose answer was lost because the Admin API worker died (a librdkafka "
        "abort) or hung while they waited for it.",
        "collections",
        _S.WATCHDOG,
        (WD_COLLECTIONS,),
    ),
    _m(
        "unknown_parts",
        "gauge",
        (C, "stage"),
        "Parts of the cluster the stage could not answer for, carried with their last known "
        "state: consumer groups (groups), partitions' log offsets (offsets: no leader or no "
        "answer), topics' configs (configs).",
        "parts",
        _S.WATCHDOG,
        (WD_COLLECTIONS,),
    ),
    _m(
        "unknown_since_timestamp_seconds",
        "gauge",
        (C, "stage"),
        "Since when the stage has not answered in full: the oldest time one of its parts "
        "became unknown, or its first failed attempt (Unix time).",
        "seconds since the epoch",
        _S.WATCHDOG,
        (WD_COLLECTIONS,),
        "while the stage lacks an answer for something",
    ),
    _m(
        "admin_worker_restarts",
        "counter",
        (C, "cause"),
        "Admin API worker processes replaced, by why they ended: abort (SIGABRT: a "
        "librdkafka assertion), killed (another signal), exited, hung.",
        "restarts",
        _S.WATCHDOG,
        (WD_COLLECTIONS,),
        "after the first restart",
    ),
    # -- cluster, brokers, controller ------------------------------------------------------
    _m(
        "cluster_info",
        "gauge",
        (C, "cluster_id", "mode"),
        "Identity of the watched cluster (mode: zookeeper or kraft).",
        "",
        _S.CLUSTER,
        (OV_CLUSTERS,),
    ),
    _m(
        "brokers",
        "gauge",
        (C,),
        "Brokers alive (registered) in the cluster.",
        "brokers",
        _S.CLUSTER,
        (OV_CLUSTERS,),
    ),
    _m(
        "broker_up",
        "gauge",
        (C, "broker"),
        "1 when the broker is registered; 0 for a broker known from replica assignments or an "
        "earlier registration that is gone.",
        "",
        _S.CLUSTER,
        (OV_CLUSTERS,),
    ),
    _m(
        "controller_id",
        "gauge",
        (C,),
        "Broker (or KRaft controller) id of the active controller; absent when unknown.",
        "broker id",
        _S.CLUSTER,
        (OV_CLUSTERS, OV_CONTROLLER),
        "while the active controller is known",
    ),
    _m(
        "controller_epoch",
        "gauge",
        (C,),
        "Controller epoch (ZooKeeper) or metadata quorum leader epoch (KRaft).",
        "epoch",
        _S.CLUSTER,
        (OV_CONTROLLER,),
        "while the controller epoch is known",
    ),
    _m(
        "controller_changes",
        "counter",
        (C,),
        "Controller changes seen since the watchdog started: the controller moved to "
        "another node (a re-election on the same node counts in controller_elections only).",
        "changes",
        _S.CLUSTER,
        (OV_CONTROLLER, OV_EVENTS),
    ),
    _m(
        "controller_elections",
        "counter",
        (C,),
        "Controller elections seen since the watchdog started: every new controller epoch, "
        "whether the controller moved or was re-elected on the same node.",
        "elections",
        _S.CLUSTER,
        (OV_CONTROLLER,),
    ),
    _m(
        "topics",
        "gauge",
        (C,),
        "Topics watched (after the topic filters).",
        "topics",
        _S.CLUSTER,
        (OV_CLUSTERS,),
    ),
    _m(
        "partitions",
        "gauge",
        (C,),
        "Partitions of the watched topics.",
        "partitions",
        _S.CLUSTER,
        (OV_CLUSTERS,),
    ),
    # -- partitions ------------------------------------------------------------------------
    _m(
        "partition_replicas",
        "gauge",
        TP,
        "Replicas assigned to the partition.",
        "replicas",
        _S.CLUSTER,
        (TP_PARTITIONS,),
        PER_PARTITION,
    ),
    _m(
        "partition_in_sync_replicas",
        "gauge",
        TP,
        "Replicas in the ISR.",
        "replicas",
        _S.CLUSTER,
        (OV_AT_RISK, TP_PARTITIONS),
        PER_PARTITION,
    ),
    _m(
        "partition_leader",
        "gauge",
        TP,
        "Broker id of the leader; -1 when offline.",
        "broker id",
        _S.CLUSTER,
        (TP_LEADERS, TP_PARTITIONS),
        PER_PARTITION,
    ),
    _m(
        "partition_leader_is_preferred",
        "gauge",
        TP,
        "1 when the first assigned replica leads.",
        "",
        _S.CLUSTER,
        (TP_LEADERS,),
        PER_PARTITION,
    ),
    _m(
        "partition_log_start_offset",
        "gauge",
        TP,
        "Log start offset.",
        "offset",
        _S.CLUSTER,
        (TP_GROWTH,),
        PER_PARTITION + ", once the offsets have been read",
    ),
    _m(
        "partition_log_end_offset",
        "gauge",
        TP,
        "Log end offset (high watermark, read_uncommitted).",
        "offset",
        _S.CLUSTER,
        (TP_GROWTH, LG_OFFSETS),
        PER_PARTITION + ", once the offsets have been read",
    ),
    *(
        _m(
            f"partition_{flag}",
            "gauge",
            TP,
            f"1 when the partition has {meaning}.",
            "",
            _S.CLUSTER,
            (OV_AT_RISK,) if flag in ("under_replicated", "under_min_isr", "offline") else (),
            PER_PARTITION,
        )
        for flag, meaning in _FLAG_HELP.items()
    ),
    _m(
        "topic_partitions",
        "gauge",
        (C, T),
        "Partitions of the topic.",
        "partitions",
        _S.CLUSTER,
        (TP_HEALTH,),
    ),
    *(
        _m(
            f"topic_{flag}_partitions",
            "gauge",
            (C, T),
            f"Partitions of the topic in state {flag}: {meaning}.",
            "partitions",
            _S.CLUSTER,
            (TP_HEALTH,),
        )
        for flag, meaning in _FLAG_HELP.items()
    ),
    *(
        _m(
            f"{flag}_partitions",
            "gauge",
            (C,),
            f"Partitions in state {flag} across the cluster: {meaning}.",
            "partitions",
            _S.CLUSTER,
            # The brokers dashboard shows the watchdog's count beside the brokers' own.
            (OV_PARTITIONS, BR_HEALTH) if flag == "under_replicated" else (OV_PARTITIONS,),
        )
        for flag, meaning in _FLAG_HELP.items()
    ),
    # -- change events, per topic ----------------------------------------------------------
    _m(
        "isr_shrinks",
        "counter",
        (C, T),
        "ISR shrinks seen: changes in which a replica fell out of sync (an ISR replaced in "
        "one change, a replica out and another in, counts here and in isr_expands). Per topic.",
        "events",
        _S.CLUSTER,
        (OV_EVENTS, TP_HEALTH),
    ),
    _m(
        "isr_expands",
        "counter",
        (C, T),
        "ISR expansions seen: changes in which a replica caught up (an ISR replaced in one "
        "change counts here and in isr_shrinks). Per topic.",
        "events",
        _S.CLUSTER,
        (OV_EVENTS, TP_HEALTH),
    ),
    _m(
        "leader_changes",
        "counter",
        (C, T),
        "Partition leader changes seen. Per topic.",
        "events",
        _S.CLUSTER,
        (OV_EVENTS, TP_LEADERS),
    ),
    _m(
        "unclean_leader_elections",
        "counter",
        (C, T),
        "Unclean leader elections seen: a leader that was not in the ISR; records were lost. "
        "Per topic.",
        "events",
        _S.CLUSTER,
        (OV_PARTITIONS, OV_EVENTS),
    ),
    _m(
        "log_truncations",
        "counter",
        (C, T),
        "Log end offsets seen going backwards: records were lost. Per topic.",
        "events",
        _S.CLUSTER,
        (OV_PARTITIONS, OV_EVENTS),
    ),
    _m(
        "topic_config_hazard",
        "gauge",
        (C, T, "hazard"),
        "1 for each risky setting of a topic (see docs/metrics.md for the hazards).",
        "",
        _S.CLUSTER,
        (TP_HAZARDS,),
        "for each hazard that holds (absent when none)",
    ),
    # -- consumer groups -------------------------------------------------------------------
    _m(
        "consumergroup_members",
        "gauge",
        (C, G),
        "Members of the group.",
        "members",
        _S.GROUPS,
        (LG_OFFSETS,),
    ),
    _m(
        "consumergroup_state",
        "gauge",
        (C, G, "state"),
        "1 for the group's current state (Stable, Empty, ...).",
        "",
        _S.GROUPS,
        (LG_OFFSETS,),
    ),
    _m(
        "consumergroup_status",
        "gauge",
        (C, G, "status"),
        "1 for the group's lag status: its worst partition's (OK, WARN, STALL, STOP, REWIND, "
        "ERROR, UNKNOWN).",
        "",
        _S.GROUPS,
        (LG_RISK,),
        WITH_LAG,
    ),
    _m(
        "consumergroup_unknown_since_timestamp_seconds",
        "gauge",
        (C, G),
        "Since when part of the group's lag is not a current answer (its coordinator or a "
        "partition's leader did not answer, or too few samples yet): the series of the group "
        "show its last known lag meanwhile (Unix time).",
        "seconds since the epoch",
        _S.GROUPS,
        (LG_RISK,),
        "while part of the group's lag is unknown",
    ),
    _m(
        "consumergroup_topic_lag",
        "gauge",
        GT,
        "Lag in messages summed over the topic's partitions.",
        "messages",
        _S.GROUPS,
        (LG_RISK, LG_LAG),
        WITH_LAG,
    ),
    _m(
        "consumergroup_topic_lag_max",
        "gauge",
        GT,
        "Largest partition lag of the group on the topic.",
        "messages",
        _S.GROUPS,
        (LG_LAG,),
        WITH_LAG,
    ),
    _m(
        "consumergroup_topic_lag_seconds_max",
        "gauge",
        GT,
        "Largest partition lag in seconds of the group on the topic (interpolated from the "
        "log end history; error within one offsets interval).",
        "seconds",
        _S.GROUPS,
        (LG_RISK, LG_LAG),
        WITH_LAG + ", once the log end history allows an estimate",
    ),
    _m(
        "consumergroup_lag_clamped",
        "counter",
        (C, G),
        "Times a committed offset was newer than the log end read (a read race): lag "
        "reported as 0, never negative.",
        "reads",
        _S.GROUPS,
        (LG_PARTITIONS,),
        WITH_LAG,
    ),
    _m(
        "consumergroup_committed_offset",
        "gauge",
        GTP,
        "Offset the group committed.",
        "offset",
        _S.GROUPS,
        (LG_OFFSETS,),
        WITH_LAG + "; " + PER_PARTITION,
    ),
    _m(
        "consumergroup_lag",
        "gauge",
        GTP,
        "Log end offset minus committed offset, never negative.",
        "messages",
        _S.GROUPS,
        (LG_PARTITIONS,),
        WITH_LAG + "; " + PER_PARTITION,
    ),
    _m(
        "consumergroup_lag_seconds",
        "gauge",
        GTP,
        "How long ago the group's next unread record was written (interpolated; error within "
        "one offsets interval).",
        "seconds",
        _S.GROUPS,
        (LG_PARTITIONS,),
        WITH_LAG + "; " + PER_PARTITION,
    ),
    _m(
        "consumergroup_partition_status",
        "gauge",
        (*GTP, "status"),
        "1 for the partition's lag status (Burrow's rules over lag.window).",
        "",
        _S.GROUPS,
        (LG_PARTITIONS,),
        WITH_LAG + "; " + PER_PARTITION,
    ),
    # -- alerting --------------------------------------------------------------------------
    _m(
        "alerts",
        "gauge",
        (C, "rule", "severity", "state"),
        "Alerts by rule, severity and state (pending, firing, resolved and still kept).",
        "alerts",
        _S.ALERTING,
        (WD_ALERTING,),
        "while alerts are open or recently resolved",
    ),
    _m(
        "alerting_notifier",
        "gauge",
        (),
        "1 when this replica is the one that notifies (always 1 without alerting.ha).",
        "",
        _S.ALERTING,
        (WD_ALERTING,),
    ),
    _m(
        "alert_evaluations",
        "counter",
        (),
        "Alert evaluations completed (every alerting.evaluation_interval, scraped or not).",
        "evaluations",
        _S.ALERTING,
    ),
    _m(
        "notifications_sent",
        "counter",
        ("receiver", "target"),
        "Notifications delivered (target: apprise, pagerduty, alertmanager).",
        "notifications",
        _S.ALERTING,
        (WD_ALERTING,),
        "after the first notification",
    ),
    _m(
        "notifications_failed",
        "counter",
        ("receiver", "target"),
        "Delivery attempts that failed; they are retried from the outbox.",
        "attempts",
        _S.ALERTING,
        (WD_ALERTING,),
        "after the first failure",
    ),
    _m(
        "notifications_dropped",
        "counter",
        ("receiver", "target"),
        "Notifications given up: the receiver refused them as malformed, or is no longer "
        "configured.",
        "notifications",
        _S.ALERTING,
        (WD_ALERTING,),
        "after the first one given up",
    ),
    _m(
        "alerting_state_healthy",
        "gauge",
        (),
        "1 when the alerting state (alerting.state_dir) is being written; 0 when a write "
        "failed, the file was deleted or the state_dir is unusable (see /readyz for why).",
        "",
        _S.ALERTING,
    ),
    _m(
        "alerting_state_write_failures",
        "counter",
        (),
        "Writes of the alerting state that failed (retried at the next evaluation).",
        "writes",
        _S.ALERTING,
    ),
    _m(
        "alerting_state_rows_skipped",
        "counter",
        (),
        "Saved alerts, groups, silences or outbox rows that were unreadable and skipped.",
        "rows",
        _S.ALERTING,
    ),
    _m(
        "alerting_state_lost",
        "gauge",
        (),
        "1 when the alerting state file was damaged at start and moved aside (a fresh one "
        "was started: open incidents may be paged again).",
        "",
        _S.ALERTING,
    ),
    _m(
        "notifications_queued",
        "gauge",
        ("receiver",),
        "Notifications waiting in the outbox (receiver down, or backing off).",
        "notifications",
        _S.ALERTING,
        (WD_ALERTING,),
    ),
)


def _compat(name: str, labels: tuple[str, ...], help_: str, unit: str) -> Metric:
    return Metric(
        "kafka_" + name,
        "gauge",
        labels,
        help_.removesuffix(".") + " (kafka_exporter compatible).",
        unit,
        Section.COMPAT,
        optional_labels=(C,),
        when="`metrics.kafka_exporter_compat: true`",
    )


_TP = (T, P)
_CG = "consumergroup"
COMPAT_METRICS: tuple[Metric, ...] = (
    _compat("brokers", (), "Number of brokers in the cluster.", "brokers"),
    # kafka_exporter's dashboards build their broker variables on it.
    _compat("broker_info", ("address", "id"), "1 for each broker, with its host:port and id.", ""),
    _compat("topic_partitions", (T,), "Number of partitions for this topic.", "partitions"),
    _compat("topic_partition_current_offset", _TP, "Current offset of a partition.", "offset"),
    _compat("topic_partition_oldest_offset", _TP, "Oldest offset of a partition.", "offset"),
    _compat("topic_partition_in_sync_replica", _TP, "In-sync replicas of a partition.", "replicas"),
    _compat("topic_partition_leader", _TP, "Leader broker id of a partition.", "broker id"),
    _compat(
        "topic_partition_leader_is_preferred",
        _TP,
        "1 if the partition uses its preferred broker.",
        "",
    ),
    _compat("topic_partition_replicas", _TP, "Replicas of a partition.", "replicas"),
    _compat(
        "topic_partition_under_replicated_partition",
        _TP,
        "1 if the partition is under-replicated.",
        "",
    ),
    _compat("consumergroup_current_offset", (_CG, T, P), "Committed offset of a group.", "offset"),
    _compat("consumergroup_current_offset_sum", (_CG, T), "Sum of committed offsets.", "offset"),
    _compat("consumergroup_lag", (_CG, T, P), "Lag of a group on a partition.", "messages"),
    _compat("consumergroup_lag_sum", (_CG, T), "Lag of a group on a topic.", "messages"),
    _compat("consumergroup_members", (_CG,), "Members of a group.", "members"),
)


def _process(name: str, type_: Kind, labels: tuple[str, ...], help_: str, unit: str) -> Metric:
    rows = (WD_PROCESS,) if name in ("process_resident_memory_bytes", "process_cpu_seconds") else ()
    return Metric(name, type_, labels, help_, unit, Section.PROCESS, rows)


# prometheus_client's default collectors (Linux); their help texts are prometheus_client's.
PROCESS_METRICS: tuple[Metric, ...] = (
    _process("process_virtual_memory_bytes", "gauge", (), "Virtual memory size in bytes.", "bytes"),
    _process(
        "process_resident_memory_bytes", "gauge", (), "Resident memory size in bytes.", "bytes"
    ),
    _process(
        "process_start_time_seconds",
        "gauge",
        (),
        "Start time of the process since unix epoch in seconds.",
        "seconds since the epoch",
    ),
    _process(
        "process_cpu_seconds",
        "counter",
        (),
        "Total user and system CPU time spent in seconds.",
        "seconds",
    ),
    _process("process_open_fds", "gauge", (), "Number of open file descriptors.", "fds"),
    _process("process_max_fds", "gauge", (), "Maximum number of open file descriptors.", "fds"),
    _process(
        "python_gc_objects_collected",
        "counter",
        ("generation",),
        "Objects collected during gc",
        "objects",
    ),
    _process(
        "python_gc_objects_uncollectable",
        "counter",
        ("generation",),
        "Uncollectable objects found during GC",
        "objects",
    ),
    _process(
        "python_gc_collections",
        "counter",
        ("generation",),
        "Number of times this generation was collected",
        "collections",
    ),
    _process(
        "python_info",
        "gauge",
        ("implementation", "major", "minor", "patchlevel", "version"),
        "Python platform information",
        "",
    ),
)

# Everything kafka-watchdog's /metrics can hold.
# -- lag foresight and broker disks ---------------------------------------------------------
B, D = "broker", "log_dir"
WITH_FORESIGHT = WITH_LAG + ", once two offsets cycles give rates"
WITH_LOG_DIRS = "once the brokers answered DescribeLogDirs (`collection.log_dirs_interval`)"
FORESIGHT_METRICS: tuple[Metric, ...] = (
    _m(
        "consumergroup_topic_catchup_seconds",
        "gauge",
        GT,
        "Time until the group has no lag on the topic at its current rates (lag / (consumed "
        "- produced), the slowest partition): 0 caught up, +Inf never (the lag does not "
        "shrink). Error bounds: docs/foresight.md.",
        "seconds",
        _S.GROUPS,
        (LG_RISK,),
        WITH_FORESIGHT,
    ),
    _m(
        "consumergroup_topic_retention_risk_seconds",
        "gauge",
        GT,
        "Time until retention deletes the first record the group has not read on the topic "
        "(its soonest partition; a lower bound): 0 due now, +Inf nothing unread at risk.",
        "seconds",
        _S.GROUPS,
        (LG_RISK,),
        WITH_LAG + " on topics whose configs were read",
    ),
    _m(
        "consumergroup_retention_risk_seconds",
        "gauge",
        GTP,
        "Time until retention deletes the first record the group has not read on the "
        "partition (a lower bound): 0 due now, +Inf nothing unread at risk.",
        "seconds",
        _S.GROUPS,
        (LG_PARTITIONS,),
        WITH_LAG + "; " + PER_PARTITION,
    ),
    _m(
        "consumergroup_records_skipped",
        "counter",
        GT,
        "Records retention deleted before the group read them (its committed offset fell "
        "below the log start).",
        "records",
        _S.GROUPS,
        (LG_RISK,),
        "after the log start passed a group's committed offset",
    ),
    _m(
        "broker_log_dir_online",
        "gauge",
        (C, B, D),
        "1 while the broker's log dir is online; 0 when it is offline (KAFKA_STORAGE_ERROR) "
        "or no longer listed by the broker.",
        "",
        _S.CLUSTER,
        (OV_DISKS,),
        WITH_LOG_DIRS,
    ),
    _m(
        "broker_log_dir_size_bytes",
        "gauge",
        (C, B, D),
        "Bytes of the replicas on the log dir (the last known size for an offline dir).",
        "bytes",
        _S.CLUSTER,
        (OV_DISKS,),
        WITH_LOG_DIRS,
    ),
    _m(
        "broker_log_dir_partitions",
        "gauge",
        (C, B, D),
        "Replicas on the log dir (for an offline dir, the ones it had when last online).",
        "replicas",
        _S.CLUSTER,
        (OV_DISKS,),
        WITH_LOG_DIRS,
    ),
    _m(
        "broker_log_dir_usable_bytes",
        "gauge",
        (C, B, D),
        "Free bytes on the log dir's volume, as the broker reports it.",
        "bytes",
        _S.CLUSTER,
        (OV_DISKS,),
        WITH_LOG_DIRS + ", brokers 3.3 and later",
    ),
    _m(
        "broker_log_dir_total_bytes",
        "gauge",
        (C, B, D),
        "Size of the log dir's volume, as the broker reports it.",
        "bytes",
        _S.CLUSTER,
        (OV_DISKS,),
        WITH_LOG_DIRS + ", brokers 3.3 and later",
    ),
    _m(
        "broker_log_dir_growth_bytes_per_second",
        "gauge",
        (C, B, D),
        "Growth of the log dir's size over the last hour (since first seen, if less), in "
        "bytes per second (x 3600: per hour).",
        "bytes per second",
        _S.CLUSTER,
        (OV_DISKS,),
        WITH_LOG_DIRS + ", from the second round on",
    ),
    _m(
        "topic_size_bytes",
        "gauge",
        (C, T),
        "Bytes the topic's replicas take on the brokers' online log dirs (every replica).",
        "bytes",
        _S.CLUSTER,
        (TP_GROWTH,),
        WITH_LOG_DIRS,
    ),
)

CATALOGUE: tuple[Metric, ...] = (
    WATCHDOG_METRICS + FORESIGHT_METRICS + COMPAT_METRICS + PROCESS_METRICS
)
BY_NAME: MappingProxyType[str, Metric] = MappingProxyType({m.name: m for m in CATALOGUE})


def _broker(
    name: str,
    type_: Kind,
    help_: str,
    unit: str,
    rows: tuple[str, ...],
    labels: tuple[str, ...] = (),
    modes: tuple[str, ...] = ("zookeeper", "kraft"),
    when: str = "",
) -> Metric:
    return Metric(name, type_, labels, help_, unit, Section.BROKER, rows, when, modes=modes)


_ZK, _KRAFT = ("zookeeper",), ("kraft",)
_CONTROLLERS = "ZooKeeper mode: every broker (0 unless it is the controller); KRaft: controllers"

# Not kafka-watchdog's: what the brokers' JMX exporter serves with the project's config
# (alerts/jmx-exporter/kafka-broker.yml), declared here so the broker rules, the brokers
# dashboard and the docs have one list to be checked against. Labels are the exporter's own;
# Prometheus adds the target's (instance, job, and kafka_cluster as docs/operating.md sets it).
# tests/integration/test_prometheus_kit.py checks the list against real brokers of both modes.
BROKER_METRICS: tuple[Metric, ...] = (
    _broker(
        "kafka_server_replicamanager_underreplicatedpartitions",
        "gauge",
        "Partitions led by this broker whose ISR is smaller than their replica set.",
        "partitions",
        (BR_HEALTH,),
    ),
    _broker(
        "kafka_server_replicamanager_underminisrpartitioncount",
        "gauge",
        "Partitions led by this broker whose ISR is below min.insync.replicas.",
        "partitions",
        (BR_HEALTH,),
    ),
    _broker(
        "kafka_server_replicamanager_atminisrpartitioncount",
        "gauge",
        "Partitions led by this broker whose ISR equals min.insync.replicas.",
        "partitions",
        (BR_HEALTH,),
    ),
    _broker(
        "kafka_server_replicamanager_offlinereplicacount",
        "gauge",
        "Replicas on this broker that are offline (their log directory failed).",
        "replicas",
        (BR_HEALTH,),
    ),
    _broker(
        "kafka_server_replicamanager_partitioncount",
        "gauge",
        "Partitions with a replica on this broker.",
        "partitions",
        (BR_REPLICATION,),
    ),
    _broker(
        "kafka_server_replicamanager_leadercount",
        "gauge",
        "Partitions this broker leads.",
        "partitions",
        (BR_REPLICATION,),
    ),
    _broker(
        "kafka_server_replicamanager_isrshrinks",
        "counter",
        "ISR shrinks on partitions this broker leads.",
        "events",
        (BR_REPLICATION,),
    ),
    _broker(
        "kafka_server_replicamanager_isrexpands",
        "counter",
        "ISR expansions on partitions this broker leads.",
        "events",
        (BR_REPLICATION,),
    ),
    _broker(
        "kafka_server_replicafetchermanager_maxlag",
        "gauge",
        "Largest lag of this broker's follower replicas behind their leaders.",
        "messages",
        (BR_REPLICATION,),
    ),
    _broker(
        "kafka_controller_kafkacontroller_activecontrollercount",
        "gauge",
        "1 on the active controller. Exactly one per cluster when healthy.",
        "controllers",
        (BR_HEALTH,),
        when=_CONTROLLERS,
    ),
    _broker(
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        "gauge",
        "Partitions without a leader (ZooKeeper mode: the active controller's count; KRaft: "
        "every controller reports the same count).",
        "partitions",
        (BR_HEALTH,),
        when=_CONTROLLERS,
    ),
    _broker(
        "kafka_controller_kafkacontroller_preferredreplicaimbalancecount",
        "gauge",
        "Partitions not led by their preferred replica.",
        "partitions",
        (BR_REPLICATION,),
        when=_CONTROLLERS,
    ),
    _broker(
        "kafka_controller_kafkacontroller_globalpartitioncount",
        "gauge",
        "Partitions in the cluster, as the controller counts them.",
        "partitions",
        (BR_QUORUM,),
        when=_CONTROLLERS,
    ),
    _broker(
        "kafka_controller_kafkacontroller_globaltopiccount",
        "gauge",
        "Topics in the cluster, as the controller counts them.",
        "topics",
        (BR_QUORUM,),
        when=_CONTROLLERS,
    ),
    _broker(
        "kafka_controller_kafkacontroller_activebrokercount",
        "gauge",
        "Brokers registered and not fenced, as the controller counts them.",
        "brokers",
        (BR_QUORUM,),
        when=_CONTROLLERS,
    ),
    _broker(
        "kafka_controller_kafkacontroller_fencedbrokercount",
        "gauge",
        "Brokers fenced by the controller (KRaft: heartbeats missed; always 0 in ZooKeeper mode).",
        "brokers",
        (BR_QUORUM,),
        when=_CONTROLLERS,
    ),
    _broker(
        "kafka_controller_kafkacontroller_metadataerrorcount",
        "gauge",
        "Errors the KRaft controller met applying metadata records.",
        "errors",
        (BR_QUORUM,),
        modes=_KRAFT,
        when="KRaft controllers",
    ),
    _broker(
        "kafka_controller_controllerstats_uncleanleaderelections",
        "counter",
        "Unclean leader elections made by this controller since it started.",
        "elections",
        (BR_HEALTH,),
        when=_CONTROLLERS,
    ),
    _broker(
        "kafka_log_logmanager_offlinelogdirectorycount",
        "gauge",
        "Log directories of this broker that are offline (a failed disk).",
        "directories",
        (BR_HEALTH,),
    ),
    _broker(
        "kafka_server_brokertopicmetrics_bytesin",
        "counter",
        "Bytes produced to this broker (all topics).",
        "bytes",
        (BR_THROUGHPUT,),
    ),
    _broker(
        "kafka_server_brokertopicmetrics_bytesout",
        "counter",
        "Bytes fetched from this broker by consumers (all topics).",
        "bytes",
        (BR_THROUGHPUT,),
    ),
    _broker(
        "kafka_server_brokertopicmetrics_messagesin",
        "counter",
        "Records produced to this broker (all topics).",
        "records",
        (BR_THROUGHPUT,),
    ),
    _broker(
        "kafka_server_brokertopicmetrics_failedproducerequests",
        "counter",
        "Produce requests this broker failed.",
        "requests",
        (BR_THROUGHPUT,),
    ),
    _broker(
        "kafka_server_brokertopicmetrics_failedfetchrequests",
        "counter",
        "Fetch requests this broker failed.",
        "requests",
        (BR_THROUGHPUT,),
    ),
    _broker(
        "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_seconds",
        "counter",
        "Request handler idle time per thread; its rate() is the pool's idle ratio (1 idle, "
        "0 saturated).",
        "seconds",
        (BR_REQUESTS,),
    ),
    _broker(
        "kafka_network_socketserver_networkprocessoravgidlepercent",
        "gauge",
        "Average idle ratio of the network threads (1 idle, 0 saturated).",
        "ratio",
        (BR_REQUESTS,),
    ),
    _broker(
        "kafka_network_requestchannel_requestqueuesize",
        "gauge",
        "Requests waiting for a request handler.",
        "requests",
        (BR_REQUESTS,),
    ),
    _broker(
        "kafka_network_requestmetrics_requests",
        "counter",
        "Requests received, per request type and version.",
        "requests",
        (BR_REQUESTS,),
        labels=("request", "version"),
    ),
    _broker(
        "kafka_network_requestmetrics_totaltime_seconds",
        "gauge",
        "Total time of Produce, FetchConsumer and FetchFollower requests: median and 99th "
        "percentile over the broker's recent requests.",
        "seconds",
        (BR_REQUESTS,),
        labels=("request", "quantile"),
    ),
    _broker(
        "kafka_server_kafkaserver_brokerstate",
        "gauge",
        "Broker state: 3 running, 6 pending controlled shutdown, 7 shutting down.",
        "",
        (BR_HEALTH,),
    ),
    _broker(
        "kafka_server_sessionexpirelistener_zookeeperexpires",
        "counter",
        "ZooKeeper sessions of this broker that expired.",
        "sessions",
        (BR_QUORUM,),
        modes=_ZK,
        when="ZooKeeper-mode brokers",
    ),
    _broker(
        "kafka_server_sessionexpirelistener_zookeeperdisconnects",
        "counter",
        "Disconnections of this broker from ZooKeeper.",
        "disconnections",
        (BR_QUORUM,),
        modes=_ZK,
        when="ZooKeeper-mode brokers",
    ),
    _broker(
        "kafka_server_raft_current_leader",
        "gauge",
        "Id of the metadata quorum leader (the active controller) as this node sees it; -1 "
        "when none.",
        "node id",
        (BR_QUORUM,),
        modes=_KRAFT,
        when="KRaft nodes",
    ),
    _broker(
        "kafka_server_raft_current_epoch",
        "gauge",
        "Metadata quorum epoch as this node sees it (grows with every election).",
        "epoch",
        (BR_QUORUM,),
        modes=_KRAFT,
        when="KRaft nodes",
    ),
    _broker(
        "kafka_server_raft_high_watermark",
        "gauge",
        "Metadata log high watermark as this node sees it.",
        "offset",
        (BR_QUORUM,),
        modes=_KRAFT,
        when="KRaft nodes",
    ),
    _broker(
        "kafka_server_raft_number_unknown_voter_connections",
        "gauge",
        "Quorum voters this node has no connection to.",
        "voters",
        (BR_QUORUM,),
        modes=_KRAFT,
        when="KRaft nodes",
    ),
    # The agent's own JVM collectors (always on in 1.0.1).
    _broker(
        "jvm_memory_used_bytes",
        "gauge",
        "JVM memory in use, per area (heap, nonheap).",
        "bytes",
        (BR_JVM,),
        labels=("area",),
    ),
    _broker(
        "jvm_memory_max_bytes",
        "gauge",
        "JVM memory limit, per area (-1 when unlimited).",
        "bytes",
        (BR_JVM,),
        labels=("area",),
    ),
    _broker(
        "jvm_gc_collection_seconds",
        "summary",
        "Time spent in each garbage collector.",
        "seconds",
        (BR_JVM,),
        labels=("gc",),
    ),
)
BROKER_BY_NAME: MappingProxyType[str, Metric] = MappingProxyType(
    {m.name: m for m in BROKER_METRICS}
)
