"""A single-node Apache Kafka (KRaft, broker + controller in one JVM) for the demo and the tests.

The jars come from Maven Central, pinned in `deploy/kafka/pom.xml` and fetched once by
`deploy/kafka/fetch.sh` (`make setup` runs it) into `.eventscope/kafka/<version>/lib`. A node
lives in its own directory, on ports checked free first, as our own child process:

    node = start_kafka(Path("/tmp/k"))          # ~3-5 s on 2 cores, ready by a metadata request
    node.bootstrap                              # "127.0.0.1:PORT"
    node.stop()                                 # SIGTERM: a clean controlled shutdown

Storage is formatted by Kafka's own storage tool; logs go to `<dir>/server.log` through a
log4j2 config of ours. The settings below keep a single node honest (replication factor 1 for
the internal topics) and quick in tests (no initial rebalance delay); anything else is Apache
Kafka's default unless the caller passes `overrides`.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from demo.services import ManagedProcess, ServiceError, free_port, require_free_port

REPO = Path(__file__).resolve().parent.parent
POM = REPO / "deploy" / "kafka" / "pom.xml"
START_TIMEOUT_SECONDS = 60.0
HEAP = "-Xmx512m"  # measured: a test node with ~1,000 groups peaks well under this

# a single node cannot replicate: every internal topic gets replication factor 1
SINGLE_NODE = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "10",  # 50 by default: slower first commit, nothing gained
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "4",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",  # a new group forms at once, not after 3 s
}
SASL_USERS_DEFAULT = {"admin": "admin-secret"}


def kafka_version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if match is None:
        raise ServiceError(f"no <kafka.version> in {POM}")
    return match.group(1)


def kafka_lib_dir() -> Path:
    return REPO / ".eventscope" / "kafka" / kafka_version() / "lib"


def kafka_available() -> str | None:
    """None when Apache Kafka can run here; otherwise the reason it cannot (for the demo's
    fallback to Tansu and its message)."""
    if shutil.which("java") is None:
        return "no `java` on PATH (apt-get install openjdk-17-jre-headless)"
    if not (kafka_lib_dir().parent / ".complete").exists():
        return f"Apache Kafka {kafka_version()} is not fetched yet (run deploy/kafka/fetch.sh)"
    return None


def ensure_kafka() -> None:
    """Fetch the jars (and a JRE when missing) through deploy/kafka/fetch.sh, once."""
    if kafka_available() is None:
        return
    done = subprocess.run(
        ["bash", str(REPO / "deploy" / "kafka" / "fetch.sh")], capture_output=True, text=True
    )
    if done.returncode != 0 or kafka_available() is not None:
        raise ServiceError(f"Apache Kafka could not be fetched: {done.stderr.strip()[-800:]}")


@dataclass
class KafkaNode:
    """A running single-node Apache Kafka; `bootstrap` is its PLAINTEXT listener."""

    workdir: Path
    port: int
    controller_port: int
    process: ManagedProcess
    sasl_port: int | None = None
    sasl_users: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        if self.sasl_port is None:
            raise ServiceError("this node has no SASL listener")
        return f"127.0.0.1:{self.sasl_port}"

    def alive(self) -> bool:
        return self.process.alive()

    def stop(self, timeout: float = 30.0) -> None:
        self.process.stop(timeout)

    def log_tail(self, lines: int = 30) -> str:
        return self.process.log_tail(lines)


def server_properties(
    workdir: Path,
    port: int,
    controller_port: int,
    advertised_port: int | None = None,
    sasl_port: int | None = None,
    sasl_users: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The node's server.properties as a dict (pure: tests read it)."""
    listeners = [f"PLAINTEXT://127.0.0.1:{port}", f"CONTROLLER://127.0.0.1:{controller_port}"]
    advertised = [f"PLAINTEXT://127.0.0.1:{advertised_port or port}"]
    protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(workdir / "data"),
        **SINGLE_NODE,
    }
    if sasl_port is not None:
        users = dict(sasl_users or SASL_USERS_DEFAULT)
        listeners.append(f"SASL_PLAINTEXT://127.0.0.1:{sasl_port}")
        advertised.append(f"SASL_PLAINTEXT://127.0.0.1:{sasl_port}")
        protocols.append("SASL_PLAINTEXT:SASL_PLAINTEXT")
        accounts = " ".join(f'user_{u}="{p}"' for u, p in sorted(users.items()))
        props.update(
            {
                "sasl.enabled.mechanisms": "PLAIN",
                "listener.name.sasl_plaintext.plain.sasl.jaas.config": (
                    "org.apache.kafka.common.security.plain.PlainLoginModule required "
                    f'username="admin" password="{users["admin"]}" {accounts};'
                ),
                # ACLs are enforced; the PLAINTEXT listener (ANONYMOUS: the node itself, the
                # tests' own clients) and `admin` may do anything, SASL users only what is granted
                "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "super.users": "User:admin;User:ANONYMOUS",
            }
        )
    props["listeners"] = ",".join(listeners)
    props["advertised.listeners"] = ",".join(advertised)
    props["listener.security.protocol.map"] = ",".join(protocols)
    props.update(overrides or {})
    return props


LOG4J2 = """Configuration:
  status: warn
  Appenders:
    RollingFile:
      name: server
      fileName: "{log}"
      filePattern: "{log}.%i"
      PatternLayout: {{pattern: "[%d] %p %m (%c)%n"}}
      SizeBasedTriggeringPolicy: {{size: 20MB}}
      DefaultRolloverStrategy: {{max: 2}}
  Loggers:
    Root: {{level: INFO, AppenderRef: [{{ref: server}}]}}
    Logger:
      - {{name: kafka.request.logger, level: WARN}}
      - {{name: org.apache.kafka.controller, level: WARN}}
      - {{name: state.change.logger, level: WARN}}
"""


def start_kafka(
    workdir: Path,
    port: int | None = None,
    name: str = "kafka",
    advertised_port: int | None = None,
    sasl: bool = False,
    sasl_users: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
) -> KafkaNode:
    """Format a fresh log dir under `workdir/name` and start the node; ready when a metadata
    request lists the broker. `advertised_port` sends clients elsewhere (a latency proxy)."""
    ensure_kafka()
    port = port or free_port()
    require_free_port(port, name)
    controller_port = free_port()
    sasl_port = free_port() if sasl else None
    home = workdir / name
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    props = server_properties(
        home, port, controller_port, advertised_port, sasl_port, sasl_users, overrides
    )
    (home / "server.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    (home / "log4j2.yaml").write_text(LOG4J2.format(log=home / "server.log"))
    classpath = f"{kafka_lib_dir()}/*"
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    formatted = subprocess.run(
        ["java", "-cp", classpath, "kafka.tools.StorageTool", "format", "--standalone",
         f"--cluster-id={cluster_id}", "-c", str(home / "server.properties")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if formatted.returncode != 0:
        raise ServiceError(f"{name}: formatting storage failed: {formatted.stderr.strip()}")
    proc = ManagedProcess(
        name,
        [*orphan_guard(), "java", HEAP, "-Xms128m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
         f"-Dlog4j2.configurationFile={home / 'log4j2.yaml'}",
         "-cp", classpath, "kafka.Kafka", str(home / "server.properties")],
        home / "stdout.log",
    ).start()  # fmt: skip
    node = KafkaNode(home, port, controller_port, proc, sasl_port, dict(sasl_users or {}))
    try:
        wait_for_metadata(node, timeout)
    except ServiceError:
        node.stop()
        raise
    return node


def orphan_guard() -> list[str]:
    """`setpriv --pdeathsig TERM`: the node stops when the process that started it dies, even
    by SIGKILL or a crash (test runs that died that way left 20+ nodes of 350 MB behind). The
    signal follows the *thread* that started it: every caller starts nodes from its main
    thread. Without util-linux's setpriv the node simply lives until `stop()`."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


def restart_kafka(node: KafkaNode, timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Start a stopped node again on the same ports and data (what a broker restart is)."""
    if node.alive():
        raise ServiceError("the node is still running")
    node.process.start()
    wait_for_metadata(node, timeout)


def wait_for_metadata(node: KafkaNode, timeout: float) -> None:
    """Ready = a real Metadata request answers with this broker (not merely an open port)."""
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout
    while not port_is_open(node.port):  # a client made earlier would log every refused connect
        if not node.alive():
            raise ServiceError(f"{node.process.name} exited:\n{broker_log_tail(node)}")
        if time.monotonic() > deadline:
            raise ServiceError(f"{node.process.name}: nothing listens on {node.bootstrap}")
        time.sleep(0.1)
    quiet = logging.getLogger("eventscope.kafka_node.ready")
    quiet.setLevel(logging.CRITICAL)
    admin = AdminClient(
        {"bootstrap.servers": node.bootstrap, "socket.timeout.ms": 2000}, logger=quiet
    )
    last = "no answer"
    while time.monotonic() < deadline:
        if not node.alive():
            raise ServiceError(f"{node.process.name} exited:\n{broker_log_tail(node)}")
        try:
            md = admin.list_topics(timeout=1.0)
            if md.brokers:
                return
        except Exception as exc:  # retried until the deadline
            last = str(exc)
        time.sleep(0.2)
    raise ServiceError(f"{node.process.name} not ready after {timeout:.0f} s ({last})")


def port_is_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def broker_log_tail(node: KafkaNode, lines: int = 30) -> str:
    text = node.log_tail(lines)
    log = node.workdir / "server.log"
    if log.exists():
        text += "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return text
