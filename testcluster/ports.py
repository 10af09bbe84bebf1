"""Free TCP ports on 127.0.0.1 for the cluster's listeners."""

from __future__ import annotations

import socket
import threading

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free a moment ago.

    All sockets are held open together so the kernel cannot return the same port twice, and
    ports already handed out in this process are skipped: two clusters started one after the
    other must not collide while the first one's JVMs have not bound their ports yet.
    """
    with _lock:
        held: list[socket.socket] = []
        ports: list[int] = []
        try:
            while len(ports) < count:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(sock)
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
                if port not in _handed_out:
                    ports.append(port)
        finally:
            for sock in held:
                sock.close()
        _handed_out.update(ports)
        return ports


def is_listening(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
