"""The Kafka tap's ingest rate with the span export running beside it, against the tap alone.

    python -m bench.trace_export_bench [--runs 3 --events 200000]

Each run, back to back on the same topic (a private Tansu broker, `trace_bench`'s events): the
bare floor, the tap alone, then the tap with `SpanExport` sending OTLP/HTTP to a receiver in
another process (it reads each request and answers 200). Rates count from the first record
read to the last one stored; the export then catches up, and the time to the last span is
reported. CPU is per event for this whole process (tap threads, export thread, librdkafka).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from bench.trace_bench import Rate, bare_rate, clock_first_record, produce, tap_config, tap_rate
from collector.tracing import feeds
from collector.tracing.api import classes_of
from collector.tracing.kafka_tap import KafkaTap
from collector.tracing.metrics import TraceMetrics
from collector.tracing.otlp_wire import OtlpHttpSink
from collector.tracing.span_export import SpanExport
from collector.tracing.store import TraceStore
from demo.kafka_node import start_kafka
from demo.services import free_port

RECEIVER = textwrap.dedent("""
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args): pass
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
""")


def tap_with_export(
    bootstrap: str, topic: str, events: int, workdir: Path, endpoint: str
) -> tuple[Rate, float, int]:
    """(tap rate, seconds from the first record to the last span sent, spans sent)."""
    tracing, cluster = tap_config(bootstrap, topic, f"tapx-{uuid.uuid4().hex[:6]}")
    store = TraceStore(workdir / f"{uuid.uuid4().hex}.db", classes_of(tracing))
    metrics = TraceMetrics(lambda: store.hop_count)
    export = SpanExport(store, OtlpHttpSink(endpoint, "eventscope"), metrics)
    tap = KafkaTap(tracing, cluster, store, metrics, ())
    first = clock_first_record(tap)
    export.start()
    tap.start()
    deadline = time.monotonic() + 300
    while store.hop_count < events and time.monotonic() < deadline:
        time.sleep(0.002)
    elapsed, cpu = time.perf_counter() - first[0], time.process_time() - first[1]
    tap.stop(10)
    while export.hops_at < store.read(feeds.hop_end) and time.monotonic() < deadline:
        time.sleep(0.01)
    caught_up = time.perf_counter() - first[0]
    export.stop(10)
    store.close()
    return Rate(events / elapsed, cpu / events * 1e6), caught_up, metrics.spans_exported


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.trace_export_bench")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--events", type=int, default=200_000)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="trace-export-bench-") as tmp:
        workdir, rport = Path(tmp), free_port()
        receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(rport)])
        broker = start_kafka(workdir, name="kafka-export-bench")
        try:
            bootstrap, endpoint = broker.bootstrap, f"http://127.0.0.1:{rport}/v1/traces"
            produce(bootstrap, "bench.orders", args.events)
            for _ in range(args.runs):
                floor = bare_rate(bootstrap, "bench.orders", args.events)
                alone = tap_rate(bootstrap, "bench.orders", args.events, workdir)
                both, caught_up, spans = tap_with_export(
                    bootstrap, "bench.orders", args.events, workdir, endpoint
                )
                print(
                    f"floor {floor.per_second:,.0f}/s | tap {alone.per_second:,.0f}/s"
                    f" ({alone.cpu_us:.1f} us) | tap + export {both.per_second:,.0f}/s"
                    f" ({both.cpu_us:.1f} us) = {both.per_second / alone.per_second:.2f} of the"
                    f" tap alone | {spans:,} spans sent {caught_up:.1f} s after the first record",
                    flush=True,
                )
        finally:
            broker.stop()
            receiver.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
