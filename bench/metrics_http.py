"""/metrics over HTTP: request latency of the collector's listener at 10k and 50k series.

The server is the collector's own (`collector.http_api.make_server`) serving a registry with the
real `ViewCollector` over synthetic views (the same as bench/metrics_render.py); the client is
`http.client` on one keep-alive connection, `runs` sequential GETs per size, each timed from
request to last byte. `--wrk` adds `wrk -t2 -c50 -d10s` on a 1,000-series /metrics and counts
the kernel's listen-queue overflows (TcpExt ListenOverflows) during it.

    python -m bench.metrics_http --series 10000,50000 --runs 20 --wrk
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from bench.metrics_render import groups_for, synthetic_view, view_collector
from collector.http_api import ApiContext, Notifications, make_server
from collector.web.server import HttpServer


def listen_overflows() -> int:
    lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()]
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names[0] == "TcpExt:" and "ListenOverflows" in names:
            return int(values[names.index("ListenOverflows")])
    return 0


def serve(series: int) -> tuple[HttpServer, int]:
    view = synthetic_view(groups_for(series) if series >= 5000 else max(1, series // 46))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(view_collector(view))
    server = make_server("127.0.0.1", 0, ApiContext(registry, lambda: [view], Notifications()))
    server.start()
    return server, server.port


def time_gets(port: int, runs: int) -> tuple[list[float], int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    took: list[float] = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        size = len(resp.read())
        took.append(time.perf_counter() - started)
        if resp.status != 200:
            raise RuntimeError(f"/metrics answered {resp.status}")
    conn.close()
    return took, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="10000,50000")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--wrk", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    for series in [int(s) for s in args.series.split(",")]:
        server, port = serve(series)
        took, size = time_gets(port, args.runs)
        server.stop()
        took.sort()
        print(
            f"{series:>7,} series {size:>10,} B: min {took[0] * 1e3:.1f} ms, "
            f"median {statistics.median(took) * 1e3:.1f} ms, "
            f"p95 {took[int(0.95 * (len(took) - 1))] * 1e3:.1f} ms"
        )
    if args.wrk and shutil.which("wrk"):
        server, port = serve(1000)
        before = listen_overflows()
        out = subprocess.run(
            ["wrk", "-t2", "-c50", "-d10s", "--latency", f"http://127.0.0.1:{port}/metrics"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        print(out.rstrip())
        print(f"listen-queue overflows during wrk: {listen_overflows() - before}")
        server.stop()
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
