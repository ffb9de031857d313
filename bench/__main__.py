"""Run the benchmarks, print the table, write bench/results.json.

    python -m bench                                   # everything (< 15 min on 2 cores)
    python -m bench --only kafka_poll --groups 100,1000 --runs 3
    python -m bench --only metrics_render --series 10000,50000

Benchmarks: kafka_start (the Apache Kafka node's start-up), kafka_poll (collector poll vs. the
bare confluent-kafka floor), metrics_render
(/metrics vs. prometheus-client's own rendering), trace (bench/trace_bench.py, by the tracing
engineer), dashboard_tti (headless Chromium, when bench/dashboard_tti.py exists),
alert_latency (demo fault -> webhook notification vs. scrape + for + evaluation).

Opt-in only (long; run with --only): soak (the demo at --rate-multiplier x its rate for
--minutes, memory and polls sampled), churn (thousands of consumer groups created and deleted,
collector memory per cycle).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.stats import Row, render_table

BENCHES = ("kafka_start", "kafka_poll", "metrics_render", "trace", "dashboard_tti", "alert_latency")
OPT_IN = ("soak", "churn")  # too long for the default set: only when named in --only
DEFAULT_OUT = Path(__file__).parent / "results.json"


def int_list(text: str) -> list[int]:
    """Positive integers separated by commas: '100,1000' -> [100, 1000]."""
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas: {text}")
    return values


def machine() -> dict[str, Any]:
    """nproc, CPU model, RAM and load: the context every figure needs."""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "load_avg_at_start": os.getloadavg(),
        "python": platform.python_version(),
    }


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument(
        "--only",
        default=None,
        help=f"comma list of {', '.join(BENCHES + OPT_IN)} (default: all but {', '.join(OPT_IN)})",
    )
    p.add_argument("--groups", type=int_list, default=[100, 1000], help="kafka_poll group counts")
    p.add_argument(
        "--series", type=int_list, default=[10_000, 50_000, 100_000], help="metrics_render sizes"
    )
    p.add_argument(
        "--kafka-broker",
        choices=("apache", "tansu"),
        default="apache",
        help="the broker the Kafka benchmarks run on (Apache Kafka unless told tansu)",
    )
    p.add_argument("--runs", type=int, default=3, help="runs per figure (fresh process each)")
    p.add_argument("--polls", type=int, default=3, help="measured polls per kafka_poll run")
    p.add_argument("--delay-ms", type=float, default=3.0, help="latency proxy delay, each way")
    p.add_argument("--minutes", type=float, default=30.0, help="soak: duration in minutes")
    p.add_argument(
        "--rate-multiplier", type=float, default=10.0, help="soak: times the demo's default rate"
    )
    p.add_argument(
        "--pipeline-nice",
        type=int,
        default=10,
        help="soak: nice value of the demo pipeline (the load generator; 0: same as the rest)",
    )
    p.add_argument(
        "--page-seconds",
        type=float,
        default=60.0,
        help="soak: one dashboard page visit every this many seconds (fresh browser context)",
    )
    p.add_argument(
        "--page-range",
        default="",
        help="soak: the dashboard time range the visits ask for (?range=, e.g. 5m; default 1h)",
    )
    p.add_argument("--churn-groups", type=int, default=2000, help="churn: groups per cycle")
    p.add_argument("--churn-cycles", type=int, default=10, help="churn: create/delete cycles")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON path")
    args = p.parse_args(argv)
    if args.runs < 1 or args.polls < 1 or args.delay_ms < 0:
        p.error("--runs and --polls must be >= 1 and --delay-ms >= 0")
    args.named = args.only is not None
    only = [b.strip() for b in (args.only or ",".join(BENCHES)).split(",") if b.strip()]
    unknown = sorted(set(only) - set(BENCHES + OPT_IN))
    if unknown:
        p.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHES + OPT_IN)}")
    args.only = only
    return args


def optional_bench(module: str, args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    """Run bench/<module>.py's `run(runs=...)`; a missing module is reported, never hidden."""
    try:
        mod = importlib.import_module(f"bench.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"bench.{module}":
            raise  # the module exists but one of its imports is missing: a real error
        message = f"bench/{module}.py does not exist: this benchmark was NOT run"
        print(f"[{module}] {message}", file=sys.stderr)
        return [], {"not_run": message}
    result = mod.run(runs=args.runs)
    if isinstance(result, tuple):
        rows, raw = result
        return list(rows), dict(raw)
    return list(result), {}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    results: dict[str, Any] = {"machine": machine(), "argv": sys.argv[1:], "benches": {}}
    rows: list[Row] = []
    missing: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="eventscope-bench-") as tmp:
        plan: dict[str, Callable[[], tuple[list[Row], dict[str, Any]]]] = {
            "kafka_start": lambda: optional_bench("kafka_start", args),
            "kafka_poll": lambda: _kafka_poll(args, Path(tmp)),
            "metrics_render": lambda: _metrics_render(args),
            "trace": lambda: optional_bench("trace_bench", args),
            "dashboard_tti": lambda: optional_bench("dashboard_tti", args),
            "alert_latency": lambda: optional_bench("alert_latency", args),
            "soak": lambda: _soak(args),
            "churn": lambda: _churn(args),
        }
        for name in args.only:
            t0 = time.monotonic()
            print(f"[{name}] running ...", file=sys.stderr, flush=True)
            load_before = os.getloadavg()
            bench_rows, raw = plan[name]()
            raw["wall_seconds"] = time.monotonic() - t0
            # other work on the machine moves wall times: keep the load next to the figures
            raw["load_avg_before"], raw["load_avg_after"] = load_before, os.getloadavg()
            results["benches"][name] = raw
            if "not_run" in raw:
                missing.append(name)
            rows.extend(bench_rows)
            print(f"[{name}] done in {raw['wall_seconds']:.0f} s", file=sys.stderr, flush=True)
    results["rows"] = [r.as_json() for r in rows]
    results["wall_seconds"] = time.monotonic() - started
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(render_table(rows))
    for name in missing:
        print(f"\nNOT RUN: {name} ({results['benches'][name]['not_run']})")
    print(f"\nwall time {results['wall_seconds']:.0f} s; results in {args.out}")
    # a benchmark asked for by name and missing is a failure; in the default set it is reported
    return 1 if missing and args.named else 0


def _kafka_poll(args: argparse.Namespace, workdir: Path) -> tuple[list[Row], dict[str, Any]]:
    from bench import kafka_poll

    return kafka_poll.run(
        args.groups, args.runs, args.polls, args.delay_ms, workdir, args.kafka_broker
    )


def _metrics_render(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    from bench import metrics_render

    return metrics_render.run(args.series, args.runs)


def _soak(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    from bench import soak

    return soak.run(
        minutes=args.minutes,
        multiplier=args.rate_multiplier,
        pipeline_nice=args.pipeline_nice,
        page_seconds=args.page_seconds,
        page_range=args.page_range,
    )


def _churn(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    from bench import churn

    return churn.run(groups=args.churn_groups, cycles=args.churn_cycles)


if __name__ == "__main__":
    sys.exit(main())
