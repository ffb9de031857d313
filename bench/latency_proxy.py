"""A TCP proxy adding a fixed delay to every chunk, each way, without limiting throughput.

`tc netem` is not available on these machines, so loopback has no latency; a broker "some
milliseconds away" is emulated by this proxy. It is *pipelined*: each chunk read is stamped with
`arrival + delay` and a separate writer task sends it at that time, so many requests in flight on
one connection each pay the delay once (as on a real network) instead of queueing behind each
other. A request/response round trip therefore costs at least `2 * delay`.

    proxy = LatencyProxy(target_port=9092, delay_seconds=0.003).start()   # own thread and loop
    ... clients connect to 127.0.0.1:proxy.port ...
    proxy.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

CHUNK_BYTES = 65536


class LatencyProxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port`, `delay_seconds` each way."""

    def __init__(
        self,
        target_port: int,
        delay_seconds: float,
        target_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.delay = delay_seconds
        self.port = listen_port
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> LatencyProxy:
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("latency proxy did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"latency proxy failed to start: {self._error}")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._loop = None

    # -- the event loop thread -------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._accept, "127.0.0.1", self.port)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except OSError as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_r, upstream_w = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            self._pipe(client_r, upstream_w),
            self._pipe(upstream_r, client_w),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read chunks as they come; a second task writes each one `delay` after it arrived."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._send_when_due(queue, writer))
        try:
            while True:
                chunk = await reader.read(CHUNK_BYTES)
                queue.put_nowait((time.monotonic() + self.delay, chunk))
                if not chunk:
                    break
        except (ConnectionError, OSError):
            queue.put_nowait((time.monotonic(), b""))
        await sender

    @staticmethod
    async def _send_when_due(
        queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                due, chunk = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:  # the other side closed: pass the close on, in order
                    break
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
