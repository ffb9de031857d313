"""Run the trace service alone: `python -m collector.tracing --config FILE`.

The taps and the store without the rest of the collector (no HTTP server): for a dedicated tap
process, and for the kill -9 test. SIGTERM/SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from collector.config import load_config
from collector.tracing.service import TraceService


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collector.tracing")
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    service = TraceService(config)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    service.start()
    done.wait()
    service.stop(10.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
