"""The log dirs source (DescribeLogDirs through kafka-python) on the session KRaft cluster:
a broker that was away when the source's client started is read as soon as it is back,
not when kafka-python's metadata next refreshes (5 minutes): the soak run's partly_blind
on the logdirs stage outlived the fault by that long."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from kafka_watchdog.config.schema import ClusterConfig
from kafka_watchdog.model.disks import BrokerDisks
from kafka_watchdog.sources.logdirs import LogDirsSource
from tests.integration.watching import in_thread

pytestmark = pytest.mark.integration


def registered(bootstrap: str) -> set[int] | None:
    """The brokers in the cluster's metadata; None when no broker answered in time (a
    stopped broker is in the bootstrap list, and a busy machine is slow): ask again."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        return set(admin.list_topics(timeout=30).brokers)
    except KafkaException:
        return None


async def wait_registered(bootstrap: str, wanted: set[int], within: float = 120) -> None:
    deadline = time.monotonic() + within
    while (seen := await in_thread(registered, bootstrap)) != wanted:
        assert time.monotonic() < deadline, f"brokers {seen}, waiting for {wanted}"


async def test_a_broker_away_when_the_client_started_is_read_once_it_is_back(
    kraft_cluster: Any,
) -> None:
    cluster = kraft_cluster
    bootstrap = cluster.bootstrap_servers
    away = 3
    cluster.broker(away).stop()
    source = LogDirsSource(ClusterConfig(name="kraft", bootstrap_servers=bootstrap.split(",")), 5.0)
    try:
        await wait_registered(bootstrap, {1, 2})
        first = await source.describe([1, 2, away], {}, time.time())
        assert isinstance(first[1], BrokerDisks) and isinstance(first[2], BrokerDisks), first
        assert isinstance(first[away], str), first
        cluster.broker(away).start()
        await wait_registered(bootstrap, {1, 2, away})
        deadline = time.monotonic() + 60
        while True:
            answer = await source.describe([1, 2, away], {}, time.time())
            if isinstance(answer[away], BrokerDisks):
                break
            assert time.monotonic() < deadline, f"broker {away} still unread: {answer[away]}"
    finally:
        await source.close()
        if not cluster.broker(away).running:
            cluster.broker(away).start()
