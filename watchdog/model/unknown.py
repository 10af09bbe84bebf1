"""What the watchdog could not see, and since when.

A stage that could not answer for part of a cluster (a group whose coordinator is gone or
whose listing failed, a topic whose configs failed, a partition whose log offsets could not
be read) does not make that part vanish, reset or resolve: the part keeps its last known
state and is marked *unknown since* the first answer that lacked it. Only a real answer
changes state. These are the values that say so in the published ClusterState (metrics,
/api/clusters and the rules read them); `unknown_since` is the one rule for the times.
Pure values and functions, time passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kafka_watchdog.model.snapshot import frozen_map

K = TypeVar("K")
V = TypeVar("V")

# Why a partition's log offsets are unknown when it was not even asked: it has no leader
# (the sources' reasons cover the rest: timeout, unreachable, coordinator, worker, ...).
NO_LEADER = "no_leader"

# The stages whose parts can be unknown one by one, and what their parts are.
PART_STAGES = {"groups": "groups", "offsets": "partitions", "configs": "topics"}


def unknown_since(
    previous: Mapping[K, float], unknown: Iterable[K], now: float
) -> Mapping[K, float]:
    """Each part unknown now, with the time it became unknown: a part that stays unknown
    keeps its first time, a part answered again drops out, a newly unknown one gets `now`."""
    out = {part: previous.get(part, now) for part in unknown}
    return frozen_map(out)


def carry(last: Mapping[K, V], answered: Mapping[K, V], unknown: Iterable[K]) -> Mapping[K, V]:
    """The answer plus, for each unknown part it lacks, the part's last known state (a part
    never seen before stays out: nothing is known to carry)."""
    out = dict(answered)
    for part in unknown:
        if part not in out and part in last:
            out[part] = last[part]
    return frozen_map(out)


@dataclass(frozen=True, slots=True)
class Blind:
    """A stage whose latest attempt answered in part or not at all."""

    stage: str
    since: float  # the first attempt of this spell that did not answer in full
    reason: str  # one word: authorization, timeout, unreachable, coordinator, worker, ...
    detail: str  # what it could not see and what to check, for people
    parts: int | None  # parts it could not answer for; None: the whole stage failed
    partial: bool  # True: it answered for the rest (a partial answer)


@dataclass(frozen=True, slots=True)
class Unknowns:
    """The parts of one cluster the watchdog carries without a current answer."""

    # group id -> unknown since (its last known state and lag are carried)
    groups: Mapping[str, float] = field(default_factory=frozen_map)
    # (topic, partition) -> its log offsets unknown since (no leader, or ListOffsets failed)
    partitions: Mapping[tuple[str, int], float] = field(default_factory=frozen_map)
    # topic -> its effective configs unknown since
    configs: Mapping[str, float] = field(default_factory=frozen_map)
    # Since when the group listing is incomplete (a coordinator did not answer ListGroups):
    # groups the watchdog never saw may exist, so an alert naming a group missing from the
    # answer is held rather than resolved.
    group_listing: float | None = None
    # stage -> its blind spell, for every stage whose latest attempt did not answer in full
    stages: Mapping[str, Blind] = field(default_factory=frozen_map)
    # Since when no active controller is known (ZooKeeper's /controller is absent, the KRaft
    # quorum has no leader): the snapshot carries the last known one, so that the change is
    # seen as old -> new, but the controller is not claimed meanwhile.
    controller: float | None = None

    def _of(self, stage: str) -> Mapping[Any, float]:
        by_stage: dict[str, Mapping[Any, float]] = {
            "groups": self.groups,
            "offsets": self.partitions,
            "configs": self.configs,
        }
        return by_stage.get(stage, {})

    def parts(self, stage: str) -> int:
        """How many parts of `stage` are unknown (groups, partitions, topics)."""
        return len(self._of(stage))

    def oldest(self, stage: str) -> float | None:
        """The oldest 'unknown since' of `stage`'s parts, or of the stage's spell."""
        times = list(self._of(stage).values())
        blind = self.stages.get(stage)
        if blind is not None:
            times.append(blind.since)
        if stage == "groups" and self.group_listing is not None:
            times.append(self.group_listing)
        return min(times, default=None)

    def group_held(self, group: str, answered: Mapping[str, object]) -> float | None:
        """Since when an alert about `group` must hold: the group is unknown, or it is
        missing from an incomplete listing. None: the answer about it is real."""
        since = self.groups.get(group)
        if since is not None:
            return since
        if self.group_listing is not None and group not in answered:
            return self.group_listing
        return None

    def __bool__(self) -> bool:
        return bool(
            self.groups
            or self.partitions
            or self.configs
            or self.group_listing is not None
            or self.stages
            or self.controller is not None
        )


NOTHING_UNKNOWN = Unknowns()
