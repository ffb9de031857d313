"""The served dashboard's environment makes glibc hand back the large buffers a visit frees.

A visit parses Prometheus JSON, builds frames and Arrow tables and protobuf messages: blocks of
hundreds of KiB to MiB that live for one script run, among smaller blocks that live on (the
pickled query results `st.cache_data` keeps, tens of KiB each). With glibc's dynamic mmap
threshold, freeing one large mapped block raises the threshold to its size, so later blocks that
size come from the heap, where the survivors between them keep the heap from shrinking. The
probe below does that on purpose and reports how much of 64 MiB freed is still resident.
"""

from __future__ import annotations

import os
import subprocess
import sys

from dashboard.settings import streamlit_env

PROBE = """
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
MiB = 1 << 20

def anon():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024

libc.free(libc.malloc(8 * MiB))  # a big buffer freed: a dynamic threshold now sits at 8 MiB
before = anon()
blocks = []
for _ in range(64):
    block = libc.malloc(MiB)
    ctypes.memset(block, 1, MiB)
    blocks.append(block)
    libc.malloc(100 * 1024)  # a cached result that outlives the visit: never freed
for block in blocks:
    libc.free(block)
print((anon() - before) // MiB)
"""


def _retained_mib(env: dict[str, str]) -> int:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True,
        timeout=60,
    )  # fmt: skip
    return int(out.stdout)


def test_the_served_dashboard_returns_large_freed_buffers_to_the_system() -> None:
    plain = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    assert _retained_mib(streamlit_env(plain)) < 8
    assert _retained_mib(plain) > 48  # glibc's default: the freed MiB stay resident
