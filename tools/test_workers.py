"""How many pytest-xdist workers the integration suite gets: two when the machine has a
core to spare, none (one process) when it is busy.

The tests mostly wait on Kafka's own timeouts, so on an idle machine two streams of them
overlap well (docs/testing.md: 10 minutes instead of 17.5). On a busy one (a CPU hog on
every core, the next developer's build) two workers double the JVMs that start, run tools
and elect controllers at once, and the clusters' own timing (ZooKeeper sessions, KRaft
quorum fetches) stops holding: with stress-ng on both cores, two workers saw the KRaft
controller quorum re-elect every few seconds and a restarted broker lose its ZooKeeper
session. So the choice is made from the CPU actually idle right before the suite starts,
measured over one second from /proc/stat (the load average lags by a minute and counts
waiting threads), like `make -l`.

    python tools/test_workers.py    # prints 2 or 0 (pytest-xdist's -n), and why on stderr
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

SAMPLE_SECONDS = 1.0
# Idle CPU, in cores, that a second worker needs: one core's worth.
SPARE_CORES = 1.0


def _cpu_times() -> tuple[int, int]:
    """(idle + iowait, total) jiffies of all CPUs."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return idle, sum(fields[:8])


def idle_cores(seconds: float = SAMPLE_SECONDS) -> float:
    cores = os.cpu_count() or 1
    idle0, total0 = _cpu_times()
    time.sleep(seconds)
    idle1, total1 = _cpu_times()
    return cores * (idle1 - idle0) / max(total1 - total0, 1)


def workers(idle: float, cores: int) -> int:
    """pytest-xdist's -n: 2 workers with a spare core, else 0 (the suite in one process)."""
    return 2 if cores >= 2 and idle >= SPARE_CORES else 0


def main() -> int:
    cores = os.cpu_count() or 1
    try:
        idle = idle_cores()
    except OSError:  # no /proc (not Linux): one process, the safe choice
        idle = 0.0
    chosen = workers(idle, cores)
    print(
        f"integration workers: {chosen or 'none (one process)'}: {idle:.1f} of {cores} "
        "cores idle (tools/test_workers.py; INTEGRATION_WORKERS=N chooses)",
        file=sys.stderr,
    )
    print(chosen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
