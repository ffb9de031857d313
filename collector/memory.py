"""Process-level memory settings of the collector.

glibc gives each thread that allocates an arena of its own (up to 8 per core). The collector's
threads (poller, trace taps, the store's writer and checkpointer, one per HTTP request) each
free memory into their own arena, where it stays: in a 30-minute soak of the demo at 10x the
collector's RSS rose from 116 to 149 MiB (+74 MiB/h) while Python's own objects and SQLite's
heap stayed flat. With two arenas the same soak held 110-113 MiB from minute 3 to 15
(docs/benchmarks.md, section 6). This is the usual fix for long-running threaded Python
services; `MALLOC_ARENA_MAX` in the environment, when set, wins.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for the rest of the process (call before starting threads).
    False when `MALLOC_ARENA_MAX` is set by the user, or the C library has no such setting."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.restype, mallopt.argtypes = ctypes.c_int, [ctypes.c_int, ctypes.c_int]
    done = bool(mallopt(M_ARENA_MAX, arenas))
    if done:
        log.debug("malloc arenas capped at %d", arenas)
    return done
