"""The latency proxy on loopback: bytes arrive intact, each way delayed at least as configured."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bench.latency_proxy import LatencyProxy

DELAY = 0.05


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A one-connection echo server on a free port."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                conn.sendall(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    server.close()


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data


def test_round_trip_is_intact_and_delayed_both_ways(echo_port):
    proxy = LatencyProxy(echo_port, DELAY).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            payload = bytes(range(256)) * 1024  # 256 KiB: several chunks through the proxy
            started = time.monotonic()
            sock.sendall(payload)
            echoed = recv_exactly(sock, len(payload))
            elapsed = time.monotonic() - started
        assert echoed == payload
        assert elapsed >= 2 * DELAY  # a round trip pays the delay once in each direction
    finally:
        proxy.stop()


def test_messages_in_flight_arrive_in_order_on_one_connection(echo_port):
    """Ten messages sent back to back all come back, in order, over one upstream connection."""
    proxy = LatencyProxy(echo_port, DELAY).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            for i in range(10):
                sock.sendall(f"msg{i};".encode())
            echoed = recv_exactly(sock, len(b"msg0;") * 10)
        assert echoed == b"".join(f"msg{i};".encode() for i in range(10))
        assert proxy.connections == 1
    finally:
        proxy.stop()
