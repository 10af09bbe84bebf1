"""One collection of each cluster, for the commands that do not run the daemon
(`kafka-watchdog status --config`, `kafka-watchdog check`): the daemon's own watchers, started
and stopped once every collection stage has answered (or failed) once.

Through the Admin API only (a configured ZooKeeper is not connected: its watches pay off in
a long run, not in one look). One look cannot judge what needs time: lag status, lag in
seconds, rates and time to catch up need several offsets cycles; `watch` keeps collecting
that long after the first full round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kafka_watchdog.app.supervisor import Supervisor
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.schema import WatchdogConfig
from kafka_watchdog.model.state import ClusterBoard, ClusterState

STOP_GRACE = 5.0


def answered(state: ClusterState) -> bool:
    """Every stage tried once; or no view at all after a failed metadata round (the other
    stages wait for a view that is not coming)."""
    health = state.health
    if state.snapshot is None:
        return health.admin.consecutive_failures > 0
    return all(s.attempts_total > 0 for s in health.sources())


async def collect_once(
    config: WatchdogConfig,
    names: Sequence[str] | None = None,
    *,
    watch: float = 0.0,
    give_up_after: float | None = None,
) -> list[ClusterState]:
    """The published state of each cluster (all, or `names`) after one collection."""
    clusters = [c for c in config.clusters if names is None or c.name in names]
    board = ClusterBoard()
    watchers = [
        ClusterWatcher(
            c.model_copy(update={"zookeeper": None}),
            config.collection,
            config.lag,
            min_replication_factor=config.metrics.min_replication_factor,
            board=board,
        )
        for c in clusters
    ]
    supervisor = Supervisor()
    loop = asyncio.get_running_loop()
    limit = (
        give_up_after if give_up_after is not None else 3 * config.collection.request_timeout + 15
    )
    deadline = loop.time() + limit
    try:
        for w in watchers:
            await w.start(supervisor)
        # The board notifies nobody: like every reader, look at what is published.
        while loop.time() < deadline and not all(answered(w.state) for w in watchers):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        if watch > 0:
            await asyncio.sleep(watch)
    finally:
        await supervisor.stop(STOP_GRACE)
        await asyncio.gather(*(w.close(STOP_GRACE) for w in watchers))
    return [w.state for w in watchers]
