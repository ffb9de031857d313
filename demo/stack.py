"""`eventscope demo`: the embedded stack on 127.0.0.1, one command, Ctrl-C stops what it started.

Starts, in order: Apache Kafka (a single KRaft node; Tansu with `--kafka-broker tansu` or when
Java is missing), a RabbitMQ vhost on the local server, the demo
pipeline, with `--aws` moto's server and the order flow on EventBridge + SQS
(`demo.aws_pipeline`), the collector, Alertmanager (routing to the collector's webhook),
Prometheus (scraping the collector, with the rule pack from alerts/), and the dashboard. Every
port is checked before anything starts; a taken port is a clear error naming the flag that moves
it. The URLs and PIDs are written to `<workdir>/state.json` for `eventscope demo ctl` and tests.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from dashboard.settings import streamlit_argv, streamlit_env
from demo.aws_emulator import TEST_CREDENTIALS, start_moto
from demo.aws_stack import (
    AWS_PORTS,
    AWS_PREFIX,
    AWS_REGION,
    aws_cluster_config,
    aws_tracing_config,
)
from demo.kafka_node import kafka_available, kafka_version, start_kafka
from demo.services import (
    ManagedProcess,
    ServiceError,
    free_port,
    port_is_free,
    start_alertmanager,
    start_prometheus,
    start_tansu,
    wait_for_http,
)

log = logging.getLogger("eventscope.demo")
REPO = Path(__file__).resolve().parent.parent
DEMO_VHOST = "eventscope-demo"  # the demo's own vhost on the local RabbitMQ

PORTS = {  # flag name → default port
    "kafka_port": 9092,
    "collector_port": 9308,
    "prometheus_port": 9090,
    "alertmanager_port": 9093,
    "dashboard_port": 8501,
    "control_port": 9400,
}


def brokers(args: argparse.Namespace) -> set[str]:
    """What the demo runs on: Kafka and RabbitMQ (or the one `--only` names), plus AWS with
    `--aws`; `--only aws` is EventBridge + SQS alone."""
    chosen = {args.only} if args.only else {"kafka", "rabbitmq"}
    if getattr(args, "aws", False):
        chosen.add("aws")
    return chosen


@dataclass
class Stack:
    workdir: Path
    ports: dict[str, int]
    procs: list[ManagedProcess] = field(default_factory=list)
    management: str = ""
    vhost: str = ""  # the demo's own RabbitMQ vhost, removed again on stop

    kafka_broker: str = ""  # "apache" or "tansu", once chosen

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self) -> None:
        for proc in reversed(self.procs):
            log.info("stopping %s", proc.name)
            proc.stop()
        self.procs.clear()
        if self.vhost:
            drop_vhost(self.management, self.vhost)
            self.vhost = ""


def choose_ports(args: argparse.Namespace) -> dict[str, int]:
    """The configured ports (or free ones with --auto-ports), each checked before start."""
    ports: dict[str, int] = {}
    wanted = {**PORTS, **(AWS_PORTS if "aws" in brokers(args) else {})}
    for name, default in wanted.items():
        given = getattr(args, name, None)
        port = given or (free_port() if args.auto_ports else default)
        if not port_is_free(port):
            flag = "--" + name.replace("_", "-")
            raise ServiceError(
                f"port {port} ({name.replace('_port', '')}) is already in use on 127.0.0.1: "
                f"free it or pass {flag} PORT (or --auto-ports)"
            )
        ports[name] = port
    if len(set(ports.values())) != len(ports):
        raise ServiceError(f"two services were given the same port: {ports}")
    return ports


def collector_config(
    args: argparse.Namespace,
    ports: dict[str, int],
    amqp_vhost: str,
    workdir: Path,
    kafka_broker: str = "apache",
) -> str:
    clusters = []
    on = brokers(args)
    if "kafka" in on:
        clusters.append(
            f"""  - name: demo-kafka
    kind: kafka
    bootstrap_servers: 127.0.0.1:{ports["kafka_port"]}
    request_timeout_seconds: 3
    exclude_groups: [eventscope-tap]   # the collector's own trace tap is not a pipeline consumer
"""
        )
    if "rabbitmq" in on:
        clusters.append(
            f"""  - name: demo-rabbitmq
    kind: rabbitmq
    management_url: {args.rabbitmq_management}
    username: guest
    password: ${{EVENTSCOPE_DEMO_RABBITMQ_PASSWORD}}
    vhosts: [{amqp_vhost}]
    exclude_queues: ["amq.*", "eventscope.tap"]   # the trace tap's own queue
"""
        )
    if "aws" in on:
        clusters.append(aws_cluster_config(ports["aws_port"]))
    tracing = ["tracing:\n  enabled: true\n", f"  store_path: {workdir}/traces.db\n"]
    if "kafka" in on:
        tracing.append(
            '  kafka: {cluster: demo-kafka, topics: ["orders.*", "inventory.*", "payments.*"],'
            f" {tap_session(kafka_broker)}}}\n"
        )
    if "rabbitmq" in on:
        tracing.append(
            "  rabbitmq: {cluster: demo-rabbitmq, mode: firehose, exchanges: [events.dlx],"
            f" url: 'amqp://guest:${{EVENTSCOPE_DEMO_RABBITMQ_PASSWORD}}@127.0.0.1:5672/{amqp_vhost}'}}\n"
        )
    if "aws" in on:
        tracing.append(aws_tracing_config())
    return f"""# written by `eventscope demo`; see deploy/eventscope.example.yml for every key
poll_interval_seconds: {args.poll_interval}
listen: 127.0.0.1:{ports["collector_port"]}
webhook_history_path: {workdir}/alerts.db
status_window:
  commits: {status_window_polls(args.poll_interval)}
thresholds:
  messages: 500
  seconds: 120
  groups:
    - match: ml-training
      messages: 100
      seconds: 60
clusters:
{"".join(clusters)}{"".join(tracing)}"""


STATUS_WINDOW_SECONDS = 60.0  # three cycles of batch-analytics (sleeps 20 s, then drains)


def status_window_polls(poll_interval: float) -> int:
    """Polls in the status window: the default 10, or enough to span `STATUS_WINDOW_SECONDS`.

    A poller's window is polls, not commits (Burrow's), so it must outlast the slowest healthy
    consumer's commit cycle, or a batch consumer reads STALL while it sleeps. 2 s polls → 30.
    """
    return max(10, math.ceil(STATUS_WINDOW_SECONDS / poll_interval))


def tap_session(kafka_broker: str) -> str:
    """The trace tap's group timings: Apache Kafka's smallest accepted session, or Tansu's."""
    if kafka_broker == "tansu":
        return "session_timeout_ms: 2000, heartbeat_interval_ms: 500"
    return "session_timeout_ms: 6000, heartbeat_interval_ms: 2000"


def fill(template: Path, target: Path, values: dict[str, str]) -> Path:
    text = template.read_text()
    for key, value in values.items():
        text = text.replace(key, value)
    target.write_text(text)
    return target


def demo_rules(workdir: Path, cap_seconds: int) -> str:
    """Copy alerts/*.rules.yml with every `for:` capped, so the demo shows alerts within a minute.

    The production rules are unchanged; only the demo's copy waits at most `cap_seconds`.
    """
    out = workdir / "rules"
    out.mkdir(exist_ok=True)
    for src in sorted((REPO / "alerts").glob("*.rules.yml")):
        doc = yaml.safe_load(src.read_text())
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                if "for" in rule and duration_seconds(str(rule["for"])) > cap_seconds:
                    rule["for"] = f"{cap_seconds}s"
        (out / src.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(out / "*.rules.yml")


def duration_seconds(text: str) -> float:
    """Prometheus duration → seconds: `90s` → 90, `2m` → 120, `1h30m` → 5400."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|[smhdwy])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * units[u] for n, u in parts)


def management_auth() -> tuple[str, str]:
    """The demo's RabbitMQ management credentials (the password from the environment)."""
    return ("guest", os.environ.get("EVENTSCOPE_DEMO_RABBITMQ_PASSWORD", "guest"))


def ensure_vhost(management: str, vhost: str) -> None:
    """Create the demo's own vhost on the local RabbitMQ so its queues stay out of others' way."""
    auth = management_auth()
    try:
        # the firehose is on for the demo's vhost only: the trace tap reads publishes and
        # deliveries from it (its cost is fine at demo rates, see docs/tracing.md)
        requests.put(
            f"{management}/api/vhosts/{vhost}", json={"tracing": True}, auth=auth, timeout=10
        ).raise_for_status()
        requests.put(
            f"{management}/api/permissions/{vhost}/guest",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            auth=auth,
            timeout=10,
        ).raise_for_status()
    except requests.RequestException as exc:
        raise ServiceError(
            f"RabbitMQ management API at {management} is not usable ({exc}); run "
            "`rabbitmq-plugins enable rabbitmq_management` (make demo does it for you)"
        ) from exc


def drop_vhost(management: str, vhost: str) -> None:
    auth = management_auth()
    try:
        requests.delete(f"{management}/api/vhosts/{vhost}", auth=auth, timeout=10)
    except requests.RequestException as exc:
        log.warning("could not remove RabbitMQ vhost %s: %s", vhost, exc)


def python_proc(name: str, argv: list[str], stack: Stack, env: dict[str, str]) -> ManagedProcess:
    proc = ManagedProcess(name, [sys.executable, *argv], stack.workdir / f"{name}.log", env=env)
    stack.procs.append(proc.start())
    return proc


def start_stack(args: argparse.Namespace) -> Stack:
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(workdir, choose_ports(args))
    env = {**os.environ, "EVENTSCOPE_DEMO_RABBITMQ_PASSWORD": "guest", "PYTHONUNBUFFERED": "1"}
    on = brokers(args)
    if "aws" in on:  # the emulator takes any key; never let the demo reach a real account
        env = {k: v for k, v in env.items() if k != "AWS_PROFILE"}
        env.update({**TEST_CREDENTIALS, "AWS_DEFAULT_REGION": AWS_REGION})
    p = stack.ports
    try:
        if "rabbitmq" in on:
            ensure_vhost(args.rabbitmq_management, args.rabbitmq_vhost)
            stack.management, stack.vhost = args.rabbitmq_management, args.rabbitmq_vhost
        if "kafka" in on:
            start_kafka_broker(stack, args)
        if on & {"kafka", "rabbitmq"}:
            pipeline = [
                "-m", "demo.pipeline",
                "--kafka", f"127.0.0.1:{p['kafka_port']}",
                "--rabbitmq", f"amqp://guest:guest@127.0.0.1:5672/{args.rabbitmq_vhost}",
                "--control", f"127.0.0.1:{p['control_port']}",
                "--rate", str(args.rate),
                "--kafka-broker", stack.kafka_broker or "apache",
            ]  # fmt: skip
            if args.only:
                pipeline += ["--only", args.only]
            log.info("starting the demo pipeline")
            python_proc("pipeline", pipeline, stack, env)
        if "aws" in on:
            start_aws(stack, args, env)
        config = workdir / "eventscope.yml"
        vhost = args.rabbitmq_vhost
        config.write_text(collector_config(args, p, vhost, workdir, stack.kafka_broker))
        log.info("starting the collector on %s", stack.url("collector_port"))
        python_proc(
            "collector", ["-m", "collector.cli", "collect", "--config", str(config)], stack, env
        )
        am_config = fill(
            REPO / "deploy" / "alertmanager" / "alertmanager.demo.yml",
            workdir / "alertmanager.yml",
            {"__WEBHOOK_URL__": f"{stack.url('collector_port')}/api/alerts/webhook"},
        )
        log.info("starting Alertmanager on %s", stack.url("alertmanager_port"))
        stack.procs.append(start_alertmanager(am_config, p["alertmanager_port"], workdir))
        prom_config = fill(
            REPO / "deploy" / "prometheus" / "prometheus.demo.yml",
            workdir / "prometheus.yml",
            {
                "__COLLECTOR_TARGET__": f"127.0.0.1:{p['collector_port']}",
                "__ALERTMANAGER_TARGET__": f"127.0.0.1:{p['alertmanager_port']}",
                "__RULES_GLOB__": demo_rules(workdir, args.alert_for_cap),
            },
        )
        log.info("starting Prometheus on %s", stack.url("prometheus_port"))
        stack.procs.append(start_prometheus(prom_config, p["prometheus_port"], workdir))
        if not args.no_dashboard:
            dash_env = {
                **streamlit_env(env),
                "EVENTSCOPE_PROMETHEUS_URL": stack.url("prometheus_port"),
                "EVENTSCOPE_COLLECTOR_URL": stack.url("collector_port"),
                "EVENTSCOPE_ALERTMANAGER_URL": stack.url("alertmanager_port"),
            }
            log.info("starting the dashboard on %s", stack.url("dashboard_port"))
            argv = streamlit_argv("127.0.0.1", p["dashboard_port"])
            python_proc("dashboard", argv, stack, dash_env)
            wait_for_http(f"{stack.url('dashboard_port')}/_stcore/health", 60)
        wait_for_http(f"{stack.url('collector_port')}/healthz", 30)
    except BaseException:
        stack.stop()
        raise
    write_state(stack, on)
    return stack


def choose_kafka_broker(requested: str) -> tuple[str, str]:
    """(broker, why): Apache Kafka unless Tansu was asked for, or `auto` finds no way to run
    Apache Kafka here (no Java, jars not fetched)."""
    if requested == "tansu":
        return "tansu", "asked for with --kafka-broker tansu"
    missing = kafka_available()
    if missing is None:
        return "apache", "Java and the fetched jars are here"
    if requested == "apache":
        raise ServiceError(f"Apache Kafka cannot run here: {missing}")
    return "tansu", f"Apache Kafka cannot run here: {missing}"


def start_kafka_broker(stack: Stack, args: argparse.Namespace) -> None:
    broker, why = choose_kafka_broker(getattr(args, "kafka_broker", "auto"))
    port = stack.ports["kafka_port"]
    stack.kafka_broker = broker
    if broker == "tansu":
        log.info("starting Tansu (Kafka protocol, no Java) on 127.0.0.1:%d: %s", port, why)
        stack.procs.append(start_tansu(port, stack.workdir, name="kafka"))
        return
    log.info("starting Apache Kafka (single KRaft node) on 127.0.0.1:%d: %s", port, why)
    started = time.monotonic()
    node = start_kafka(stack.workdir, port=port, name="kafka")
    stack.procs.append(node.process)
    log.info("Apache Kafka ready in %.1f s (log: %s)", time.monotonic() - started, node.workdir)


def start_aws(stack: Stack, args: argparse.Namespace, env: dict[str, str]) -> None:
    """moto's server, then the order flow on EventBridge + SQS against it."""
    port = stack.ports["aws_port"]
    log.info("starting moto (AWS API emulator) on 127.0.0.1:%d", port)
    stack.procs.append(start_moto(port, stack.workdir))
    argv = [
        "-m", "demo.aws_pipeline",
        "--endpoint-url", f"http://127.0.0.1:{port}",
        "--prefix", AWS_PREFIX,
        "--rate", str(args.aws_rate),
        "--control", f"127.0.0.1:{stack.ports['aws_control_port']}",
    ]  # fmt: skip
    log.info("starting the demo pipeline on EventBridge + SQS")
    python_proc("aws-pipeline", argv, stack, env)
    wait_for_http(f"{stack.url('aws_control_port')}/status", 60)


def write_state(stack: Stack, on: set[str]) -> None:
    urls = {
        "dashboard": stack.url("dashboard_port"),
        "collector": stack.url("collector_port"),
        "metrics": f"{stack.url('collector_port')}/metrics",
        "prometheus": stack.url("prometheus_port"),
        "alertmanager": stack.url("alertmanager_port"),
        "control": stack.url("control_port"),
    }
    if not any(proc.name == "dashboard" for proc in stack.procs):  # --no-dashboard
        del urls["dashboard"]
    if "kafka" in on:
        urls["kafka"] = f"127.0.0.1:{stack.ports['kafka_port']}"
    if "aws" in on:
        urls["aws"] = stack.url("aws_port")
        urls["aws_control"] = stack.url("aws_control_port")
        if not on & {"kafka", "rabbitmq"}:  # the only pipeline: `demo ctl` turns its knobs
            urls["control"] = urls.pop("aws_control")
    state = {
        "urls": urls,
        "kafka_broker": stack.kafka_broker,
        "pids": {proc.name: proc.pid for proc in stack.procs},
        "started_at": time.time(),
    }
    (stack.workdir / "state.json").write_text(json.dumps(state, indent=2))


def kafka_label(broker: str) -> str:
    if broker == "tansu":
        return "Tansu, the no-Java fallback"
    return f"Apache Kafka {kafka_version()}"


def print_urls(stack: Stack) -> None:
    state = json.loads((stack.workdir / "state.json").read_text())
    urls = state["urls"]
    print("\neventscope demo is running (Ctrl-C stops everything it started):\n", flush=True)
    for label, key in (
        ("Dashboard", "dashboard"),
        ("Collector /metrics", "metrics"),
        ("Prometheus", "prometheus"),
        ("Alertmanager", "alertmanager"),
        ("Demo control", "control"),
        (f"Kafka bootstrap ({kafka_label(state.get('kafka_broker', ''))})", "kafka"),
        ("AWS (moto) endpoint", "aws"),
        ("AWS control", "aws_control"),
    ):
        if key in urls:
            print(f"  {label:<42} {urls[key]}", flush=True)
    print(
        "\nBreak it on purpose:  eventscope demo ctl stop payment-service   (see --help)\n"
        f"Logs: {stack.workdir}/*.log\n",
        flush=True,
    )


def run_demo(args: argparse.Namespace) -> int:
    if getattr(args, "demo_command", None) == "ctl":
        from demo.control_cli import run_ctl

        return run_ctl(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stack = start_stack(args)
    except ServiceError as exc:
        print(f"eventscope demo: {exc}", file=sys.stderr)
        return 1
    print_urls(stack)
    try:
        while not stop.wait(2):
            dead = [p.name for p in stack.procs if not p.alive()]
            if dead:
                print(f"eventscope demo: {', '.join(dead)} exited; see its log in {stack.workdir}")
                return 1
    finally:
        stack.stop()
        print("eventscope demo stopped.", flush=True)
    return 0
