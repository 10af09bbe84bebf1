"""Free TCP ports on 127.0.0.1 for the cluster's listeners."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil

_lock = threading.Lock()
# Ports handed out by every process on this machine (pytest-xdist workers, a demo beside a
# test run), one "port pid" line each: a port between its handing out and its JVM's bind is
# free to the kernel, and another process's bind(0) could be given it in that moment.
REGISTRY = Path(
    os.environ.get("TESTCLUSTER_PORTS", Path(tempfile.gettempdir()) / "testcluster-ports")
)


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free a moment ago.

    All sockets are held open together so the kernel cannot return the same port twice, and
    ports already handed out to a live process are skipped (REGISTRY): this one's (two
    clusters started one after the other must not collide while the first one's JVMs have
    not bound their ports yet) and every other's.
    """
    with _lock, _machine_registry() as taken:
        held: list[socket.socket] = []
        ports: list[int] = []
        try:
            while len(ports) < count:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(sock)
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
                if port not in taken:
                    ports.append(port)
        finally:
            for sock in held:
                sock.close()
        taken.update(dict.fromkeys(ports, os.getpid()))
        return ports


@contextlib.contextmanager
def _machine_registry() -> Iterator[dict[int, int]]:
    """The ports live processes were handed out (port -> pid), under an exclusive lock; what
    the caller adds is written back. Dead processes' ports are forgotten."""
    REGISTRY.touch(exist_ok=True)
    with REGISTRY.open("r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file is closed
        taken: dict[int, int] = {}
        for line in f.read().splitlines():
            with contextlib.suppress(ValueError):
                port, pid = (int(x) for x in line.split())
                if pid == os.getpid() or psutil.pid_exists(pid):
                    taken[port] = pid
        yield taken
        f.seek(0)
        f.truncate()
        f.write("".join(f"{port} {pid}\n" for port, pid in taken.items()))


def is_listening(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
