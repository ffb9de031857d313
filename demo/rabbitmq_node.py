"""A self-contained RabbitMQ node for tests and demos: its own temp dir, its own ports, fast stats.

The machine's shared RabbitMQ (127.0.0.1:5672) belongs to everyone; tests that stop, restart or
reconfigure a broker start one of these instead. The node runs in the foreground as our own child
process (`ManagedProcess`), with every file under `workdir`:

    node = start_rabbitmq_node(Path("/tmp/x"))
    node.amqp_port, node.management_port, node.prometheus_port   # all on 127.0.0.1
    node.stop()

Stats are made fresh (~1 s instead of ~5 s): `collect_statistics_interval = 500` alone changes
nothing, the management sample retention policies must shrink too (see ENVIRONMENT.md).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from demo.services import ManagedProcess, ServiceError, free_port, require_free_port

# the scripts themselves, not /usr/sbin's wrappers (those switch to the rabbitmq user and
# would ignore our HOME, so the node and rabbitmqctl would not share the Erlang cookie)
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT_SECONDS = 40.0


@dataclass(frozen=True)
class ManagementTls:
    """PEM files for an https management listener (`management.ssl.*`)."""

    cacertfile: Path
    certfile: Path
    keyfile: Path


@dataclass
class RabbitMQNode:
    nodename: str
    workdir: Path
    amqp_port: int
    management_port: int
    prometheus_port: int
    dist_port: int
    env: dict[str, str]
    process: ManagedProcess
    management_tls_port: int | None = None
    username: str = "guest"
    password: str = "guest"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def amqp_url(self) -> str:
        return f"amqp://{self.username}:{self.password}@127.0.0.1:{self.amqp_port}/%2F"

    def rabbitmqctl(self, *args: str, timeout: float = 30.0) -> str:
        """Run `rabbitmqctl -n <this node> ARGS` and return its stdout; raise on failure."""
        done = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.nodename, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise ServiceError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def stop_management(self) -> None:
        """Stop only the management plugin: its HTTP listener goes away, AMQP keeps running."""
        self.rabbitmqctl("eval", "application:stop(rabbitmq_management).")

    def restart(self, graceful: bool = True) -> None:
        """Stop the node and start it again on the same ports, name and data directory.

        Durable queues and persistent (confirmed) messages survive; statistics such as
        `message_stats.publish` start again from zero, as after any broker restart.
        """
        self.stop(graceful)
        old = self.process
        self.process = ManagedProcess(old.name, old.argv, old.log_path, env=self.env).start()
        try:
            _wait_ready(self)
        except ServiceError:
            self.stop(graceful=False)
            raise

    def stop(self, graceful: bool = True) -> None:
        """Stop the node we started (and nothing else); idempotent.

        A graceful stop takes ~7 s (the node flushes its stores); tests whose data is throwaway
        pass `graceful=False`, which kills the node's process group at once.
        """
        if graceful and self.process.alive():
            with contextlib.suppress(ServiceError, subprocess.TimeoutExpired):
                self.rabbitmqctl("stop", timeout=30)
        self.process.stop(timeout=15 if graceful else 0.01)


def write_test_certificates(directory: Path) -> ManagementTls:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, made with `openssl`.

    For tests and demos only: the keys are unencrypted and valid for two days.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (
        directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem")
    )
    ext = directory / "server.ext"
    ext.write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    new_key = ["-newkey", "rsa:2048", "-nodes"]
    for argv in (
        [
            "req",
            "-x509",
            *new_key,
            "-keyout",
            ca_key,
            "-out",
            ca,
            "-days",
            "2",
            "-subj",
            "/CN=es CA",
        ],
        ["req", *new_key, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "2",
            "-extfile",
            ext,
        ],
    ):
        done = subprocess.run(
            ["openssl", *map(str, argv)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ServiceError(f"openssl {argv[0]} failed: {done.stderr.strip()}")
    return ManagementTls(cacertfile=ca, certfile=cert, keyfile=key)


def _config_text(
    amqp: int,
    management: int,
    prometheus: int,
    tls: ManagementTls | None,
    tls_port: int | None,
    extra: Sequence[str] = (),
) -> str:
    lines = [
        "loopback_users = none",
        f"listeners.tcp.default = 127.0.0.1:{amqp}",
        "management.tcp.ip = 127.0.0.1",
        f"management.tcp.port = {management}",
        "prometheus.tcp.ip = 127.0.0.1",
        f"prometheus.tcp.port = {prometheus}",
        # fresh stats: the interval alone changes nothing, the retention policies must follow
        "collect_statistics_interval = 500",
        "management.sample_retention_policies.global.minute = 1",
        "management.sample_retention_policies.basic.minute = 1",
        "management.sample_retention_policies.detailed.10 = 1",
        "vm_memory_high_watermark.relative = 0.2",
        "disk_free_limit.absolute = 50MB",
        "log.console = true",
        "log.console.level = warning",
        "log.file = false",
    ]
    if tls is not None and tls_port is not None:
        lines += [
            "management.ssl.ip = 127.0.0.1",
            f"management.ssl.port = {tls_port}",
            f"management.ssl.cacertfile = {tls.cacertfile}",
            f"management.ssl.certfile = {tls.certfile}",
            f"management.ssl.keyfile = {tls.keyfile}",
        ]
    return "\n".join([*lines, *extra]) + "\n"


def start_rabbitmq_node(
    workdir: Path,
    name: str = "",
    tls: ManagementTls | None = None,
    extra_config: Sequence[str] = (),
) -> RabbitMQNode:
    """Start a RabbitMQ node with management and prometheus plugins, all under `workdir`.

    `extra_config`: more `rabbitmq.conf` lines, e.g. `management.rates_mode = none`.

    Returns once the management API answers `/api/overview` for guest/guest and the AMQP
    listener answers a protocol header. Raises `ServiceError` with the node's log tail otherwise.
    """
    if not (RABBITMQ_BIN / "rabbitmq-server").exists():
        raise ServiceError(
            f"{RABBITMQ_BIN}/rabbitmq-server not found: install the Debian package rabbitmq-server"
        )
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    nodename = f"{name or 'es-' + uuid.uuid4().hex[:8]}@localhost"
    ports = {"amqp": free_port(), "management": free_port(), "prometheus": free_port()}
    ports["dist"] = free_port()
    tls_port = free_port() if tls is not None else None
    for what, port in ports.items():
        require_free_port(port, f"RabbitMQ {what}")
    conf = workdir / "rabbitmq.conf"
    conf.write_text(
        _config_text(
            ports["amqp"], ports["management"], ports["prometheus"], tls, tls_port, extra_config
        )
    )
    plugins = workdir / "enabled_plugins"
    plugins.write_text("[rabbitmq_management,rabbitmq_prometheus].\n")
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),  # the Erlang cookie lives here; rabbitmqctl must use the same HOME
        "RABBITMQ_NODENAME": nodename,
        "RABBITMQ_BASE": str(workdir),
        "RABBITMQ_CONFIG_FILE": str(conf),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
        "RABBITMQ_DIST_PORT": str(ports["dist"]),
    }
    process = ManagedProcess(
        f"rabbitmq-{nodename}",
        [str(RABBITMQ_BIN / "rabbitmq-server")],
        workdir / "rabbitmq-console.log",
        env=env,
    ).start()
    node = RabbitMQNode(
        nodename=nodename,
        workdir=workdir,
        amqp_port=ports["amqp"],
        management_port=ports["management"],
        prometheus_port=ports["prometheus"],
        dist_port=ports["dist"],
        env=env,
        process=process,
        management_tls_port=tls_port,
    )
    try:
        _wait_ready(node)
    except ServiceError:
        node.stop()
        raise
    return node


def _wait_ready(node: RabbitMQNode) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if not node.process.alive():
            raise ServiceError(f"RabbitMQ node exited during start:\n{node.process.log_tail()}")
        try:
            resp = requests.get(
                f"{node.management_url}/api/overview", auth=("guest", "guest"), timeout=1
            )
            if resp.status_code == 200 and _amqp_answers(node.amqp_port):
                return
            last = f"HTTP {resp.status_code}, AMQP not accepting yet"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise ServiceError(
        f"RabbitMQ node not ready after {START_TIMEOUT_SECONDS:.0f} s ({last}):\n"
        f"{node.process.log_tail()}"
    )


def _amqp_answers(port: int) -> bool:
    """True when the AMQP listener answers a protocol header with Connection.Start.

    The management API can answer while the node is still booting (after a restart it recovers
    queues first); AMQP connections are reset until then, so readiness needs both.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            return sock.recv(1) == b"\x01"  # frame type 1 = method frame (Connection.Start)
    except OSError:
        return False
