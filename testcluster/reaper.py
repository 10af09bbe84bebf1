"""Finding and killing JVMs that a crashed or killed test run left behind.

Two independent records, so either one is enough:
- each JVM's command line carries `-Dtestcluster.owner=<pid>:<start time>` and
  `-Dtestcluster.workdir=<dir>`: a scan of the process table finds orphans even when the
  workdir is gone, and the owner's start time tells a dead owner from a reused pid;
- `<workdir>/testcluster.pids` lists what was started there, for `reap(workdir)`.
Only JVMs whose owner is dead are reaped by default, so a test run never kills the clusters
of another run going on at the same time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import psutil

PIDFILE = "testcluster.pids"
OWNER_FLAG = "-Dtestcluster.owner="
WORKDIR_FLAG = "-Dtestcluster.workdir="

_pidfile_lock = threading.Lock()


def _owner_token(pid: int) -> str:
    # Start time in centiseconds: stable for one process, different for a reused pid.
    return f"{pid}:{int(psutil.Process(pid).create_time() * 100)}"


_OWNER = _owner_token(os.getpid())


def marker_flags(workdir: Path) -> list[str]:
    return [f"{OWNER_FLAG}{_OWNER}", f"{WORKDIR_FLAG}{workdir.resolve()}"]


def record(workdir: Path, pid: int, name: str) -> None:
    with _pidfile_lock, (workdir / PIDFILE).open("a") as handle:
        handle.write(f"{pid} {name}\n")


def forget(workdir: Path, pid: int) -> None:
    path = workdir / PIDFILE
    with _pidfile_lock:
        try:
            lines = path.read_text().splitlines()
        except FileNotFoundError:
            return
        kept = [line for line in lines if line.split(" ", 1)[0] != str(pid)]
        path.write_text("".join(f"{line}\n" for line in kept))


@dataclass(frozen=True)
class Leftover:
    pid: int
    owner: str
    workdir: str
    owner_alive: bool


def _flag(cmdline: list[str], prefix: str) -> str | None:
    for arg in cmdline:
        if arg.startswith(prefix):
            return arg[len(prefix) :]
    return None


def _alive(token: str) -> bool:
    pid_text, _, _ = token.partition(":")
    try:
        return _owner_token(int(pid_text)) == token
    except (ValueError, psutil.Error):
        return False


def leftovers() -> list[Leftover]:
    """Every testcluster JVM on this machine, whoever owns it."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        owner = _flag(cmdline, OWNER_FLAG)
        if owner is None:
            continue
        workdir = _flag(cmdline, WORKDIR_FLAG) or ""
        found.append(Leftover(proc.info["pid"], owner, workdir, _alive(owner)))
    return found


def reap(workdir: Path | None = None, *, everything: bool = False) -> list[int]:
    """Kill orphaned testcluster JVMs; return their pids.

    Orphans are those whose owner process is dead. With `workdir`, also every JVM of that
    workdir (by pidfile and by command line); with `everything`, all of them.
    """
    wanted = str(workdir.resolve()) if workdir is not None else None
    targets = {
        left.pid
        for left in leftovers()
        if everything or not left.owner_alive or (wanted is not None and left.workdir == wanted)
    }
    if workdir is not None:
        targets |= _pidfile_pids(workdir)
    victims = []
    for pid in sorted(targets):
        try:
            proc = psutil.Process(pid)
            if OWNER_FLAG not in " ".join(proc.cmdline()):
                continue  # the pidfile's pid was reused by something else
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                proc.kill()
            victims.append(proc)
        except (psutil.Error, ProcessLookupError):
            continue
    psutil.wait_procs(victims, timeout=10)
    if workdir is not None:
        with contextlib.suppress(FileNotFoundError):
            (workdir / PIDFILE).unlink()
    return [p.pid for p in victims]


def _pidfile_pids(workdir: Path) -> set[int]:
    try:
        lines = (workdir / PIDFILE).read_text().splitlines()
    except FileNotFoundError:
        return set()
    return {int(line.split(" ", 1)[0]) for line in lines if line.strip()}
