"""Broker log directories as published (DescribeLogDirs): each broker's dirs, whether they
are online, their size and the replicas on them. Values only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kafka_watchdog.model.snapshot import frozen_map

# The state of a dir a broker reported before and no longer reports at all.
MISSING = "MISSING"


@dataclass(frozen=True, slots=True)
class LogDir:
    path: str
    # None while online; else why not: the broker's error name (KAFKA_STORAGE_ERROR for a
    # failed disk) or MISSING (the broker no longer lists the dir).
    error: str | None
    # Bytes of each replica on the dir. An offline or missing dir keeps the replicas it had
    # when it was last seen online: they are the ones that lost a copy.
    replicas: Mapping[tuple[str, int], int] = field(default_factory=frozen_map)
    total_bytes: int | None = None  # the volume's size (brokers >= 3.3), None if unknown
    usable_bytes: int | None = None  # free space on the volume
    growth_bytes_per_second: float | None = None  # over the last hour (or since seen)
    since: float | None = None  # when the current error (or the dir) was first seen

    @property
    def online(self) -> bool:
        return self.error is None

    @property
    def size_bytes(self) -> int:
        return sum(self.replicas.values())


@dataclass(frozen=True, slots=True)
class BrokerDisks:
    broker: int
    dirs: Mapping[str, LogDir] = field(default_factory=frozen_map)
    taken_at: float | None = None  # when the broker last answered
    # The last attempt failed (the broker did not answer): `dirs` are the last known ones,
    # unknown since `unknown_since`.
    error: str | None = None
    unknown_since: float | None = None

    def topic_bytes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.dirs.values():
            if d.online:
                for (topic, _), size in d.replicas.items():
                    out[topic] = out.get(topic, 0) + size
        return out
