"""glibc malloc settings that keep the daemon's processes near the memory they use.

Two defaults of glibc's malloc cost a long-running Python daemon resident memory it no
longer uses:
- Arenas: every thread that allocates may get an arena of its own, up to 8 per core. The
  daemon's threads (the lag evaluator, the exposition's builds, the worker's librdkafka
  threads) each keep one, with its free space, for the life of the process.
- The dynamic mmap threshold: a freed block that had been mmap()ed raises the threshold to
  its size (up to 32 MiB), so from then on blocks that large (an exposition's body at
  10,000 partitions, a ListOffsets answer) come from the heap and stay resident after use.

So: at most two arenas, and a fixed 1 MiB threshold: larger blocks are mmap()ed and given
back to the kernel when freed. Set in the daemon's own process with mallopt(3) before it
starts threads, and for the Admin API worker through GLIBC_TUNABLES in its environment (it
is set before librdkafka starts any thread). A GLIBC_TUNABLES the user set is kept as is.
Without glibc (musl, macOS) nothing is changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Mapping

log = logging.getLogger(__name__)

ARENA_MAX = 2
MMAP_THRESHOLD = 1 << 20
# mallopt(3) parameters (malloc.h).
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` with the same settings for a child process, unless GLIBC_TUNABLES is set."""
    env = dict(environ)
    env.setdefault(
        "GLIBC_TUNABLES",
        f"glibc.malloc.arena_max={ARENA_MAX}:glibc.malloc.mmap_threshold={MMAP_THRESHOLD}",
    )
    return env


def tune_this_process(environ: Mapping[str, str]) -> bool:
    """Apply the settings to this process; False when there is no glibc or the user's
    GLIBC_TUNABLES already decides."""
    if "GLIBC_TUNABLES" in environ:
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        libc = None
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None or not hasattr(libc, "gnu_get_libc_version"):
        return False  # not glibc: its mallopt (if any) does not take these parameters
    done = mallopt(_M_ARENA_MAX, ARENA_MAX) == 1 and mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    if not done:
        log.debug("mallopt refused the arena and mmap settings; glibc's defaults stay")
    return bool(done)
