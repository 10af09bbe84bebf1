"""Broker log directories: merge each DescribeLogDirs round into what is known, and the
events of a dir going offline or coming back. Pure functions plus a small size history for
growth; time passed in.

A dir that goes offline (KAFKA_STORAGE_ERROR) is listed by its broker without replicas, and
a dir the broker stops listing says nothing at all: both keep the replicas they had when
last seen online, which are the partitions that lost a copy. A broker that does not answer
keeps its last known dirs, marked unknown since the first failed round; it says nothing
about its disks either way (broker_gone and cluster_unseen say the rest).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import replace

from kafka_watchdog.model.disks import MISSING, BrokerDisks, LogDir
from kafka_watchdog.model.events import Event, EventKind, LogDirChange
from kafka_watchdog.model.snapshot import frozen_map

GROWTH_WINDOW = 3600.0
# A broker's answer or why it gave none.
Answer = BrokerDisks | str
Disks = Mapping[int, BrokerDisks]


def merge(known: Disks, answers: Mapping[int, Answer], at: float) -> Disks:
    """The new view: each broker's answer over what was known of it."""
    out = dict(known)
    for broker, answer in answers.items():
        before = known.get(broker)
        if isinstance(answer, str):
            if before is None:
                out[broker] = BrokerDisks(broker, error=answer, unknown_since=at)
            else:
                since = before.unknown_since if before.error is not None else at
                out[broker] = replace(before, error=answer, unknown_since=since)
            continue
        dirs = {}
        for path, new in answer.dirs.items():
            old = before.dirs.get(path) if before is not None else None
            if new.error is not None and old is not None:
                # Offline: listed without replicas; keep the ones it had (they lost a copy).
                kept = old.replicas if old.replicas else new.replicas
                since = old.since if old.error is not None and old.since else at
                new = replace(new, replicas=kept, since=since)
            else:
                since = old.since if old is not None and old.online else at
                new = replace(new, since=since)
            dirs[path] = new
        if before is not None:
            for path, old in before.dirs.items():
                if path not in dirs:
                    since = old.since if old.error is not None and old.since else at
                    dirs[path] = replace(old, error=MISSING, since=since, usable_bytes=None)
        out[broker] = BrokerDisks(broker, frozen_map(dirs), at)
    return frozen_map(out)


def events(cluster: str, before: Disks, after: Disks, at: float) -> list[Event]:
    """log_dir_offline / log_dir_online for every dir whose state changed between two views.
    A dir first seen offline is an event too (the watchdog started after the failure)."""
    out = []
    for broker, disks in sorted(after.items()):
        old_disks = before.get(broker)
        for path, new in sorted(disks.dirs.items()):
            old = old_disks.dirs.get(path) if old_disks is not None else None
            old_error = old.error if old is not None else None
            if (old_error is None) == (new.error is None):
                continue  # still online, or still offline (the broker's wording may change)
            partitions = tuple(sorted(new.replicas))
            shown = ", ".join(f"{t}-{p}" for t, p in partitions[:10])
            more = f" and {len(partitions) - 10} more" if len(partitions) > 10 else ""
            if new.error is not None:
                what = (
                    "is no longer listed by the broker"
                    if new.error == MISSING
                    else f"went offline ({new.error})"
                )
                lost = (
                    f": {len(partitions)} replicas lost a copy ({shown}{more})"
                    if partitions
                    else ""
                )
                kind, detail = EventKind.LOG_DIR_OFFLINE, f"broker {broker} log dir {path} {what}"
                detail += lost
            else:
                if old is None:
                    continue  # a new dir, online: nothing happened to anyone
                kind = EventKind.LOG_DIR_ONLINE
                detail = (
                    f"broker {broker} log dir {path} is online again ({len(partitions)} replicas)"
                )
            out.append(
                Event(
                    kind=kind,
                    cluster=cluster,
                    subject=f"broker {broker} {path}",
                    change=LogDirChange(old_error, new.error, path, partitions),
                    observed_at=at,
                    broker=broker,
                    detail=detail,
                )
            )
    return out


class SizeHistory:
    """(time, bytes) of each (broker, dir), at most one point a minute for an hour: growth
    in bytes per second over the last hour (over what was seen, if less)."""

    def __init__(self, window: float = GROWTH_WINDOW, every: float = 60.0) -> None:
        self.window = window
        self.every = every
        self._points: dict[tuple[int, str], deque[tuple[float, int]]] = {}

    def with_growth(self, disks: Disks, at: float) -> Disks:
        """Record the online dirs' sizes and return the view with each dir's growth."""
        seen = set()
        out = {}
        for broker, b in disks.items():
            dirs = {}
            for path, d in b.dirs.items():
                key = (broker, path)
                seen.add(key)
                points = self._points.setdefault(
                    key, deque(maxlen=int(self.window / self.every) + 2)
                )
                if (
                    d.online
                    and b.error is None
                    and (not points or at - points[-1][0] >= self.every)
                ):
                    points.append((at, d.size_bytes))
                while len(points) > 2 and at - points[1][0] >= self.window:
                    points.popleft()
                dirs[path] = replace(d, growth_bytes_per_second=growth(points, at, d))
            out[broker] = replace(b, dirs=frozen_map(dirs))
        for key in self._points.keys() - seen:
            del self._points[key]
        return frozen_map(out)


def growth(points: deque[tuple[float, int]], at: float, d: LogDir) -> float | None:
    if not d.online or not points:
        return None
    first_at, first_size = points[0]
    span = at - first_at
    if span <= 0:
        return None
    return (d.size_bytes - first_size) / span


def partition_sizes(disks: Disks) -> dict[tuple[str, int], int]:
    """Each partition's largest replica on an online dir: its size for retention.bytes."""
    out: dict[tuple[str, int], int] = {}
    for b in disks.values():
        for d in b.dirs.values():
            if d.online:
                for tp, size in d.replicas.items():
                    if size > out.get(tp, -1):
                        out[tp] = size
    return out
