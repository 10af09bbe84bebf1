"""The Admin API worker's wire format: length-prefixed pickles over the worker's stdin/stdout.

Both ends are this package, in a parent and the child it started, over a pipe nobody else
holds, so pickle is safe here and carries the model's frozen dataclasses and the sources'
exceptions as they are. A frame is a 4-byte big-endian length and a pickle:

- parent -> worker, first: `Start` (what to connect to and how);
- worker -> parent, first: `Ready` (its pid and librdkafka's version);
- parent -> worker: `(call_id, method, args)`, any number in flight at once;
- worker -> parent: `(call_id, ok, value)`: the method's result, or the exception it raised
  (a SourceError with its message and reason), in whatever order the calls finish.

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
