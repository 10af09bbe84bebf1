"""Assembling a snapshot from what changed only. Pure: no I/O; a memo of earlier results.

A ZooKeeper watch burst changes a few partitions' state nodes; an offsets cycle moves the
log ends of the topics that are written to; a metadata cycle usually changes nothing. Each
of them makes a new snapshot, and building every partition again each time costs
O(partitions) per change (seconds of CPU per broker failure at 10,000 partitions).

So `assemble` (given a `TopicMemo`) builds a topic's partitions again only when what they
are made of changed: the source's partition object (ZooKeeper mirror) or its value (Admin
API metadata), its log offsets, its reassignment. Everything else is the very object the
previous snapshot held. Since every value is immutable, "the same object" means "the same
state", and every later stage skips by identity: assessment (detection/assess.py), the diff
(detection/diff.py), the brokers ever seen (app/watcher.py). The work of one ZooKeeper burst
is the partitions it changed, plus pointer work over their topics and one pass over the
topic names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from kafka_watchdog.model.snapshot import ClusterSnapshot, PartitionState, TopicConfig, TopicState

V = TypeVar("V")
Offset = tuple[int | None, int | None]
Move = tuple[tuple[int, ...], tuple[int, ...]]
Offsets = Mapping[tuple[str, int], Offset]
Moves = Mapping[tuple[str, int], Move]


def _by_topic(mapping: Mapping[tuple[str, int], V]) -> dict[str, dict[int, V]]:
    out: dict[str, dict[int, V]] = {}
    for (topic, partition), value in mapping.items():
        found = out.get(topic)
        if found is None:
            found = out[topic] = {}
        found[partition] = value
    return out


@dataclass(slots=True)
class _Built:
    sources: tuple[PartitionState, ...]  # as the source gave them
    offsets: Mapping[int, Offset]  # this topic's slice of the offsets used
    moves: Mapping[int, Move]
    state: TopicState


class _Index(Generic[V]):
    """A mapping keyed by (topic, partition), split per topic once per mapping object."""

    __slots__ = ("_none", "_of", "_split")

    def __init__(self) -> None:
        self._of: object = None
        self._split: dict[str, dict[int, V]] = {}
        self._none: Mapping[int, V] = {}  # one shared empty slice: compared by identity

    def of(self, mapping: Mapping[tuple[str, int], V], topic: str) -> Mapping[int, V]:
        if mapping is not self._of:
            self._split = _by_topic(mapping) if mapping else {}
            self._of = mapping
        return self._split.get(topic, self._none)


class TopicMemo:
    """What `assemble` built for each topic and from what; one per watched cluster."""

    def __init__(self) -> None:
        self._built: dict[str, _Built] = {}
        self._next: dict[str, _Built] = {}
        self._offsets: _Index[Offset] = _Index()
        self._moves: _Index[Move] = _Index()

    def begin(self) -> None:
        """Before an assembly: topics it does not ask for are forgotten after it."""
        self._next = {}

    def end(self) -> None:
        self._built, self._next = self._next, {}

    def topic(
        self,
        name: str,
        sources: tuple[PartitionState, ...],
        *,
        topic_id: str | None,
        internal: bool,
        config: TopicConfig,
        offsets: Offsets,
        moves: Moves,
    ) -> TopicState:
        """The TopicState `assemble` would build; the previous object when its inputs are
        the same, and the previous partition objects wherever theirs are."""
        its_offsets = self._offsets.of(offsets, name)
        its_moves = self._moves.of(moves, name)
        built = self._built.get(name)
        if (
            built is not None
            and built.sources is sources
            and built.offsets is its_offsets
            and built.moves is its_moves
            and built.state.topic_id == topic_id
            and built.state.internal == internal
            and built.state.config == config
        ):
            self._next[name] = built
            return built.state
        old_sources = built.sources if built is not None else ()
        old_parts = built.state.partitions if built is not None else ()
        parts = []
        same = len(sources) == len(old_parts)
        for i, src in enumerate(sources):
            key = src.partition
            off, move = its_offsets.get(key), its_moves.get(key)
            if (
                built is not None
                and i < len(old_sources)
                and (old_sources[i] is src or old_sources[i] == src)
                and built.offsets.get(key) == off
                and built.moves.get(key) == move
            ):
                parts.append(old_parts[i])
                continue
            same = False
            p = src
            if move is not None:
                adding, removing = move
                p = replace(p, adding_replicas=adding, removing_replicas=removing)
            if off is not None:
                start, end = off
                p = replace(p, log_start_offset=start, log_end_offset=end)
            parts.append(p)
        if (
            same
            and built is not None
            and built.state.topic_id == topic_id
            and built.state.internal == internal
            and built.state.config == config
        ):
            state = built.state
        else:
            state = TopicState(
                name, tuple(parts), topic_id=topic_id, internal=internal, config=config
            )
        self._next[name] = _Built(sources, its_offsets, its_moves, state)
        return state


def changed_topics(
    before: Mapping[str, TopicState], after: Mapping[str, TopicState]
) -> list[TopicState]:
    """The topics of `after` that are not the very objects `before` held (new or changed)."""
    return [t for name, t in after.items() if before.get(name) is not t]


def same_content(before: ClusterSnapshot, after: ClusterSnapshot) -> bool:
    """Whether `after` tells nothing `before` did not (only when it was taken, and when each
    source last answered, differ): a metadata or configs cycle that found no change."""
    return (
        after.groups is before.groups
        and after.controller_id == before.controller_id
        and after.controller_epoch == before.controller_epoch
        and after.cluster_id == before.cluster_id
        and after.mode == before.mode
        and after.brokers == before.brokers
        and after.topics.keys() == before.topics.keys()
        and all(before.topics[name] is topic for name, topic in after.topics.items())
    )
