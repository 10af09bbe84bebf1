"""A live mirror of a ZooKeeper-mode cluster's metadata, kept by ZooKeeper watches.

Watched: /brokers/ids and each broker, /controller, /controller_epoch, /brokers/topics and
each topic's assignment, every partition's `state` node, /config/topics and each override.
A change reaches the mirror within one ZooKeeper round trip of the write, with the znode's
mtime so that detection delay can be measured.

Threading: kazoo completes requests and fires watches on its own thread. Those callbacks only
hand the result to the event loop (call_soon_threadsafe); every piece of mirror state is read
and written on the loop alone, so no lock is needed.

Robustness, each for a reason:
- Only persistent parents get children watches; per-topic nodes get data watches that re-arm
  through an `exists` watch when the node is gone, so a deleted and recreated topic is seen
  (kazoo's ChildrenWatch recipe stops silently on deleted nodes).
- kazoo drops every watch when the connection drops (it fires them with a NONE event and does
  not re-register). So every reconnect starts a new *generation*: everything is re-read and
  re-watched, answers from older generations are ignored, and the next snapshot's diff shows
  whatever changed while the session was away.
- A znode whose data cannot be parsed is reported (log, counter) and skipped; the rest of
  the mirror carries on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import EventType, WatchedEvent, ZnodeStat

from kafka_watchdog.config.schema import NameFilter
from kafka_watchdog.model.parts import ZkTopic, ZkView
from kafka_watchdog.model.snapshot import Broker, LeaderRecovery, PartitionState, frozen_map

log = logging.getLogger(__name__)

Apply = Callable[[bytes | None, ZnodeStat | None], None]
ChildrenApply = Callable[[list[str] | None], None]


@dataclass(slots=True)
class _Assignment:
    topic_id: str | None
    replicas: dict[int, tuple[int, ...]]
    adding: dict[int, tuple[int, ...]]
    removing: dict[int, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class _PartitionZk:
    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    recovery: LeaderRecovery
    mtime: float


def _json(data: bytes | None) -> Any:
    if data is None:
        return None
    return json.loads(data.decode("utf-8"))


def parse_broker(broker_id: int, data: bytes | None) -> Broker:
    doc = _json(data)
    host, port = doc.get("host"), doc.get("port")
    if not host or port in (None, -1):
        # Brokers with only named listeners register host null; the first endpoint has it.
        endpoint = (doc.get("endpoints") or [""])[0]
        hostport = endpoint.split("://", 1)[-1]
        host, _, port_text = hostport.rpartition(":")
        port = int(port_text) if port_text.isdigit() else -1
    return Broker(broker_id, str(host or ""), int(port), doc.get("rack"))


def parse_state(data: bytes | None, mtime: float) -> _PartitionZk:
    doc = _json(data)
    recovery = (
        LeaderRecovery.RECOVERING
        if int(doc.get("leader_recovery_state", 0)) == 1
        else LeaderRecovery.RECOVERED
    )
    isr = doc["isr"]
    if not isinstance(isr, list):
        raise TypeError("isr is not a list")
    return _PartitionZk(
        int(doc["leader"]), int(doc["leader_epoch"]), tuple(int(r) for r in isr), recovery, mtime
    )


def parse_assignment(data: bytes | None) -> _Assignment:
    doc = _json(data)

    def table(key: str) -> dict[int, tuple[int, ...]]:
        raw = doc.get(key) or {}
        return {int(p): tuple(int(r) for r in replicas) for p, replicas in raw.items()}

    return _Assignment(
        topic_id=doc.get("topic_id"),
        replicas=table("partitions"),
        adding=table("adding_replicas"),
        removing=table("removing_replicas"),
    )


def _epoch(data: bytes | None) -> int | None:
    return None if data is None else int(data.decode("utf-8").strip())


def parse_controller(data: bytes | None) -> int | None:
    doc = _json(data)
    return None if doc is None else int(doc["brokerid"])


class ZkMirror:
    """Mirror of one cluster. `resync()` on every (re)connection; `view()` once synced."""

    def __init__(
        self,
        client: KazooClient,
        chroot: str,
        topics: NameFilter,
        on_change: Callable[[], None],
    ) -> None:
        self._client = client
        self._chroot = chroot
        self._topics_filter = topics
        self._on_change = on_change
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gen = 0
        self._pending = 0
        self._pending_lock = threading.Lock()
        self.synced = False
        self.synced_event = asyncio.Event()
        self.malformed_total = 0
        self._malformed: set[str] = set()
        self._clear()

    def _clear(self) -> None:
        self._cluster_id: str | None = None
        self._broker_ids: set[int] = set()
        self._brokers: dict[int, Broker] = {}
        self._controller: int | None = None
        self._controller_time: float | None = None
        self._next_controller: tuple[int | None, float | None] | None = None
        self._next_epoch: int | None = None
        self._epoch: int | None = None
        self._topic_names: set[str] = set()
        self._assign: dict[str, _Assignment] = {}
        self._states: dict[tuple[str, int], _PartitionZk] = {}
        self._configs: dict[str, dict[str, str]] = {}
        # view() rebuilds only what changed since the last view: whole topics whose
        # assignment or config changed (or that went), single partitions whose state node
        # changed (the common case: a broker failure rewrites thousands of them, spread over
        # every topic, a few per burst). Unchanged topics and partitions keep their objects,
        # which is how everything downstream tells what changed (model/incremental.py).
        self._topic_views: dict[str, ZkTopic] = {}
        self._dirty: set[str] = set()
        self._dirty_partitions: dict[str, set[int]] = {}

    # -- lifecycle ------------------------------------------------------------------------

    def resync(self) -> None:
        """Forget everything and re-read it all under a new generation. Loop thread only."""
        self._loop = asyncio.get_running_loop()
        self._gen += 1
        with self._pending_lock:
            self._pending = 0
        self.synced = False
        self.synced_event.clear()
        self._clear()
        self._read_data("/cluster/id", self._apply_cluster_id, watch=False)
        self._read_children("/brokers/ids", self._apply_broker_ids)
        self._read_data("/controller", self._apply_controller)
        self._read_data("/controller_epoch", self._apply_epoch)
        self._read_children("/brokers/topics", self._apply_topic_names)
        self._read_children("/config/topics", self._apply_config_names)

    def invalidate(self) -> None:
        """The session is gone: answers still in flight belong to the old generation."""
        self._gen += 1
        self.synced = False
        self.synced_event.clear()

    # -- reading with watches -------------------------------------------------------------

    def _path(self, relative: str) -> str:
        return self._chroot + relative

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    def _watcher(self, gen: int, rearm: Callable[[], None]) -> Callable[[WatchedEvent], None]:
        def fire(event: WatchedEvent) -> None:  # kazoo thread
            # Re-read (and re-watch) from kazoo's thread at once: going through the event
            # loop first would queue the read behind whatever the loop is doing (rebuilding
            # a 5,000-partition snapshot, say) and add that to the detection delay.
            # NONE: a connection change; resync handles it.
            if event.type != EventType.NONE and gen == self._gen:
                rearm()

        return fire

    def _count(self, delta: int) -> int:
        with self._pending_lock:  # reads start on the loop and on kazoo's thread
            self._pending += delta
            return self._pending

    def _read_data(self, relative: str, apply: Apply, watch: bool = True) -> None:
        gen, path = self._gen, self._path(relative)
        self._count(+1)
        watcher = self._watcher(gen, lambda: self._read_data(relative, apply)) if watch else None

        def done(result: Any) -> None:  # kazoo thread
            try:
                data, stat = result.get_nowait()
                outcome: tuple[Any, Any, BaseException | None] = (data, stat, None)
            except NoNodeError:
                outcome = (None, None, None)
                if watcher is not None:
                    # getData sets no watch on a missing node; exists does (fires on create).
                    self._client.exists_async(path, watch=watcher)
            except Exception as exc:  # connection loss: the next resync re-reads it
                outcome = (None, None, exc)
            self._post(self._completed, gen, path, apply, outcome)

        self._client.get_async(path, watch=watcher).rawlink(done)

    def _read_children(self, relative: str, apply: ChildrenApply) -> None:
        gen, path = self._gen, self._path(relative)
        self._count(+1)
        watcher = self._watcher(gen, lambda: self._read_children(relative, apply))

        def done(result: Any) -> None:  # kazoo thread
            try:
                outcome: tuple[Any, Any, BaseException | None] = (result.get_nowait(), None, None)
            except NoNodeError:
                outcome = (None, None, None)
                self._client.exists_async(path, watch=watcher)
            except Exception as exc:
                outcome = (None, None, exc)
            self._post(self._completed_children, gen, path, apply, outcome)

        self._client.get_children_async(path, watch=watcher).rawlink(done)

    def _completed(self, gen: int, path: str, apply: Apply, outcome: tuple[Any, Any, Any]) -> None:
        if gen != self._gen:
            return
        data, stat, error = outcome
        if error is None:
            try:
                apply(data, stat)
                self._malformed.discard(path)
            except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
                self._report_malformed(path, data, exc)
        self._finish()

    def _completed_children(
        self, gen: int, path: str, apply: ChildrenApply, outcome: tuple[Any, Any, Any]
    ) -> None:
        if gen != self._gen:
            return
        children, _, error = outcome
        if error is None:
            apply(children)
        self._finish()

    def _report_malformed(self, path: str, data: bytes | None, exc: BaseException) -> None:
        self.malformed_total += 1
        if path not in self._malformed:
            self._malformed.add(path)
            preview = (data or b"")[:120].decode("utf-8", "replace")
            log.warning(
                "skipping malformed znode %s: %s (data: %r)",
                path,
                exc,
                preview,
            )

    def _finish(self) -> None:
        if self._count(-1) == 0 and not self.synced:
            self.synced = True
            self.synced_event.set()
        if self.synced:
            self._on_change()

    # -- applying what was read (loop thread) ---------------------------------------------

    def _apply_cluster_id(self, data: bytes | None, stat: ZnodeStat | None) -> None:
        doc = _json(data)
        self._cluster_id = None if doc is None else str(doc["id"])

    def _apply_broker_ids(self, children: list[str] | None) -> None:
        ids = {int(c) for c in children or [] if c.isdigit()}
        for gone in self._broker_ids - ids:
            self._brokers.pop(gone, None)
        for new in sorted(ids - self._broker_ids):
            self._read_data(f"/brokers/ids/{new}", self._broker_applier(new))
        self._broker_ids = ids

    def _broker_applier(self, broker_id: int) -> Apply:
        def apply(data: bytes | None, stat: ZnodeStat | None) -> None:
            if broker_id not in self._broker_ids:
                return
            if data is None:
                self._brokers.pop(broker_id, None)
            else:
                self._brokers[broker_id] = parse_broker(broker_id, data)

        return apply

    # A new controller writes /controller and bumps /controller_epoch in one ZooKeeper
    # transaction, but the two watches are answered apart. Whichever fires, the other node
    # is read after it (ZooKeeper orders a session's reads), and the pair is shown together:
    # a change is never seen as new controller with old epoch, or the reverse.

    def _apply_controller(self, data: bytes | None, stat: ZnodeStat | None) -> None:
        controller = parse_controller(data)
        mtime = stat.mtime / 1000 if stat is not None else None
        if not self.synced:
            self._controller, self._controller_time = controller, mtime
            return
        self._next_controller = (controller, mtime)
        self._read_data("/controller_epoch", self._apply_epoch_of_pair, watch=False)

    def _apply_epoch(self, data: bytes | None, stat: ZnodeStat | None) -> None:
        epoch = _epoch(data)
        if not self.synced:
            self._epoch = epoch
            return
        self._next_epoch = epoch
        self._read_data("/controller", self._apply_controller_of_pair, watch=False)

    def _apply_epoch_of_pair(self, data: bytes | None, stat: ZnodeStat | None) -> None:
        if self._next_controller is not None:
            self._epoch = _epoch(data)
            (self._controller, self._controller_time), self._next_controller = (
                self._next_controller,
                None,
            )

    def _apply_controller_of_pair(self, data: bytes | None, stat: ZnodeStat | None) -> None:
        if self._next_epoch is not None:
            self._controller = parse_controller(data)
            self._controller_time = stat.mtime / 1000 if stat is not None else None
            self._epoch, self._next_epoch = self._next_epoch, None

    def _apply_topic_names(self, children: list[str] | None) -> None:
        names = {c for c in children or [] if self._topics_filter.allows(c)}
        for gone in self._topic_names - names:
            self._drop_topic(gone)
        for new in sorted(names - self._topic_names):
            self._read_data(f"/brokers/topics/{new}", self._assignment_applier(new))
        self._topic_names = names

    def _drop_topic(self, topic: str) -> None:
        self._dirty.add(topic)
        self._assign.pop(topic, None)
        for key in [k for k in self._states if k[0] == topic]:
            del self._states[key]

    def _assignment_applier(self, topic: str) -> Apply:
        def apply(data: bytes | None, stat: ZnodeStat | None) -> None:
            if topic not in self._topic_names:
                return
            if data is None:
                self._drop_topic(topic)
                return
            assignment = parse_assignment(data)
            old = self._assign.get(topic)
            if old is not None and old.topic_id != assignment.topic_id:
                self._drop_topic(topic)  # recreated: the old partition states are void
                old = None
            known = set(old.replicas) if old is not None else set()
            self._assign[topic] = assignment
            self._dirty.add(topic)
            for partition in sorted(set(assignment.replicas) - known):
                self._read_data(
                    f"/brokers/topics/{topic}/partitions/{partition}/state",
                    self._state_applier(topic, partition, assignment.topic_id),
                )

        return apply

    def _state_applier(self, topic: str, partition: int, topic_id: str | None) -> Apply:
        def apply(data: bytes | None, stat: ZnodeStat | None) -> None:
            current = self._assign.get(topic)
            if current is None or current.topic_id != topic_id:
                return  # the topic went away (or was recreated) meanwhile
            self._dirty_partitions.setdefault(topic, set()).add(partition)
            if data is None or stat is None:
                self._states.pop((topic, partition), None)
            else:
                self._states[(topic, partition)] = parse_state(data, stat.mtime / 1000)

        return apply

    def _apply_config_names(self, children: list[str] | None) -> None:
        names = {c for c in children or [] if self._topics_filter.allows(c)}
        for gone in set(self._configs) - names:
            self._configs.pop(gone, None)
        for new in sorted(names - set(self._configs)):
            self._configs[new] = {}
            self._read_data(f"/config/topics/{new}", self._config_applier(new))

    def _config_applier(self, topic: str) -> Apply:
        def apply(data: bytes | None, stat: ZnodeStat | None) -> None:
            if topic not in self._configs:
                return
            doc = _json(data)
            config = (doc or {}).get("config") or {}
            self._configs[topic] = {str(k): str(v) for k, v in config.items()}
            self._dirty.add(topic)

        return apply

    # -- the view -------------------------------------------------------------------------

    def view(self) -> ZkView:
        for name in self._dirty:
            topic = self._topic_view(name)
            if topic is None:
                self._topic_views.pop(name, None)
            else:
                self._topic_views[name] = topic
        for name, partitions in self._dirty_partitions.items():
            if name in self._dirty:
                continue  # rebuilt whole above
            old = self._topic_views.get(name)
            topic = self._patched(old, partitions) if old is not None else None
            if topic is None:
                topic = self._topic_view(name)
            if topic is None:
                self._topic_views.pop(name, None)
            else:
                self._topic_views[name] = topic
        self._dirty.clear()
        self._dirty_partitions.clear()
        return ZkView(
            taken_at=time.time(),
            cluster_id=self._cluster_id,
            brokers=frozen_map(self._brokers),
            controller_id=self._controller,
            controller_epoch=self._epoch,
            controller_time=self._controller_time,
            topics=frozen_map(self._topic_views),
        )

    def _partition_view(
        self, name: str, partition: int, assignment: _Assignment
    ) -> PartitionState | None:
        state = self._states.get((name, partition))
        if state is None:
            return None  # not read yet (topic being created): no guess
        return PartitionState(
            topic=name,
            partition=partition,
            leader=state.leader,
            replicas=assignment.replicas[partition],
            isr=state.isr,
            leader_epoch=state.leader_epoch,
            adding_replicas=assignment.adding.get(partition, ()),
            removing_replicas=assignment.removing.get(partition, ()),
            leader_recovery=state.recovery,
            source_time=state.mtime,
        )

    def _patched(self, old: ZkTopic, changed: set[int]) -> ZkTopic | None:
        """`old` with the partitions in `changed` read again, the others kept as they are;
        None when the set of partitions shown changes (a state node appeared or went):
        then the whole topic is rebuilt."""
        assignment = self._assign.get(old.name)
        if assignment is None:
            return None
        partitions = list(old.partitions)
        where = {p.partition: i for i, p in enumerate(partitions)}
        for partition in changed:
            i = where.get(partition)
            fresh = (
                self._partition_view(old.name, partition, assignment)
                if partition in assignment.replicas
                else None
            )
            if i is None or fresh is None:
                return None
            partitions[i] = fresh
        return replace(old, partitions=tuple(partitions))

    def _topic_view(self, name: str) -> ZkTopic | None:
        assignment = self._assign.get(name)
        if assignment is None:
            return None
        partitions = []
        for partition in sorted(assignment.replicas):
            view = self._partition_view(name, partition, assignment)
            if view is not None:
                partitions.append(view)
        return ZkTopic(
            name,
            assignment.topic_id,
            tuple(partitions),
            frozen_map(self._configs.get(name, {})),
        )
