"""One-shot connectivity check of every configured cluster (`validate-config --connect`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

from kafka_watchdog.config.schema import ClusterConfig, WatchdogConfig
from kafka_watchdog.model.parts import TopicMetadata
from kafka_watchdog.sources.admin import AdminSource
from kafka_watchdog.sources.errors import SourceError
from kafka_watchdog.sources.logdirs import LogDirsSource
from kafka_watchdog.sources.zookeeper import ZooKeeperSource

# DescribeConfigs is asked for this many topics at most: enough to show a missing ACL.
PROBE_TOPICS = 100


async def probe_cluster(cluster: ClusterConfig, request_timeout: float) -> list[str]:
    """Returns the problems found (empty when the cluster is fully reachable)."""
    problems: list[str] = []
    admin = AdminSource(cluster, request_timeout)
    cluster_id = None
    try:
        admin.start()
        description, topics = await asyncio.gather(admin.describe_cluster(), admin.topics())
        cluster_id = description.cluster_id
        print(
            f"cluster {cluster.name!r}: Admin API OK: cluster id {cluster_id}, "
            f"{len(description.brokers)} brokers, {len(topics)} topics"
        )
        problems += await _check_acls(admin, [t.name for t in topics])
        problems += await _check_log_dirs(cluster, request_timeout, description.brokers, topics)
    except SourceError as exc:
        problems.append(str(exc))
    finally:
        await admin.close()
    if cluster.zookeeper is not None:
        zk = ZooKeeperSource(cluster, lambda state: None)
        try:
            await zk.start()
            zk_id = await zk.cluster_id()
            if cluster_id and zk_id and zk_id != cluster_id:
                problems.append(
                    f"ZooKeeper {cluster.zookeeper.connect} holds cluster id {zk_id} but the "
                    f"brokers at bootstrap_servers report {cluster_id}: zookeeper.connect points "
                    "at another cluster"
                )
            else:
                print(f"cluster {cluster.name!r}: ZooKeeper OK: {cluster.zookeeper.connect}")
        except SourceError as exc:
            problems.append(str(exc))
        finally:
            await zk.close()
    return problems


async def _check_acls(admin: AdminSource, topics: list[str]) -> list[str]:
    """The stages after metadata, once each: a missing ACL shows here before the daemon
    runs degraded (groups: Describe on groups; configs: DescribeConfigs on topics)."""
    problems = []
    for check in (admin.groups(), admin.topic_configs(topics[:PROBE_TOPICS])):
        try:
            await check
        except SourceError as exc:
            problems.append(str(exc))
    return problems


async def _check_log_dirs(
    cluster: ClusterConfig,
    request_timeout: float,
    brokers: Iterable[int],
    topics: Sequence[TopicMetadata],
) -> list[str]:
    """The log dirs stage once (DescribeLogDirs: Describe on the cluster)."""
    source = LogDirsSource(cluster, request_timeout)
    partitions = {t.name: [p.partition for p in t.partitions] for t in topics[:PROBE_TOPICS]}
    try:
        answers = await source.describe(sorted(brokers), partitions, time.time())
    except SourceError as exc:
        return [str(exc)]
    finally:
        await source.close()
    return [answer for answer in answers.values() if isinstance(answer, str)]


async def probe_all(config: WatchdogConfig) -> int:
    results = await asyncio.gather(
        *(probe_cluster(c, config.collection.request_timeout) for c in config.clusters)
    )
    failures = 0
    for problems in results:
        for problem in problems:
            failures += 1
            print(f"error: {problem}")
    return failures
