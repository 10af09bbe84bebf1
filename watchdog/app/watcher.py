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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

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
from kafka_watchdog.model.incremental import TopicMemo, changed_topics, same_content
from kafka_watchdog.model.lag import GroupLag
from kafka_watchdog.model.lag_history import LagSeries
from kafka_watchdog.model.parts import AdminView, LogOffsets, Timed, ZkView
from kafka_watchdog.model.snapshot import Broker, GroupState, TopicState, frozen_map
from kafka_watchdog.model.state import ClusterBoard, ClusterState
from kafka_watchdog.model.store import SnapshotStore
from kafka_watchdog.model.unknown import Blind, Unknowns, carry, unknown_since
from kafka_watchdog.sources import kafka_errors
from kafka_watchdog.sources.errors import PartialAnswer, SourceError
from kafka_watchdog.sources.isolated import IsolatedAdminSource
from kafka_watchdog.sources.logdirs import LogDirsSource
from kafka_watchdog.sources.quorum import QuorumSource
from kafka_watchdog.sources.zkmirror import ZkMirror
from kafka_watchdog.sources.zookeeper import ZooKeeperSource

log = logging.getLogger(__name__)


class Evaluated(NamedTuple):
    """One offsets cycle's lag, lag races, foresight and lag history."""

    lag: Mapping[str, GroupLag]
    races: Mapping[str, int]
    foresight: Mapping[str, GroupForesight]
    history: Mapping[str, LagSeries]


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
        # What the trackers above last evaluated, as published: set together, on the loop,
        # when an offsets cycle's evaluation (in a thread of its own) is done.
        self._lag: Mapping[str, GroupLag] = frozen_map()
        self._lag_races: Mapping[str, int] = frozen_map()
        self._foresight: Mapping[str, GroupForesight] = frozen_map()
        self._lag_history: Mapping[str, LagSeries] = frozen_map()
        # One thread: evaluations never overlap, even past a cancelled cycle.
        self._evaluator: ThreadPoolExecutor | None = None
        # Records deleted before a group read them, (group, topic) -> records.
        self.skipped: collections.Counter[tuple[str, str]] = collections.Counter()
        self._published_skipped: Mapping[tuple[str, str], int] = frozen_map()
        self.disks: disks.Disks = frozen_map()
        self._sizes: dict[tuple[str, int], int] = {}
        self._size_history = disks.SizeHistory()
        # Set by an ISR shrink: a failed disk shows there first; read the log dirs at once.
        self._wake_log_dirs = asyncio.Event()
        self.known_brokers: set[int] = set()
        # The latest snapshot and the one before (for the diff); nothing reads further back.
        self.store = SnapshotStore(history=2)
        # What assembly built per topic, so that a change rebuilds only what it touched.
        self._memo = TopicMemo()
        # _partitions' answer and the topics and brokers it was computed from.
        self._partition_lists: (
            tuple[
                Mapping[str, TopicState],
                Mapping[int, Broker],
                list[tuple[str, int]],
                list[tuple[str, int]],
            ]
            | None
        ) = None
        self.health = ClusterHealth(cluster.name, zookeeper_configured=bool(cluster.zookeeper))
        # The published version and what it was computed from (_version).
        self._published_version = 0
        self._version_inputs: tuple[tuple[object, ...], tuple[object, ...]] | None = None
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
        self._last_told: dict[str, tuple[object, ...]] = {}  # a partial answer, as last logged
        # Parts no stage could answer for, each with the time it became unknown.
        self._unknown_groups: Mapping[str, float] = frozen_map()
        self._unknown_partitions: Mapping[tuple[str, int], float] = frozen_map()
        self._unknown_configs: Mapping[str, float] = frozen_map()
        # Since when the group listing is incomplete (ListGroups missed a broker): from the
        # start until the first complete answer, since no group is known before it.
        self._listing_incomplete: float | None = time.time()
        self._controller_unknown: float | None = None  # since when no controller is known
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
        # The groups open alerts name (set by the daemon when alerting runs).
        self.alerted_groups: Callable[[], Iterable[str]] = tuple
        # Events are remembered from here on: an event alert that fired before (a restart)
        # cannot be re-derived, and is held rather than resolved (rules/holding.py).
        self._started_at = time.time()
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

    def _version(self) -> int:
        """The published version, by which the metrics exposition is cached: it moves with
        a snapshot that brought news, and with anything else the cached part reads that
        changed without one (log dirs come from their own loop; a controller may become
        unknown in a snapshot that keeps the last known one; lag, foresight, records
        skipped)."""
        by_identity = (
            self.disks,
            self._lag,
            self._lag_races,
            self._foresight,
            self._published_skipped,
            self._published_brokers,
            self._published_counts,
        )
        by_value = (self.store.version, self._controller_unknown is None)
        last = self._version_inputs
        if (
            last is None
            or last[1] != by_value
            or any(a is not b for a, b in zip(by_identity, last[0], strict=True))
        ):
            self._published_version += 1
            self._version_inputs = (by_identity, by_value)
        return self._published_version

    def _publish(self) -> None:
        self.board.publish(
            ClusterState(
                name=self.name,
                health=self.health,
                stale_after=self.collection.effective_stale_after,
                snapshot=self.store.latest,
                assessment=self._assessment,
                version=self._version(),
                events=self._published_events,
                event_counts=self._published_counts,
                lag=self._lag,
                lag_races=self._lag_races,
                known_brokers=self._published_brokers,
                zookeeper_malformed=self.mirror.malformed_total if self.mirror else 0,
                unknown=self._unknowns(),
                events_since=self._started_at,
                admin_worker_restarts=frozen_map(self.admin.deaths),
                foresight=self._foresight,
                lag_history=self._lag_history,
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
        if self._evaluator is not None:
            # An evaluation under way ends by itself (CPU only, under a second); the
            # interpreter joins its thread at exit.
            self._evaluator.shutdown(wait=False, cancel_futures=True)
            self._evaluator = None
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
        cached = self._partition_lists
        if (
            cached is not None
            and cached[1] == snap.brokers
            and not changed_topics(cached[0], snap.topics)
            and cached[0].keys() == snap.topics.keys()
        ):
            return cached[2], cached[3]  # no topic changed since (model/incremental.py)
        live = set(snap.brokers)
        every = [(p.topic, p.partition) for t in snap.topics.values() for p in t.partitions]
        led = [
            (p.topic, p.partition)
            for t in snap.topics.values()
            for p in t.partitions
            if p.leader in live
        ]
        self._partition_lists = (snap.topics, snap.brokers, every, led)
        return every, led

    async def _collect_offsets(self) -> None:
        """Group offsets first, log offsets second: read in that order a log end is never
        older than a commit (as ConsumerGroupCommand does), so lag races stay rare.

        Whatever could not be answered keeps its last known state, marked unknown since the
        first cycle that lacked it (model/unknown.py): a group whose coordinator did not
        answer, every group when the stage failed, a partition whose log offsets could not
        be read. Only an answer changes a group or a partition."""
        await self._first_view.wait()
        self.admin.start()
        started = time.time()
        last = self.view.groups.value if self.view.groups is not None else frozen_map()
        answered: Mapping[str, GroupState] = frozen_map()
        unknown: Mapping[str, str] = {}
        incomplete = False
        # The groups known so far, and those open alerts name (known to the previous run,
        # not yet to this one), are asked for by name when the listing misses them.
        known = sorted(set(last) | set(self.alerted_groups()))
        try:
            answered = await self.admin.groups(known=known)
        except PartialAnswer as exc:  # some groups unanswered: the rest is still news
            answered, unknown, incomplete = exc.value, exc.unknown, exc.incomplete
            # How many are unknown, from the answer itself: the published unknowns are
            # updated later, with the groups they describe.
            self._record_failure(
                "groups", started, str(exc), exc.reason, partial=True, parts=len(exc.unknown)
            )
        except SourceError as exc:
            unknown, incomplete = dict.fromkeys(last, exc.reason), True
            self._record_failure("groups", started, str(exc), exc.reason)
        else:
            self._succeeded("groups", started)
        groups = carry(last, answered, unknown)
        # Unknown even when nothing is known to carry (a group an alert names, after a
        # restart): its alerts hold. Published together with the groups below, not before:
        # another stage publishing while ListOffsets runs must not show the listing complete
        # beside groups not yet updated (a restart resolved every group alert that way).
        unknown_groups = unknown_since(self._unknown_groups, unknown, started)
        listing_incomplete = None if not incomplete else self._listing_incomplete or started

        every, led = self._partitions()
        failure: SourceError | None = None
        try:
            fresh = await self.admin.log_offsets(led)
        except SourceError as exc:
            fresh, failure = {}, exc
        offsets = frozen_map(self._carry_forward(every, fresh))
        asked = set(led)
        missing = [tp for tp in every if fresh.get(tp, (None, None))[1] is None]
        self._unknown_partitions = unknown_since(self._unknown_partitions, missing, started)
        now = time.time()
        self._unknown_groups, self._listing_incomplete = unknown_groups, listing_incomplete
        # Lag, foresight and history of every group-partition: about a second of CPU at
        # 50,000 of them, in a thread so that the loop meanwhile serves scrapes and the
        # other stages. Published below, with the groups and offsets they were made from.
        if self._evaluator is None:
            self._evaluator = ThreadPoolExecutor(1, thread_name_prefix=f"lag-{self.name}")
        evaluated = await asyncio.get_running_loop().run_in_executor(
            self._evaluator,
            self.evaluate_lag,
            groups,
            offsets,
            now,
            self._unknown_groups,
            self._unknown_partitions,
        )
        self.adopt(evaluated)
        # The offsets are stamped with the time the read began: a cycle that began before a
        # leader change may have read the old leader, and must not pass for a read after it.
        self._update(offsets=Timed(offsets, started), groups=Timed(groups, now))
        if failure is not None:
            raise failure
        unanswered = [tp for tp in missing if tp in asked]
        if unanswered:
            raise PartialAnswer(
                f"cluster {self.name!r}: ListOffsets answered for {len(asked) - len(unanswered)} "
                f"of {len(asked)} partitions (no answer: "
                f"{', '.join(f'{t}-{p}' for t, p in unanswered[:5])}"
                f"{' ...' if len(unanswered) > 5 else ''}): their last known log offsets are "
                "kept, marked unknown",
                None,
                kafka_errors.ERROR,
            )

    def _carry_forward(
        self, every: list[tuple[str, int]], fresh: LogOffsets
    ) -> dict[tuple[str, int], tuple[int | None, int | None]]:
        """A partition whose offsets could not be read (no live leader to ask, or ListOffsets
        failed) keeps its last known offsets, so that when it comes back (after an unclean
        election, say) the drop is measured against what it last held, not lost in the gap;
        one never read is (None, None). Log start and log end are two ListOffsets requests:
        either may go unanswered alone, and each keeps its own last known value. Partitions
        of deleted topics are not in `every` and go."""
        last = self.view.offsets.value if self.view.offsets is not None else {}
        merged: dict[tuple[str, int], tuple[int | None, int | None]] = {}
        for tp in every:
            start, end = fresh.get(tp, (None, None))
            if (start is None or end is None) and tp in last:
                known_start, known_end = last[tp]
                start = known_start if start is None else start
                end = known_end if end is None else end
            merged[tp] = (start, end)
        return merged

    def evaluate_lag(
        self,
        groups: Mapping[str, GroupState],
        offsets: LogOffsets,
        now: float,
        unknown_groups: Mapping[str, float],
        unknown_partitions: Mapping[tuple[str, int], float],
    ) -> Evaluated:
        """One offsets cycle through the lag tracker, the foresight and the lag history.
        Runs in the evaluator thread: it touches the trackers, which nothing else uses, and
        reads only references the loop replaces whole (configs, partition sizes); what it
        makes is published by `adopt`, on the loop."""
        lag = self.lag.observe(groups, offsets, now, unknown_groups, unknown_partitions)
        configs = self.view.configs.value if self.view.configs is not None else frozen_map()
        foresight = self.foresight.observe(
            lag, self.lag.samples, offsets, configs, self._sizes, now
        )
        return Evaluated(lag, self.lag.races, foresight, self.lag_history.record(lag, now))

    def adopt(self, evaluated: Evaluated) -> None:
        self._lag, self._lag_races, self._foresight, self._lag_history = evaluated

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
        started = time.time()
        last = self.view.configs.value if self.view.configs is not None else frozen_map()
        try:
            configs = await self.admin.topic_configs(list(snap.topics))
        except PartialAnswer as exc:  # some topics unanswered: keep the rest, fail the stage
            unknown = [t for t in exc.unknown if t in snap.topics]
            self._unknown_configs = unknown_since(self._unknown_configs, unknown, started)
            self._update(configs=Timed(carry(last, exc.value, unknown), time.time()))
            raise
        except SourceError:  # no answer: every topic's configs are the last known ones
            self._unknown_configs = unknown_since(self._unknown_configs, snap.topics, started)
            raise
        self._unknown_configs = frozen_map()
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
        snapshot = assemble(self.name, self.view, self._zk_view_if_live(), time.time(), self._memo)
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
            # the change is seen as old -> new, not lost as old -> unknown -> new; the state
            # says no controller is known since then (controller_missing, the metrics).
            snapshot = dataclasses.replace(
                snapshot,
                controller_id=latest.controller_id,
                controller_epoch=latest.controller_epoch,
            )
            if self._controller_unknown is None:
                self._controller_unknown = snapshot.taken_at
        else:
            self._controller_unknown = None
        # A cycle that found nothing new (most metadata and configs cycles) keeps the
        # version, so the metrics built for it stay valid, and skips the assessment.
        news = latest is None or self._assessment is None or not same_content(latest, snapshot)
        previous = self.store.put(snapshot, news)
        self._first_view.set()
        if not news:
            self._publish()
            return
        last = (previous, self._assessment) if previous and self._assessment else None
        self._assessment = assess(snapshot, self.min_replication_factor, last)
        known = len(self.known_brokers)
        self.known_brokers.update(snapshot.brokers)
        # Replicas can only be new in topics that changed (the others are the previous
        # snapshot's very objects, model/incremental.py).
        for topic in changed_topics(previous.topics if previous else {}, snapshot.topics):
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
        except PartialAnswer as exc:
            self._record_failure(stage, started, str(exc), exc.reason, partial=True)
        except SourceError as exc:
            self._record_failure(stage, started, str(exc), exc.reason)
        except Exception as exc:  # a bug must not stop the watch of this cluster
            log.exception("collection failed unexpectedly", extra={"kafka_cluster": self.name})
            self._record_failure(stage, started, f"internal error: {exc!r}")
        else:
            self._succeeded(stage, started)

    def _succeeded(self, stage: str, started: float) -> None:
        health = self.health.stages[stage]
        if health.consecutive_failures:
            log.info(
                "%s recovered after %d failed attempts%s",
                stage,
                health.consecutive_failures,
                f" ({health.partial_total} answered in part so far)" if health.partial else "",
                extra={"kafka_cluster": self.name, "stage": stage},
            )
        self._last_told.pop(stage, None)
        self._set_stage(stage, health.succeeded(started, time.time()))

    def _unknown_count(self, stage: str) -> int:
        return {
            "groups": len(self._unknown_groups),
            "offsets": len(self._unknown_partitions),
            "configs": len(self._unknown_configs),
        }.get(stage, 0)

    def _unknowns(self) -> Unknowns:
        """What the published state says the watchdog could not see, and since when."""
        stages = {
            h.stage: Blind(
                stage=h.stage,
                since=h.failing_since if h.failing_since is not None else h.last_attempt or 0.0,
                reason=h.last_reason or "error",
                detail=h.last_error or "",
                parts=self._unknown_count(h.stage) if h.partial else None,
                partial=h.partial,
            )
            for h in self.health.sources()
            if h.consecutive_failures
        }
        configs = self._unknown_configs
        if self.view.configs is None and self.store.latest is not None:
            # Not asked yet (just started): every topic's configs are unknown.
            configs = frozen_map(dict.fromkeys(self.store.latest.topics, self._started_at))
        return Unknowns(
            groups=self._unknown_groups,
            partitions=self._unknown_partitions,
            configs=configs,
            group_listing=self._listing_incomplete,
            stages=frozen_map(stages),
            controller=self._controller_unknown,
        )

    def _set_stage(self, stage: str, health: SourceHealth) -> None:
        self.health = self.health.with_stage(health)
        self._publish()

    def _record_failure(
        self,
        stage: str,
        started: float,
        error: str,
        reason: str = "error",
        *,
        partial: bool = False,
        parts: int | None = None,
    ) -> None:
        now = time.time()
        # One warning when a stage starts failing, then one every REPEAT_WARNING_AFTER while
        # it stays broken: the wording of the error may change from one attempt to the next
        # (timed out, then transport failure) without anything new to tell. A partial
        # answer is told again when what it lacks changes (how many parts, or why).
        health = self.health.stages[stage]
        starts_failing = health.consecutive_failures == 0
        self._set_stage(stage, health.failed(started, now, error, reason, partial=partial))
        told = (partial, reason, self._unknown_count(stage) if parts is None else parts)
        changed = partial and self._last_told.get(stage) != told
        self._last_told[stage] = told
        last = self._last_warned.get(stage, 0.0)
        if not (starts_failing or changed or now - last >= REPEAT_WARNING_AFTER):
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
