"""The collector caps glibc's malloc arenas: threads then share two instead of one each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# eight threads allocate at once, then malloc_info() counts the arenas ("<heap nr=...>")
PROBE = """
import ctypes, sys, threading
from collector.memory import limit_malloc_arenas
print(limit_malloc_arenas())
gate = threading.Barrier(8)
def work():
    gate.wait()
    for _ in range(100):
        bufs = [ctypes.create_string_buffer(4096) for _ in range(100)]
        del bufs
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
f = libc.fopen(sys.argv[1].encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(f))
libc.fclose(ctypes.c_void_p(f))
"""


def _arenas(tmp_path: Path, env: dict[str, str]) -> tuple[str, int]:
    info = tmp_path / "malloc.xml"
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(info)],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return out.stdout.strip(), info.read_text().count("<heap nr=")


def test_threads_share_two_arenas_unless_the_user_set_malloc_arena_max(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    capped, arenas = _arenas(tmp_path, env)
    assert capped == "True" and arenas <= 2
    kept, user_arenas = _arenas(tmp_path, {**env, "MALLOC_ARENA_MAX": "8"})
    assert kept == "False" and user_arenas > 2  # the user's setting wins
