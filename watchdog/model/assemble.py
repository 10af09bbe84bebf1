"""Merge what the sources said into one ClusterSnapshot. Pure: no I/O, time passed in.

Who wins, and why:
- Partition leader/ISR/epoch, brokers and the controller come from ZooKeeper when its mirror
  is live: it is the controller's own record, written before any broker learns of it. Without
  a live mirror they come from the Admin API.
- The controller: ZooKeeper's /controller; else on KRaft the quorum leader (DescribeQuorum);
  else, on a cluster without DescribeQuorum (ZooKeeper mode), the Metadata controller. A KRaft
  or managed cluster whose quorum cannot be read gets None: unknown, never a guess (Metadata
  names a random broker there).
- Offsets, groups and effective topic configs come from the Admin API only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol

from kafka_watchdog.model.incremental import TopicMemo
from kafka_watchdog.model.parts import AdminView, ZkView
from kafka_watchdog.model.snapshot import (
    Broker,
    ClusterMode,
    ClusterSnapshot,
    PartitionState,
    TopicConfig,
    TopicState,
    frozen_map,
)

_NO_MOVES: Mapping[tuple[str, int], tuple[tuple[int, ...], tuple[int, ...]]] = frozen_map()
_NO_CONFIG = TopicConfig()


class _Timestamped(Protocol):
    @property
    def taken_at(self) -> float: ...


def assemble(
    cluster: str,
    admin: AdminView,
    zk: ZkView | None,
    now: float,
    memo: TopicMemo | None = None,
) -> ClusterSnapshot | None:
    """None until there is a partition view from either source. With a `memo` (one per
    cluster, fed every assembly), topics and partitions whose inputs did not change are the
    previous snapshot's objects (model/incremental.py); the result is equal either way."""
    if zk is None and (admin.topics is None or admin.description is None):
        return None
    if memo is not None:
        memo.begin()
    sources: dict[str, tuple[str, float]] = {}

    def said(part: str, source: str, timed: _Timestamped | None) -> None:
        if timed is not None:
            sources[part] = (source, timed.taken_at)

    quorum = admin.quorum.value if admin.quorum is not None else None
    description = admin.description.value if admin.description is not None else None

    brokers: Mapping[int, Broker]
    if zk is not None:
        brokers = _with_racks(zk.brokers, description.brokers if description else {})
        controller, epoch = zk.controller_id, zk.controller_epoch
        mode = ClusterMode.ZOOKEEPER
        said("brokers", "zookeeper", zk)
        said("controller", "zookeeper", zk)
    else:
        assert description is not None
        brokers = description.brokers
        said("brokers", "admin", admin.description)
        if quorum is not None and quorum.quorum is not None:
            # A quorum between leaders (an election under way, a lost majority) reports
            # leader -1: no controller is known, not a controller with id -1.
            leader = quorum.quorum.leader_id
            controller = leader if leader >= 0 else None
            epoch = quorum.quorum.leader_epoch
            mode = ClusterMode.KRAFT
            said("controller", "quorum", admin.quorum)
        elif quorum is not None and quorum.supported is False:
            controller, epoch = description.controller_id, None
            mode = ClusterMode.ZOOKEEPER
            said("controller", "admin", admin.description)
        else:
            controller, epoch, mode = None, None, ClusterMode.UNKNOWN

    offsets = admin.offsets.value if admin.offsets is not None else {}
    configs = admin.configs.value if admin.configs is not None else {}
    moving = quorum.reassignments if quorum is not None else {}
    topics: dict[str, TopicState] = {}
    if zk is not None:
        said("partitions", "zookeeper", zk)
        for name, ztopic in zk.topics.items():
            config = configs.get(name) or _config_from_overrides(ztopic.config_overrides)
            if memo is not None:
                topics[name] = memo.topic(
                    name,
                    ztopic.partitions,
                    topic_id=ztopic.topic_id,
                    internal=name.startswith("__"),
                    config=config,
                    offsets=offsets,
                    moves=_NO_MOVES,
                )
                continue
            topics[name] = TopicState(
                name,
                tuple(_with_offsets(p, offsets) for p in ztopic.partitions),
                topic_id=ztopic.topic_id,
                internal=name.startswith("__"),
                config=config,
            )
    else:
        assert admin.topics is not None
        said("partitions", "admin", admin.topics)
        for meta in admin.topics.value:
            if memo is not None:
                topics[meta.name] = memo.topic(
                    meta.name,
                    meta.partitions,
                    topic_id=None,
                    internal=meta.internal,
                    config=configs.get(meta.name, _NO_CONFIG),
                    offsets=offsets,
                    moves=moving,
                )
                continue
            topics[meta.name] = TopicState(
                meta.name,
                tuple(_with_offsets(_with_moves(p, moving), offsets) for p in meta.partitions),
                internal=meta.internal,
                config=configs.get(meta.name, TopicConfig()),
            )
    if memo is not None:
        memo.end()
    said("offsets", "admin", admin.offsets)
    said("groups", "admin", admin.groups)
    said("configs", "admin", admin.configs)

    return ClusterSnapshot(
        cluster=cluster,
        taken_at=now,
        cluster_id=(description.cluster_id if description else None)
        or (zk.cluster_id if zk else None),
        brokers=brokers,
        controller_id=controller,
        controller_epoch=epoch,
        topics=frozen_map(topics),
        mode=mode,
        groups=admin.groups.value if admin.groups is not None else frozen_map(),
        sources=frozen_map(sources),
    )


def _with_racks(
    zk_brokers: Mapping[int, Broker], admin: Mapping[int, Broker]
) -> Mapping[int, Broker]:
    if not any(b.rack is None and admin.get(b.id) is not None for b in zk_brokers.values()):
        return zk_brokers
    return frozen_map(
        {
            i: replace(b, rack=admin[i].rack) if b.rack is None and i in admin else b
            for i, b in zk_brokers.items()
        }
    )


def _with_offsets(
    p: PartitionState, offsets: Mapping[tuple[str, int], tuple[int | None, int | None]]
) -> PartitionState:
    found = offsets.get((p.topic, p.partition))
    if found is None:
        return p
    return replace(p, log_start_offset=found[0], log_end_offset=found[1])


def _with_moves(
    p: PartitionState,
    moving: Mapping[tuple[str, int], tuple[tuple[int, ...], tuple[int, ...]]],
) -> PartitionState:
    found = moving.get((p.topic, p.partition))
    if found is None:
        return p
    return replace(p, adding_replicas=found[0], removing_replicas=found[1])


def _config_from_overrides(overrides: Mapping[str, str]) -> TopicConfig:
    """Topic overrides only: broker defaults are unknown without the Admin API's answer."""
    mir = overrides.get("min.insync.replicas")
    unclean = overrides.get("unclean.leader.election.enable")
    return TopicConfig(
        min_insync_replicas=int(mir) if mir and mir.isdigit() else None,
        unclean_leader_election=None if unclean is None else unclean.lower() == "true",
    )
