"""The Kafka tap with its consume side in a process of its own (`kafka.reader: process`, the
default), so that reading and parsing records and storing them run on two cores.

In one process the tap's two threads take turns at the GIL: the consume thread's Python (read
each record, parse its headers) and the writer's (bind rows, walk journeys) add up instead of
overlapping (docs/tracing.md, "Where the time goes, by thread"). Here the consume side is the
same `KafkaTap` code in a spawned child; only its writer is replaced by the pipe:

    collector process (KafkaTapProcess)              reader process (spawned)
                                                       kafka-tap: consume(batch_size) → rows
      receive thread  ◄──── batch (seq, rows) ─────    forward thread (at most WINDOW unacked)
      writer thread: store.insert_rows, one
        transaction per group of batches
                      ───── ack (seq, stored?) ───►    ack thread → the tap's done queue
                                                       kafka-tap: commit offsets of stored
                                                         batches, in order; seek back to the
                                                         first failed one

The guarantees are the in-process tap's: a batch's offsets are committed only after the
collector's store committed it, so a kill of either process re-reads, never loses, and the
store's idempotent insert drops what it already holds. The reader exits when the pipe closes
(the collector died: nothing more is committed) and ignores SIGINT: the collector stops it,
and it then commits what was stored and leaves the group (SIGTERM kills it at once, which
loses nothing either). A reader that dies is started again after a second. Skipped-record
counts, the tap's lag and the reader's log lines travel up the pipe to the collector's metrics
and log.

Cost: a second Python process (about 45 MiB resident) and pickling the rows (about 1 us a row
both ways together).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from collector.config import KafkaCluster
from collector.memory import limit_malloc_arenas
from collector.tracing.config import TracingConfig
from collector.tracing.kafka_tap import Batch, KafkaTap, next_group, store_group
from collector.tracing.metrics import TraceMetrics
from collector.tracing.store import IngestResult, TraceStore

log = logging.getLogger("collector.tracing.kafka_tap")

WINDOW = 8  # batches sent to the collector and not acknowledged yet (the tap's read-ahead)
RESTART_SECONDS = 1.0
STOP_SECONDS = 30.0  # for a stopping reader to commit what was stored and leave the group
STOP_GRACE_SECONDS = 1.0


class _Pipe:
    """One end of the pipe, safe to send on from several threads."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            self.conn.send(message)


# -- the reader process ------------------------------------------------------------------------


class _MetricsUp:
    """What the consume side reports (skipped records, the tap's lag), sent to the collector."""

    def __init__(self, pipe: _Pipe) -> None:
        self.pipe = pipe

    def count_skipped(self, reason: str, n: int = 1) -> None:
        self.pipe.send(("metric", "count_skipped", (reason, n)))

    def set_tap_lag(self, broker: str, cluster: str, messages: int) -> None:
        self.pipe.send(("metric", "set_tap_lag", (broker, cluster, messages)))


class _LogUp(logging.Handler):
    """The reader's log records, sent to the collector's log (level, logger name, message)."""

    def __init__(self, pipe: _Pipe) -> None:
        super().__init__()
        self.pipe = pipe

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # the collector is gone: nothing to tell
            self.pipe.send(("log", record.levelno, record.name, record.getMessage()))


class _ReaderTap(KafkaTap):
    """The in-process tap's consume thread as it is; its writer thread forwards batches up
    the pipe instead of storing them, and `listen` turns the collector's acks into the done
    batches the consume thread commits."""

    def __init__(self, pipe: _Pipe, tracing: TracingConfig, cluster: KafkaCluster,
                 dlq_patterns: Sequence[str]) -> None:  # fmt: skip
        metrics: Any = _MetricsUp(pipe)
        super().__init__(tracing, cluster, None, metrics, dlq_patterns)  # type: ignore[arg-type]
        self.pipe = pipe
        self._window = threading.Semaphore(WINDOW)
        self._sent: dict[int, Batch] = {}
        self._sent_lock = threading.Lock()

    def _write_loop(self) -> None:
        seq = 0
        while (batch := self._pending.get()) is not None:
            if self._write_failed.is_set():  # an earlier batch failed: these are re-read
                batch.failed = True
                self._done.put(batch)
                continue
            self._window.acquire()
            with self._sent_lock:
                self._sent[seq] = batch
            self.pipe.send(("batch", seq, batch))
            seq += 1

    def listen(self) -> None:
        """The collector's messages: acks, and "stop" (acks still come after it, for the
        batches in flight). The pipe closing before "stop" means the collector died: exit at
        once, committing nothing more."""
        while True:
            try:
                message = self.pipe.conn.recv()
            except (EOFError, OSError):
                if not self._stop.is_set():
                    os._exit(1)
                return
            if message[0] == "ack":
                _, seq, stored = message
                with self._sent_lock:
                    batch = self._sent.pop(seq)
                if not stored:
                    batch.failed = True
                    self._write_failed.set()
                self._done.put(batch)
                self._window.release()
            elif message[0] == "stop":
                self._stop.set()


def reader_main(conn: Connection, tracing: TracingConfig, cluster: KafkaCluster,
                dlq_patterns: Sequence[str], levels: dict[str, int]) -> None:  # fmt: skip
    """The reader process: run the tap's consume side until the collector says stop, then
    let it commit what was stored, leave the group and say so."""
    # Ctrl-C reaches the whole process group: the collector decides when the reader stops.
    # SIGTERM keeps its default: dying at once is safe (stored batches are re-read, deduplicated).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_malloc_arenas()
    pipe = _Pipe(conn)
    root = logging.getLogger()
    root.handlers[:] = [_LogUp(pipe)]
    for name, level in levels.items():  # the collector's levels: what it drops is not sent
        logging.getLogger(name or None).setLevel(level)
    tap = _ReaderTap(pipe, tracing, cluster, dlq_patterns)
    threading.Thread(target=tap.listen, name="kafka-tap-acks", daemon=True).start()
    tap.start()
    tap._stop.wait()
    tap.stop(timeout=STOP_SECONDS)  # joins the consume thread: every stored batch committed
    pipe.send(("closed",))


# -- the collector's side ----------------------------------------------------------------------


class KafkaTapProcess:
    """The Kafka tap with its reader in a child process (module doc); same interface as
    `KafkaTap`: start(), stop(timeout)."""

    def __init__(
        self,
        tracing: TracingConfig,
        cluster: KafkaCluster,
        store: TraceStore,
        metrics: TraceMetrics,
        dlq_patterns: Sequence[str],
        on_stored: Callable[[IngestResult], None] | None = None,
    ) -> None:
        self.tracing, self.cluster, self.store, self.metrics = tracing, cluster, store, metrics
        self.dlq_patterns = tuple(dlq_patterns)
        self.on_stored = on_stored
        self._stop = threading.Event()
        self._pending: queue.Queue[_Sent | None] = queue.Queue()
        self._supervisor: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self.first_batch_at: float | None = None  # perf_counter of the first rows (benchmarks)

    @property
    def reader_pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        self._writer = threading.Thread(target=self._write_loop, name="kafka-tap-writer",
                                        daemon=True)  # fmt: skip
        self._writer.start()
        self._supervisor = threading.Thread(target=self._supervise, name="kafka-tap", daemon=True)
        self._supervisor.start()

    def stop(self, timeout: float) -> None:
        """Tell the reader to stop and keep storing what it still sends, so it commits that
        and leaves the group; a reader not gone within `timeout` is killed."""
        self._stop.set()
        self._send_stop()
        if self._supervisor is not None:
            self._supervisor.join(timeout + STOP_GRACE_SECONDS)
        self._pending.put(None)
        if self._writer is not None:
            self._writer.join(timeout)

    def _send_stop(self) -> None:
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):  # already gone
                conn.send(("stop",))

    # -- threads ---------------------------------------------------------------------------

    def _supervise(self) -> None:
        """Run the reader and receive its messages; start it again when it dies."""
        while not self._stop.is_set():
            self._run_reader()
            if not self._stop.is_set():
                self._stop.wait(RESTART_SECONDS)

    def _run_reader(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # never fork a process with threads
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=reader_main,
            args=(child, self.tracing, self.cluster, self.dlq_patterns, log_levels()),
            name=f"eventscope-kafka-reader-{self.cluster.name}",
            daemon=True,
        )
        proc.start()
        child.close()  # the reader's end must close with the reader alone
        self._proc, self._conn = proc, parent
        if self._stop.is_set():  # stopped while starting: the stop may have missed it
            self._send_stop()
        try:
            self._receive(parent)
        finally:
            proc.join(STOP_SECONDS if self._stop.is_set() else STOP_GRACE_SECONDS)
            if proc.is_alive():
                proc.kill()
                proc.join()
            if not self._stop.is_set():
                log.error("kafka tap on %s: the reader process exited (code %s); starting it "
                          "again", self.cluster.name, proc.exitcode)  # fmt: skip
            self._conn = None
            parent.close()

    def _receive(self, conn: Connection) -> None:
        """The reader's messages until it has closed (after a stop) or died."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            kind = message[0]
            if kind == "batch":
                if self.first_batch_at is None and message[2].rows:
                    self.first_batch_at = time.perf_counter()
                self._pending.put(_Sent(conn, message[1], message[2]))
            elif kind == "metric":
                getattr(self.metrics, message[1])(*message[2])
            elif kind == "log":  # under the reader's logger name: the same levels apply
                logging.getLogger(message[2]).log(message[1], "[reader] %s", message[3])
            elif kind == "closed":
                return

    def _write_loop(self) -> None:
        """Store what the reader sent, a group of batches per transaction, and acknowledge
        each batch, stored or not, to the reader that sent it (a restarted reader re-reads
        what its predecessor had not committed)."""
        stopping = False
        while not stopping and (got := next_group(self._pending, _sent_rows)) is not None:
            group, stopping = got
            stored = store_group(self.store, self.metrics, self.cluster.name,
                                 [s.batch for s in group], self.on_stored)  # fmt: skip
            for sent in group:
                with contextlib.suppress(OSError, ValueError):  # that reader is gone
                    sent.conn.send(("ack", sent.seq, stored))


def log_levels() -> dict[str, int]:
    """The levels set in this process (root is ""), for a spawned reader to log the same."""
    loggers = logging.Logger.manager.loggerDict.items()
    levels = {n: lg.level for n, lg in loggers if isinstance(lg, logging.Logger) and lg.level}
    return {"": logging.getLogger().level, **levels}


@dataclass(frozen=True)
class _Sent:
    conn: Connection
    seq: int
    batch: Batch


def _sent_rows(sent: _Sent) -> int:
    return len(sent.batch.rows)
