"""An in-process ClusterWatcher against a real test cluster, and ways to wait on what it sees."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException

from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.schema import ClusterConfig, CollectionConfig, LagConfig, ZooKeeperConfig
from kafka_watchdog.model.events import Event, EventKind

FAST = CollectionConfig(
    metadata_interval=1.0, offsets_interval=1.0, configs_interval=5.0, request_timeout=5.0
)


def watcher_for(cluster: Any, *, zookeeper: bool, name: str = "it") -> ClusterWatcher:
    config = ClusterConfig(
        name=name,
        bootstrap_servers=cluster.bootstrap_servers.split(","),
        zookeeper=ZooKeeperConfig(connect=cluster.zk_connect) if zookeeper else None,
    )
    return ClusterWatcher(config, FAST, LagConfig(window=20.0, min_samples=3))


async def until(
    predicate: Callable[[], Any], what: str | Callable[[], str], within: float = 60.0
) -> Any:
    """Poll `predicate` until it is truthy. A Kafka client that cannot answer this time (a
    metadata request timed out mid-fault, beside a CPU hog for over 10 s) means "not known
    yet", as in testcluster's `wait_for`, and is quoted if the deadline passes; any other
    exception (an assertion in the predicate) fails at once."""
    deadline = time.monotonic() + within
    error: str | None = None  # the text only: a kept exception would keep its client alive
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except KafkaException as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            if value:
                return value
            error = None
        await asyncio.sleep(0.1)
    text = what() if callable(what) else what
    unanswered = f"; last error: {error}" if error is not None else ""
    raise AssertionError(f"timed out after {within:g}s waiting for {text}{unanswered}")


def events(
    watcher: ClusterWatcher, kind: EventKind, topic: str | None = None, partition: int | None = None
) -> list[Event]:
    return [
        e
        for e in watcher.events
        if e.kind is kind
        and (topic is None or e.topic == topic)
        and (partition is None or e.partition == partition)
    ]


async def wait_event(
    watcher: ClusterWatcher,
    kind: EventKind,
    topic: str | None = None,
    partition: int | None = None,
    within: float = 60.0,
    where: Callable[[Event], bool] = lambda _: True,
) -> Event:
    """The latest such event (`where` picks the one a test is about: a busy cluster may
    add others of the same kind, a second controller move say)."""
    found = await until(
        lambda: [e for e in events(watcher, kind, topic, partition) if where(e)],
        lambda: (
            f"{kind.value} on {topic}-{partition}; seen: "
            + ", ".join(f"{e.kind.value}:{e.subject}" for e in list(watcher.events)[-30:])
        ),
        within,
    )
    return found[-1]  # type: ignore[no-any-return]


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Fault injection and Kafka tools block: keep the watcher's loop running meanwhile."""
    return await asyncio.to_thread(fn, *args)
