"""One JVM child process that can be paused, killed, stopped and started again.

Every JVM runs in its own session (so its process group can be signalled as a whole and a
Ctrl-C in the terminal does not reach it), carries marker system properties naming its owner
and workdir (so `reap` can find it even if every file is gone), is listed in the workdir's
pidfile, and is killed by an atexit hook. When started from the main thread it also gets
PR_SET_PDEATHSIG via `setpriv`, so it dies with the Python process even on SIGKILL.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from testcluster import reaper

# Lean flags for a 2-core box running 9 JVMs at once (both clusters): the serial collector has no GC
# threads, C1 only compiles fast (startup matters more than peak throughput here), and
# no perf-data file is written to /tmp/hsperfdata_*.
LEAN_JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-Xss512k",
    "-XX:ReservedCodeCacheSize=64m",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
)


def jvm_base_flags() -> list[str]:
    """LEAN_JVM_FLAGS, or $TESTCLUSTER_JVM_FLAGS instead (to measure other choices)."""
    override = os.environ.get("TESTCLUSTER_JVM_FLAGS")
    return shlex.split(override) if override is not None else list(LEAN_JVM_FLAGS)


# Strong references: a cluster object dropped without stop() must still be killed at exit.
_live: set[JavaProcess] = set()
_live_lock = threading.Lock()


def _kill_all_at_exit() -> None:
    with _live_lock:
        processes = list(_live)
    for process in processes:
        process.kill()


atexit.register(_kill_all_at_exit)


def java_command(
    main_class: str,
    args: Sequence[str],
    classpath: str,
    workdir: Path,
    jvm_flags: Sequence[str] = (),
) -> list[str]:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java") or "java"
    return [
        java,
        *jvm_base_flags(),
        *jvm_flags,
        *reaper.marker_flags(workdir),
        "-cp",
        classpath,
        main_class,
        *args,
    ]


def with_death_signal(command: list[str]) -> list[str]:
    """Prefix `setpriv --pdeathsig KILL` so the JVM dies when this process dies.

    The death signal fires when the forking *thread* exits, so it is only used from the main
    thread (which lives as long as the process); other threads rely on atexit and `reap`.
    """
    setpriv = shutil.which("setpriv")
    if setpriv and threading.current_thread() is threading.main_thread():
        return [setpriv, "--pdeathsig", "KILL", "--", *command]
    return command


class JavaProcess:
    """A JVM: `java <jvm_flags> -cp <classpath> <main_class> <args>`, output to `log_path`."""

    def __init__(
        self,
        name: str,
        main_class: str,
        args: Sequence[str],
        *,
        classpath: str,
        directory: Path,
        workdir: Path,
        jvm_flags: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.main_class = main_class
        self.args = list(args)
        self.classpath = classpath
        self.directory = directory
        self.workdir = workdir
        self.jvm_flags = list(jvm_flags)
        self.log_path = directory / "output.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False

    def __repr__(self) -> str:
        return f"<JavaProcess {self.name} pid={self.pid} {self.state}>"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """The JVM exists (possibly paused)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        return self.running and self._paused

    @property
    def state(self) -> str:
        if not self.running:
            return "stopped"
        return "paused" if self._paused else "running"

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def command(self) -> list[str]:
        return java_command(
            self.main_class, self.args, self.classpath, self.workdir, self.jvm_flags
        )

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.directory.mkdir(parents=True, exist_ok=True)
        command = with_death_signal(self.command())
        with self.log_path.open("ab") as log:
            log.write(f"\n==== testcluster: starting {self.name} at {time.ctime()}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                command,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._paused = False
        with _live_lock:
            _live.add(self)
        reaper.record(self.workdir, self._proc.pid, self.name)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        # The JVM is its session's leader, so its pid is also its process group id.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)

    def pause(self) -> None:
        """SIGSTOP: the JVM freezes with its sockets open, like a long GC pause or a hung host."""
        self._require_running("pause")
        self._signal_group(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        self._require_running("resume")
        self._signal_group(signal.SIGCONT)
        self._paused = False

    def kill(self) -> None:
        """SIGKILL, no shutdown hooks: a crash. Safe on a paused or already dead process."""
        if self._proc is None:
            return
        self._signal_group(signal.SIGKILL)
        self._reap_child(10)
        self._paused = False

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful SIGTERM (a broker does its controlled shutdown), SIGKILL after `timeout`."""
        if not self.running:
            self._reap_child(0)
            return
        if self._paused:
            # A stopped process keeps SIGTERM pending until it is continued.
            self._signal_group(signal.SIGCONT)
            self._paused = False
        self._signal_group(signal.SIGTERM)
        assert self._proc is not None
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self._reap_child(10)

    def _reap_child(self, timeout: float) -> None:
        if self._proc is None:
            return
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return
        reaper.forget(self.workdir, self._proc.pid)
        with _live_lock:
            _live.discard(self)

    def wait_exit(self, timeout: float) -> int:
        assert self._proc is not None
        return self._proc.wait(timeout)

    def _require_running(self, action: str) -> None:
        if not self.running:
            raise RuntimeError(f"cannot {action} {self.name}: it is not running")

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)


def tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a possibly large file, reading only its end."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            chunk = min(size, max(8192, lines * 400))
            handle.seek(size - chunk)
            data = handle.read()
    except FileNotFoundError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])
