"""The Admin API worker process: `python -m kafka_watchdog.sources.admin_worker`.

One per watched cluster, started by `IsolatedAdminSource` (sources/isolated.py), which says
why the librdkafka client lives in a process of its own. This entry point imports only what
the client needs (confluent-kafka, the model's dataclasses, the Admin source): no config
models, no HTTP server, no multiprocessing (and so no resource tracker process beside it).

It serves the calls it reads on stdin (worker_protocol), each as a task of its own, so a
slow call (DescribeConfigs of every topic) does not hold up another (Metadata): librdkafka
runs them side by side, bounded by the source's limit on requests in flight.

It never outlives the daemon: the kernel kills it when its parent dies (PR_SET_PDEATHSIG),
and it exits when its stdin closes, which is also how a parent that exits normally ends it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any

from kafka_watchdog.sources import worker_protocol as protocol
from kafka_watchdog.sources.admin import AdminSource
from kafka_watchdog.sources.errors import SourceError

log = logging.getLogger(__name__)

# The methods of AdminSource a parent may call.
METHODS = frozenset({"describe_cluster", "topics", "log_offsets", "groups", "topic_configs"})
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel for SIGKILL when the parent dies; exit now if it already has (the
    request only covers a death that happens after it)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the stdin watch below still ends us
        pass
    if os.getppid() != parent_pid:
        os._exit(0)


def _private_pipes() -> tuple[int, int]:
    """The protocol's fds, moved off 0 and 1 so that nothing printing to stdout (a library,
    a stray print) can corrupt the stream: fd 1 then goes to stderr, fd 0 to /dev/null."""
    inbound, outbound = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    return inbound, outbound


async def serve(inbound: int, outbound: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(inbound, "rb", buffering=0)
    )
    transport, stream = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(outbound, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(transport, stream, None, loop)

    start = await protocol.read(reader)
    if not isinstance(start, protocol.Start):
        raise protocol.ProtocolError(f"expected Start, got {type(start).__name__}")
    die_with_parent(start.parent_pid)
    logging.basicConfig(
        level=max(start.log_level, logging.WARNING),
        format=f"%(levelname)s admin-worker[{start.cluster.name}] %(name)s: %(message)s",
    )
    import confluent_kafka

    source = AdminSource(start.cluster, start.request_timeout, start.max_concurrent)
    writer.write(protocol.frame(protocol.Ready(os.getpid(), confluent_kafka.libversion()[0])))
    await writer.drain()

    encoder = protocol.Encoder()

    async def handle(call_id: int, method: str, args: tuple[Any, ...]) -> None:
        reply: protocol.Reply
        try:
            if method not in METHODS:
                raise protocol.ProtocolError(f"no such call: {method!r}")
            source.start()  # idempotent; a bad librdkafka property raises SourceError here
            answer = await getattr(source, method)(*args)
            # Encoded and written with no await in between: the parent decodes the changes
            # in the order they were computed.
            reply = (call_id, True, encoder.encode(method, answer))
        except SourceError as exc:
            reply = (call_id, False, exc)
        except Exception as exc:  # a bug: told to the caller, traceback logged here
            log.exception("%s failed", method)
            reply = (call_id, False, RuntimeError(f"{type(exc).__name__}: {exc}"))
        writer.write(protocol.frame(reply))
        await writer.drain()

    running: set[asyncio.Task[None]] = set()
    while True:
        try:
            call_id, method, args = await protocol.read(reader)
        except asyncio.IncompleteReadError:
            # The parent closed our stdin (it exited, or stopped us): nothing to flush, the
            # client only reads. Exit without librdkafka's destroy, which can hang.
            os._exit(0)
        task = asyncio.create_task(handle(call_id, method, args))
        running.add(task)
        task.add_done_callback(running.discard)


def main() -> None:
    # The parent handles Ctrl-C (the terminal sends it to the whole process group) and ends
    # the worker itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inbound, outbound = _private_pipes()
    try:
        asyncio.run(serve(inbound, outbound))
    except (protocol.ProtocolError, asyncio.IncompleteReadError, EOFError) as exc:
        print(f"admin worker: {exc}", file=sys.stderr)
        os._exit(2)


if __name__ == "__main__":
    main()
