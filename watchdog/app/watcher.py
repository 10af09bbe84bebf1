"""One cluster's collection loops: sources -> parts -> snapshot -> events, with health.

Each Admin API question runs on its own schedule (metadata, offsets and groups, configs); the
ZooKeeper mirror pushes changes as they happen. Any new part rebuilds the snapshot (pure
`assemble`), which is diffed against the previous one into events and assessed (partition
health, hazards) once. A loop never dies: every failure is recorded (health, metrics, one log
line per change of state) and retried.

Whatever changes, the watcher publishes a new immutable ClusterState on its board; that is
all the rest of the daemon reads. Its own attributes (store, events, lag, health) are the
loop's working state.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from kafka_watchdog.app.supervisor import Supervisor
from kafka_watchdog.config.schema import ClusterConfig, CollectionConfig, LagConfig
from kafka_watchdog.detection import disks
from kafka_watchdog.detection.assess import assess
from kafka_watchdog.detection.diff import Differ, records_skipped
from kafka_watchdog.detection.foresight import ForesightTracker
from kafka_watchdog.detection.lag_history import LagHistory
from kafka_watchdog.detection.lag_tracker import LagTracker
from kafka_watchdog.model.assemble import assemble
from kafka_watchdog.model.assessment import Assessment
from kafka_watchdog.model.events import Event, EventKind
from kafka_watchdog.model.foresight import GroupForesight
from kafka_watchdog.model.health import ClusterHealth, SourceHealth
from kafka_watchdog.model.lag import GroupLag
from kafka_watchdog.model.parts import AdminView, LogOffsets, Timed, ZkView
from kafka_watchdog.model.snapshot import frozen_map
from kafka_watchdog.model.state import ClusterBoard, ClusterState
from kafka_watchdog.model.store import SnapshotStore
from kafka_watchdog.sources.errors import PartialAnswer, SourceError
from kafka_watchdog.sources.isolated import IsolatedAdminSource
from kafka_watchdog.sources.logdirs import LogDirsSource
from kafka_watchdog.sources.quorum import QuorumSource
from kafka_watchdog.sources.zkmirror import ZkMirror
from kafka_watchdog.sources.zookeeper import ZooKeeperSource

log = logging.getLogger(__name__)

# While a stage stays broken, repeat its warning this often (the metrics say it every scrape).
REPEAT_WARNING_AFTER = 300.0
# ZooKeeper changes arrive in bursts (a broker failure rewrites thousands of state nodes):
# rebuild once per burst, soon enough to keep detection well under a second.
ZK_DEBOUNCE = 0.05
# Longest wait for the collection loops to end, or the sources to close, when the watcher
# runs on its own (tests, benchmarks); the daemon bounds its whole shutdown itself.
STOP_TIMEOUT = 5.0
# Above this many events in one rebuild, log a summary per kind instead of every line.
LOG_EVENTS_MAX = 20
# Events kept (and published) since the start: the event rules look back an hour at most.
EVENTS_KEPT = 1000
# A stage woken by an event (the log dirs after an ISR shrink) runs at most this often.
WAKE_GAP = 5.0


class ClusterWatcher:
    def __init__(
        self,
        cluster: ClusterConfig,
        collection: CollectionConfig,
        lag: LagConfig | None = None,
        *,
        min_replication_factor: int = 2,
        board: ClusterBoard | None = None,
    ) -> None:
        self.cluster = cluster
        self.collection = collection
        # The floor of the replication_factor_below_floor hazard (metrics.min_replication_factor).
        self.min_replication_factor = min_replication_factor
        lag = lag or LagConfig()
        self.lag = LagTracker(lag.window, lag.min_samples, lag.history_points)
        self.foresight = ForesightTracker(lag.window, lag.caught_up_within)
        self.lag_history = LagHistory()
        self._foresight: Mapping[str, GroupForesight] = frozen_map()
        # Records deleted before a group read them, (group, topic) -> records.
        self.skipped: collections.Counter[tuple[str, str]] = collections.Counter()
        self._published_skipped: Mapping[tuple[str, str], int] = frozen_map()
        self.disks: disks.Disks = frozen_map()
        self._sizes: dict[tuple[str, int], int] = {}
        self._size_history = disks.SizeHistory()
        # Set by an ISR shrink: a failed disk shows there first; read the log dirs at once.
        self._wake_log_dirs = asyncio.Event()
        self.known_brokers: set[int] = set()
        self.store = SnapshotStore()
        self.health = ClusterHealth(cluster.name, zookeeper_configured=bool(cluster.zookeeper))
        timeout = collection.request_timeout
        self.admin = IsolatedAdminSource(cluster, timeout, collection.max_concurrent_requests)
        self.quorum = QuorumSource(cluster, timeout)
        self.logdirs = LogDirsSource(cluster, timeout)
        self.zookeeper = (
            ZooKeeperSource(cluster, self._on_zookeeper_state) if cluster.zookeeper else None
        )
        self.mirror: ZkMirror | None = None
        self.view = AdminView()
        self.events: collections.deque[Event] = collections.deque(maxlen=EVENTS_KEPT)
        self._diff = Differ()  # remembers offline partitions' last leaders between snapshots
        self.event_counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._supervisor: Supervisor | None = None
        self._own_supervisor = False
        self._last_warned: dict[str, float] = {}
        self._rebuild_handle: asyncio.TimerHandle | None = None
        # Offsets and configs are asked for the partitions of the first view: wait for it
        # instead of failing (and warning) at every start.
        self._first_view = asyncio.Event()
        # What the last published state holds, rebuilt only when it changed.
        self._assessment: Assessment | None = None
        self._published_events: tuple[Event, ...] = ()
        self._published_counts: Mapping[tuple[str, str], int] = frozen_map()
        self._published_brokers: frozenset[int] = frozenset()
        self.board = board if board is not None else ClusterBoard()
        self._publish()

    @property
    def name(self) -> str:
        return self.cluster.name

    @property
    def state(self) -> ClusterState:
        """The latest state this watcher published."""
        state = self.board.get(self.name)
        assert state is not None
        return state

    def ready(self, now: float) -> tuple[bool, str]:
        return self.health.ready(now, self.collection.effective_stale_after)

    def _publish(self) -> None:
        self.board.publish(
            ClusterState(
                name=self.name,
                health=self.health,
                stale_after=self.collection.effective_stale_after,
                snapshot=self.store.latest,
                assessment=self._assessment,
                version=self.store.version,
                events=self._published_events,
                event_counts=self._published_counts,
                lag=self.lag.latest,
                lag_races=self.lag.races,
                known_brokers=self._published_brokers,
                zookeeper_malformed=self.mirror.malformed_total if self.mirror else 0,
                foresight=self._foresight,
                lag_history=self.lag_history.latest,
                records_skipped=self._published_skipped,
                log_dirs=self.disks,
            )
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, supervisor: Supervisor | None = None) -> None:
        """Start the collection loops as tasks of `supervisor`; without one (tests,
        benchmarks) the watcher supervises its own and `stop` ends them."""
        if supervisor is None:
            supervisor, self._own_supervisor = Supervisor(), True
        self._supervisor = supervisor
        c = self.collection
        loops: list[tuple[str, float, Callable[[], Awaitable[None]]]] = [
            ("metadata", c.metadata_interval, self._collect_metadata),
            ("quorum", c.metadata_interval, self._collect_quorum),
            ("offsets", c.offsets_interval, self._collect_offsets),
            ("configs", c.configs_interval, self._collect_configs),
            ("logdirs", c.log_dirs_interval, self._collect_log_dirs),
        ]
        if self.zookeeper is not None:
            loops.append(("zookeeper", c.metadata_interval, self._check_zookeeper))
        for stage, interval, step in loops:
            wake = self._wake_log_dirs if stage == "logdirs" else None
            supervisor.start(
                f"{stage}:{self.name}",
                functools.partial(self._every, interval, stage, step, wake),
                kafka_cluster=self.name,
            )

    async def stop(self) -> None:
        """Stop the loops (when the watcher supervises its own) and close the sources."""
        if self._own_supervisor and self._supervisor is not None:
            await self._supervisor.stop(STOP_TIMEOUT)
        await self.close(STOP_TIMEOUT)

    async def close(self, grace: float) -> None:
        """Close the sources (the loops have stopped), each within `grace` seconds at most."""
        if self._rebuild_handle is not None:
            self._rebuild_handle.cancel()
        closing: dict[str, Awaitable[None]] = {
            "Admin API worker": self.admin.close(),
            "quorum client": self.quorum.close(),
            "log dirs client": self.logdirs.close(),
        }
        if self.zookeeper is not None:
            if self.mirror is not None:
                self.mirror.invalidate()
            closing["ZooKeeper session"] = self.zookeeper.close()
        loop = asyncio.get_running_loop()

        async def close(what: str, closed: Awaitable[None]) -> None:
            began = loop.time()
            try:
                await asyncio.wait_for(closed, grace)
            except TimeoutError:
                log.warning(
                    "%s did not close in %gs", what, grace, extra={"kafka_cluster": self.name}
                )
            except Exception as exc:
                log.warning("%s failed to close: %r", what, exc, extra={"kafka_cluster": self.name})
            else:
                log.debug(
                    "%s closed in %.2fs",
                    what,
                    loop.time() - began,
                    extra={"kafka_cluster": self.name},
                )

        await asyncio.gather(*(close(what, closed) for what, closed in closing.items()))

    # -- the stages -----------------------------------------------------------------------

    async def _collect_metadata(self) -> None:
        self.admin.start()
        description, topics = await asyncio.gather(
            self.admin.describe_cluster(), self.admin.topics()
        )
        now = time.time()
        self._update(description=Timed(description, now), topics=Timed(tuple(topics), now))

    async def _collect_quorum(self) -> None:
        answer = await self.quorum.describe()
        self._update(quorum=Timed(answer, time.time()))

    def _partitions(self) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """(every partition, those led by a live broker). Offsets are asked for the second
        only: asking for the others just waits out a timeout (and exercises librdkafka's
        least-trodden paths); their last known offsets are carried forward instead."""
        snap = self.store.latest
        if snap is None:
            return [], []
        live = snap.brokers.keys()
        every = [(p.topic, p.partition) for t in snap.topics.values() for p in t.partitions]
        led = [
            (p.topic, p.partition)
            for t in snap.topics.values()
            for p in t.partitions
            if p.leader in live
        ]
        return every, led

    async def _collect_offsets(self) -> None:
        """Group offsets first, log offsets second: read in that order a log end is never
        older than a commit (as ConsumerGroupCommand does), so lag races stay rare."""
        await self._first_view.wait()
        self.admin.start()
        started = time.time()
        groups = None
        try:
            groups = frozen_map(await self.admin.groups())
        except PartialAnswer as exc:  # some groups refused: the rest is still news
            groups = frozen_map(exc.value)
            self._record_failure("groups", started, str(exc), exc.reason)
        except SourceError as exc:
            self._record_failure("groups", started, str(exc), exc.reason)
        else:
            self._set_stage("groups", self.health.stages["groups"].succeeded(started, time.time()))
        every, led = self._partitions()
        fresh = await self.admin.log_offsets(led)
        offsets = frozen_map(self._carry_forward(every, fresh))
        now = time.time()
        if groups is not None:
            lag = self.lag.observe(groups, offsets, now)
            self._look_ahead(lag, offsets, now)
            self._update(offsets=Timed(offsets, now), groups=Timed(groups, now))
        else:
            self._update(offsets=Timed(offsets, now))

    def _carry_forward(
        self, every: list[tuple[str, int]], fresh: LogOffsets
    ) -> dict[tuple[str, int], tuple[int | None, int | None]]:
        """A partition without a (live) leader cannot answer ListOffsets: keep its last known
        offsets so that when it comes back (after an unclean election, say) the drop is
        measured against what it last held, not lost in the gap. Partitions of deleted
        topics are not in `every` and go."""
        last = self.view.offsets.value if self.view.offsets is not None else {}
        merged: dict[tuple[str, int], tuple[int | None, int | None]] = {}
        for tp in every:
            start, end = fresh.get(tp, (None, None))
            if end is None and tp in last:
                start, end = (start if start is not None else last[tp][0]), last[tp][1]
            if tp in fresh or end is not None:
                merged[tp] = (start, end)
        return merged

    def _look_ahead(self, lag: Mapping[str, GroupLag], offsets: LogOffsets, now: float) -> None:
        """Lag foresight and the lag history, from the cycle the lag tracker just saw."""
        configs = self.view.configs.value if self.view.configs is not None else frozen_map()
        self._foresight = self.foresight.observe(
            lag, self.lag.samples, offsets, configs, self._sizes, now
        )
        self.lag_history.record(lag, now)

    async def _collect_log_dirs(self) -> None:
        """Each registered broker's log dirs; a broker that no longer is registered keeps
        its last known dirs, unknown since now."""
        await self._first_view.wait()
        snap = self.store.latest
        assert snap is not None
        registered = sorted(snap.brokers)
        partitions = {t.name: [p.partition for p in t.partitions] for t in snap.topics.values()}
        now = time.time()
        answers: dict[int, disks.Answer] = dict(
            await self.logdirs.describe(registered, partitions, now)
        )
        for broker in self.disks.keys() - answers.keys():
            answers[broker] = f"broker {broker} is not registered"
        merged = self._size_history.with_growth(disks.merge(self.disks, answers, now), now)
        events = disks.events(self.name, self.disks, merged, now)
        self.disks = merged
        self._sizes = disks.partition_sizes(merged)
        if events:
            self._record(events)
        self._publish()
        failed = [answers[b] for b in registered if isinstance(answers.get(b), str)]
        if failed:
            raise SourceError(
                f"cluster {self.name!r}: {len(failed)} of {len(registered)} brokers did not "
                f"describe their log dirs: {failed[0]}; their last known dirs are kept"
            )

    async def _collect_configs(self) -> None:
        await self._first_view.wait()
        snap = self.store.latest
        assert snap is not None
        self.admin.start()
        try:
            configs = await self.admin.topic_configs(list(snap.topics))
        except PartialAnswer as exc:  # some topics refused: keep the rest, fail the stage
            self._update(configs=Timed(frozen_map(exc.value), time.time()))
            raise
        self._update(configs=Timed(frozen_map(configs), time.time()))

    async def _check_zookeeper(self) -> None:
        zk = self.zookeeper
        assert zk is not None
        if self.mirror is None:
            self._on_zookeeper_state("CONNECTING")
            await zk.start()  # connects and checks the chroot; raises SourceError
            self.mirror = ZkMirror(zk.client, zk.zk.chroot, self.cluster.topics, self._zk_changed)
            self.mirror.resync()
            # The first full read takes a moment on large clusters: wait instead of warning.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.mirror.synced_event.wait(), self.collection.request_timeout
                )
        state = self.health.zookeeper_state
        if state != "CONNECTED":
            raise SourceError(f"ZooKeeper session {state}: the ZooKeeper view is stale")
        if not self.mirror.synced:
            raise SourceError("ZooKeeper mirror is still reading the cluster")

    def _on_zookeeper_state(self, state: str) -> None:
        previous = self.health.zookeeper_state
        if state == previous:
            return
        level = {"CONNECTED": logging.INFO, "CONNECTING": logging.DEBUG}.get(state, logging.WARNING)
        log.log(level, "ZooKeeper session %s", state, extra={"kafka_cluster": self.name})
        self.health = self.health.with_zookeeper_state(state)
        if self.mirror is None:
            self._publish()
            return
        if state == "CONNECTED":
            # kazoo dropped every watch with the connection: read and watch everything again.
            self.mirror.resync()
            self._publish()
        else:
            self.mirror.invalidate()
            self._rebuild()  # fall back to the Admin API view (and publish)

    def _zk_changed(self) -> None:
        if self._rebuild_handle is None:
            loop = asyncio.get_running_loop()
            self._rebuild_handle = loop.call_later(ZK_DEBOUNCE, self._rebuild)

    # -- snapshot and events --------------------------------------------------------------

    def _update(self, **parts: object) -> None:
        self.view = dataclasses.replace(self.view, **parts)  # type: ignore[arg-type]
        self._rebuild()

    def _zk_view_if_live(self) -> ZkView | None:
        mirror = self.mirror
        if mirror is not None and mirror.synced and self.health.zookeeper_state == "CONNECTED":
            return mirror.view()
        return None

    def _rebuild(self) -> None:
        self._rebuild_handle = None
        snapshot = assemble(self.name, self.view, self._zk_view_if_live(), time.time())
        if snapshot is None:
            self._publish()
            return
        latest = self.store.latest
        if (
            snapshot.controller_id is None
            and latest is not None
            and latest.controller_id is not None
        ):
            # Between a controller's exit and its successor's election /controller is absent
            # (up to a session timeout when the controller dies). Keep the last known one so
            # the change is seen as old -> new, not lost as old -> unknown -> new.
            snapshot = dataclasses.replace(
                snapshot,
                controller_id=latest.controller_id,
                controller_epoch=latest.controller_epoch,
            )
        previous = self.store.put(snapshot)
        self._first_view.set()
        self._assessment = assess(snapshot, self.min_replication_factor)
        known = len(self.known_brokers)
        self.known_brokers.update(snapshot.brokers)
        for topic in snapshot.topics.values():
            for p in topic.partitions:
                self.known_brokers.update(p.replicas)
        if len(self.known_brokers) != known:
            self._published_brokers = frozenset(self.known_brokers)
        events = self._diff(previous, snapshot)
        read = snapshot.sources.get("offsets")
        new_offsets = previous is None or previous.sources.get("offsets") != read
        skipped = records_skipped(previous, snapshot) if new_offsets else {}
        if skipped:
            self.skipped.update(skipped)
            self._published_skipped = frozen_map(self.skipped)
        if events:
            self._record(events)
            if any(e.kind is EventKind.ISR_SHRINK for e in events):
                self._wake_log_dirs.set()
        self._publish()

    def _record(self, events: list[Event]) -> None:
        self.events.extend(events)
        for event in events:
            self.event_counts[(event.kind.value, event.topic or "")] += 1
        gone = {e.topic for e in events if e.kind is EventKind.TOPIC_DELETED}
        if gone:  # a deleted topic's counters go with it, like its other series
            for key in [k for k in self.event_counts if k[1] in gone]:
                del self.event_counts[key]
        self._published_events = tuple(self.events)
        self._published_counts = frozen_map(self.event_counts)
        shown = events if len(events) <= LOG_EVENTS_MAX else events[: LOG_EVENTS_MAX // 2]
        for event in shown:
            log.info(
                event.detail,
                extra={"kafka_cluster": self.name, "event": event.kind.value},
            )
        if len(shown) < len(events):
            kinds = collections.Counter(e.kind.value for e in events)
            log.info(
                "%d more events in this change: %s",
                len(events) - len(shown),
                ", ".join(f"{k} x{n}" for k, n in kinds.most_common()),
                extra={"kafka_cluster": self.name},
            )

    # -- scheduling -----------------------------------------------------------------------

    async def _run_cycle(self, stage: str, step: Callable[[], Awaitable[None]]) -> None:
        started = time.time()
        try:
            await step()
        except SourceError as exc:
            self._record_failure(stage, started, str(exc), exc.reason)
        except Exception as exc:  # a bug must not stop the watch of this cluster
            log.exception("collection failed unexpectedly", extra={"kafka_cluster": self.name})
            self._record_failure(stage, started, f"internal error: {exc!r}")
        else:
            health = self.health.stages[stage]
            if health.consecutive_failures:
                log.info(
                    "%s recovered after %d failed attempts",
                    stage,
                    health.consecutive_failures,
                    extra={"kafka_cluster": self.name},
                )
            self._set_stage(stage, health.succeeded(started, time.time()))

    def _set_stage(self, stage: str, health: SourceHealth) -> None:
        self.health = self.health.with_stage(health)
        self._publish()

    def _record_failure(
        self, stage: str, started: float, error: str, reason: str = "error"
    ) -> None:
        now = time.time()
        # One warning when a stage starts failing, then one every REPEAT_WARNING_AFTER while
        # it stays broken: the wording of the error may change from one attempt to the next
        # (timed out, then transport failure) without anything new to tell.
        health = self.health.stages[stage]
        starts_failing = health.consecutive_failures == 0
        self._set_stage(stage, health.failed(started, now, error, reason))
        last = self._last_warned.get(stage, 0.0)
        if not (starts_failing or now - last >= REPEAT_WARNING_AFTER):
            log.debug("%s (still failing)", error, extra={"kafka_cluster": self.name})
        else:
            self._last_warned[stage] = now
            log.warning(
                "%s (retrying)",
                error,
                extra={"kafka_cluster": self.name, "stage": stage},
            )

    async def _every(
        self,
        interval: float,
        stage: str,
        step: Callable[[], Awaitable[None]],
        wake: asyncio.Event | None = None,
    ) -> None:
        # Fixed-rate schedule: a slow cycle shortens the next sleep instead of drifting.
        next_run = time.monotonic()
        while True:
            began = time.monotonic()
            await self._run_cycle(stage, step)
            next_run += interval
            delay = next_run - time.monotonic()
            if delay < 0:
                next_run = time.monotonic()
                delay = 0
            if wake is None:
                await asyncio.sleep(delay)
                continue
            # Woken early at most once per WAKE_GAP: a flapping ISR must not turn the stage
            # into a busy loop.
            await asyncio.sleep(min(delay, max(0.0, began + WAKE_GAP - time.monotonic())))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), max(0.0, next_run - time.monotonic()))
            if wake.is_set():  # woken early: run now, then on the schedule from here
                wake.clear()
                next_run = time.monotonic()
