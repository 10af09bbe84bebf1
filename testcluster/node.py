"""What every cluster member (ZooKeeper server, Kafka broker or KRaft node) can be made to do."""

from __future__ import annotations

from pathlib import Path

from testcluster.process import JavaProcess


class Node:
    """A cluster member backed by one JVM; the fault-injection surface of the harness."""

    def __init__(self, name: str, directory: Path, process: JavaProcess) -> None:
        self.name = name
        self.directory = directory
        self.process = process

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.process.state} pid={self.pid}>"

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def running(self) -> bool:
        """The JVM exists; it may be paused."""
        return self.process.running

    @property
    def paused(self) -> bool:
        return self.process.paused

    @property
    def healthy(self) -> bool:
        """Running and not paused: what a test must leave behind."""
        return self.running and not self.paused

    def prepare(self) -> None:
        """Write configuration files; called before the first start."""

    def start(self) -> None:
        self.prepare()
        self.process.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful: SIGTERM (SIGCONT first if paused), SIGKILL after `timeout`."""
        self.process.stop(timeout)

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown work at all."""
        self.process.kill()

    def pause(self) -> None:
        """SIGSTOP: frozen with its connections open (a long GC pause, a hung host)."""
        self.process.pause()

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        self.process.resume()

    def restart(self, *, graceful: bool = True) -> None:
        if graceful:
            self.stop()
        else:
            self.kill()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        return self.process.log_tail(lines)
