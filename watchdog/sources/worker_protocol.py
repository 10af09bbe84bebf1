"""The Admin API worker's wire format: length-prefixed pickles over the worker's stdin/stdout.

Both ends are this package, in a parent and the child it started, over a pipe nobody else
holds, so pickle is safe here and carries the model's frozen dataclasses and the sources'
exceptions as they are. A frame is a 4-byte big-endian length and a pickle:

- parent -> worker, first: `Start` (what to connect to and how);
- worker -> parent, first: `Ready` (its pid and librdkafka's version);
- parent -> worker: `(call_id, method, args)`, any number in flight at once;
- worker -> parent: `(call_id, ok, value)`: the method's result, or the exception it raised
  (a SourceError with its message and reason), in whatever order the calls finish.

Answers that are collections (topics, offsets, groups, configs) travel as `Changes`: what
differs from the last answer to the same method (the worker's `Encoder` and the parent's
`Decoder` both keep it). A cycle that finds nothing new costs a few bytes instead of the
whole cluster, and the parent keeps its objects for whatever did not change, which is how
the rest of the daemon skips them (model/incremental.py). Both ends apply every answer in
the order it was written (one pipe, one reader), whether its caller still waits or not.

No import of confluent-kafka or of the config here: the parent's side of the worker uses
this module too, and the worker itself stays lean.
"""

from __future__ import annotations

import asyncio
import copyreg
import pickle
import struct
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, BinaryIO

from kafka_watchdog.sources.cluster_spec import ClusterSpec

HEADER = struct.Struct(">I")
# Far above any real answer (a 10,000-partition Metadata pickles to about 1 MB): a larger
# length is a corrupt stream, not a message.
MAX_FRAME = 256 * 1024 * 1024


class ProtocolError(Exception):
    """The other end sent something that is not a frame of this protocol."""


@dataclass(frozen=True, slots=True)
class Start:
    cluster: ClusterSpec
    request_timeout: float
    max_concurrent: int
    log_level: int
    parent_pid: int  # the worker exits at once if its parent is already another process


@dataclass(frozen=True, slots=True)
class Ready:
    pid: int
    librdkafka_version: str


Call = tuple[int, str, tuple[Any, ...]]
Reply = tuple[int, bool, Any]

# The answers sent as changes, and whether each is a list (kept in order) or a mapping.
AS_CHANGES = {"topics": True, "log_offsets": False, "groups": False, "topic_configs": False}
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Changes:
    """An answer as what changed since the last answer to `method`."""

    method: str
    changed: dict[Any, Any]  # key -> value, new keys included
    removed: tuple[Any, ...] = ()
    order: tuple[Any, ...] | None = None  # every key in order (list answers only)


def _keyed(method: str, value: Any) -> dict[Any, Any]:
    if AS_CHANGES[method]:  # a list of topics, keyed by name
        return {item.name: item for item in value}
    return dict(value)


class Encoder:
    """The worker's side: turns each answer into its changes since the last one sent."""

    def __init__(self) -> None:
        self._last: dict[str, dict[Any, Any]] = {}

    def encode(self, method: str, value: Any) -> Any:
        if method not in AS_CHANGES:
            return value
        now = _keyed(method, value)
        last = self._last.get(method)
        self._last[method] = now
        order = tuple(now) if AS_CHANGES[method] else None
        if last is None:
            return Changes(method, now, (), order)
        changed = {k: v for k, v in now.items() if last.get(k, _MISSING) != v}
        removed = tuple(k for k in last if k not in now)
        return Changes(method, changed, removed, order)


class Decoder:
    """The parent's side: rebuilds each answer from its changes, reusing the objects of
    the last answer for everything that did not change."""

    def __init__(self) -> None:
        self._last: dict[str, dict[Any, Any]] = {}

    def decode(self, changes: Changes) -> Any:
        last = self._last.get(changes.method, {})
        if changes.order is not None:
            changed = changes.changed
            now = {k: changed[k] if k in changed else last[k] for k in changes.order}
        else:
            gone = set(changes.removed)
            now = {k: v for k, v in last.items() if k not in gone} if gone else dict(last)
            now.update(changes.changed)
        self._last[changes.method] = now
        if AS_CHANGES[changes.method]:
            return list(now.values())
        return dict(now)


def _proxy(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _reduce_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return _proxy, (dict(proxy),)


# The model's read-only mappings (frozen_map) cross the boundary as read-only mappings.
copyreg.pickle(MappingProxyType, _reduce_proxy)


def frame(message: object) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def _length(header: bytes) -> int:
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME:
        raise ProtocolError(f"frame of {length} bytes announced: the stream is corrupt")
    return int(length)


async def read(reader: asyncio.StreamReader) -> Any:
    """The next message; raises asyncio.IncompleteReadError at the end of the stream."""
    length = _length(await reader.readexactly(HEADER.size))
    return pickle.loads(await reader.readexactly(length))


def read_blocking(stream: BinaryIO) -> Any:
    """The next message from a blocking stream; EOFError at its end."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError("the stream ended")
    length = _length(header)
    body = stream.read(length)
    if len(body) < length:
        raise EOFError("the stream ended inside a frame")
    return pickle.loads(body)
