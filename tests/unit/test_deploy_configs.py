"""deploy/: Prometheus configs, the compose stack, the Dockerfile and the systemd units, each
checked by the real tool that will read it, offline.

- `promtool check config` on the production prometheus.yml (with the repo's alerts/ rules) and
  on the demo template once filled the way the demo fills it.
- `docker-compose config` (Compose 1.29, Debian package docker-compose) on deploy/compose.yaml;
  no container engine is needed or used, so nothing is pulled, built or run.
- The Dockerfile is parsed (no Docker build here): non-root USER, HEALTHCHECK, and its health
  command is run against a live and a dead /healthz.
- `systemd-analyze verify` on the units.
- Every eventscope command line in deploy/ parses with the real CLI parser.

A missing tool fails these tests (apt-get install prometheus docker-compose systemd).
"""

from __future__ import annotations

import http.server
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.cli import build_parser
from collector.config import load_config
from demo.pipeline.__main__ import parse_args as parse_pipeline_args
from demo.services import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM_PROD = DEPLOY / "prometheus" / "prometheus.yml"
PROM_DEMO = DEPLOY / "prometheus" / "prometheus.demo.yml"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
RULE_FILES = sorted((ROOT / "alerts").glob("*.rules.yml"))
MISSING_VENV_BINARY = "Command /opt/eventscope/bin/eventscope is not executable"


def tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed ({hint})")
    return path


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


def promtool_check_config(path: Path) -> subprocess.CompletedProcess[str]:
    promtool = tool("promtool", "apt-get install prometheus")
    return run(promtool, "check", "config", str(path))


# -- Prometheus ------------------------------------------------------------------------------


def test_production_prometheus_config_loads_the_alert_rules_of_the_repo(tmp_path: Path) -> None:
    assert RULE_FILES, "alerts/*.rules.yml: no rule files"
    config = yaml.safe_load(PROM_PROD.read_text())
    assert config["rule_files"] == ["/etc/eventscope/alerts/*.rules.yml"]
    # Same file, rules taken from the checkout instead of /etc: promtool checks them too.
    text = PROM_PROD.read_text().replace(
        "/etc/eventscope/alerts/*.rules.yml", str(ROOT / "alerts" / "*.rules.yml")
    )
    (tmp_path / "prometheus.yml").write_text(text)
    result = promtool_check_config(tmp_path / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout
    assert result.stdout.count("rules found") == len(RULE_FILES)


def test_production_prometheus_config_as_shipped_is_valid() -> None:
    result = promtool_check_config(PROM_PROD)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_config_scrapes_the_collectors_as_job_eventscope() -> None:
    config = yaml.safe_load(PROM_PROD.read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "eventscope"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["eventscope-collector:9308"]
    assert job["file_sd_configs"], "many collectors: one file_sd file per shard"
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]


def fill_demo_template(text: str, collector: str, alertmanager: str, rules_glob: str) -> str:
    """The demo's own substitution (documented at the top of prometheus.demo.yml)."""
    return (
        text.replace("__COLLECTOR_TARGET__", collector)
        .replace("__ALERTMANAGER_TARGET__", alertmanager)
        .replace("__RULES_GLOB__", rules_glob)
    )


def test_demo_template_once_filled_is_valid_and_fast(tmp_path: Path) -> None:
    template = PROM_DEMO.read_text()
    settings = "\n".join(line for line in template.splitlines() if not line.startswith("#"))
    for placeholder in ("__COLLECTOR_TARGET__", "__ALERTMANAGER_TARGET__", "__RULES_GLOB__"):
        assert settings.count(placeholder) == 1, placeholder
    filled = fill_demo_template(
        template, "127.0.0.1:19308", "127.0.0.1:19093", str(ROOT / "alerts" / "*.rules.yml")
    )
    (tmp_path / "prometheus.yml").write_text(filled)
    result = promtool_check_config(tmp_path / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout
    config = yaml.safe_load(filled)
    assert config["global"]["scrape_interval"] == "5s"
    assert config["global"]["evaluation_interval"] == "5s"
    assert config["scrape_configs"][0]["job_name"] == "eventscope"
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:19308"]


def test_demo_template_is_refused_until_filled() -> None:
    assert promtool_check_config(PROM_DEMO).returncode != 0


# -- Compose ---------------------------------------------------------------------------------


def compose_config(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    compose = tool("docker-compose", "apt-get install --no-install-recommends docker-compose")
    return run(compose, "-f", str(path), "config", env={"PATH": "/usr/bin:/bin", **env})


@pytest.fixture(scope="module")
def compose_resolved() -> dict[str, Any]:
    result = compose_config(COMPOSE, {"RABBITMQ_PASSWORD": "s3cret"})
    assert result.returncode == 0, result.stderr
    resolved: dict[str, Any] = yaml.safe_load(result.stdout)
    return resolved


def test_compose_stack_has_every_part_of_the_issue(compose_resolved: dict[str, Any]) -> None:
    services = compose_resolved["services"]
    assert set(services) == {
        "kafka", "rabbitmq", "prometheus", "alertmanager", "jaeger",
        "eventscope-collector", "eventscope-dashboard", "demo-pipeline",
    }  # fmt: skip
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    assert services["rabbitmq"]["image"] == "rabbitmq:3-management"
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    pipeline = services["demo-pipeline"]
    assert pipeline["entrypoint"] == ["python", "-m", "demo.pipeline"]
    assert "--kafka=kafka:9092" in pipeline["command"]
    assert "--rabbitmq=amqp://eventscope:s3cret@rabbitmq:5672/%2F" in pipeline["command"]


def test_compose_publishes_ports_on_loopback_only(compose_resolved: dict[str, Any]) -> None:
    published = [
        (name, port)
        for name, service in compose_resolved["services"].items()
        for port in service.get("ports", [])
    ]
    assert published
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), (name, port)


def test_compose_prometheus_targets_are_the_compose_services(
    compose_resolved: dict[str, Any],
) -> None:
    config = yaml.safe_load(PROM_PROD.read_text())
    hosts = {
        target.rsplit(":", 1)[0]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    } | {"alertmanager"}
    assert hosts <= set(compose_resolved["services"])
    mounts = compose_resolved["services"]["prometheus"]["volumes"]
    assert any(m.endswith(":/etc/eventscope/alerts:ro") for m in mounts)


def test_compose_needs_a_rabbitmq_password_and_has_no_default() -> None:
    result = compose_config(COMPOSE, {})
    assert result.returncode != 0
    assert "set RABBITMQ_PASSWORD" in result.stderr


def test_compose_validator_rejects_an_unknown_key(tmp_path: Path) -> None:
    # The check above is only worth something if the same tool refuses a broken file.
    broken = COMPOSE.read_text().replace("    healthcheck:\n", "    healthchek:\n", 1)
    (tmp_path / "compose.yaml").write_text(broken)
    result = compose_config(tmp_path / "compose.yaml", {"RABBITMQ_PASSWORD": "x"})
    assert result.returncode != 0
    assert "healthchek" in result.stderr


def test_compose_collector_config_is_accepted_by_the_collector() -> None:
    config = load_config(
        DEPLOY / "compose.eventscope.yml", env={"RABBITMQ_USER": "u", "RABBITMQ_PASSWORD": "p"}
    )
    assert {c.kind for c in config.clusters} == {"kafka", "rabbitmq"}
    assert config.listen == "0.0.0.0:9308"


# -- Dockerfile (parsed; not built here: no container engine on this machine) ---------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def test_dockerfile_runs_as_a_non_root_user_from_python_slim() -> None:
    stage = final_stage()
    assert stage[0] == ("FROM", "python:3.11-slim")
    users = [arg for op, arg in stage if op == "USER"]
    assert users, "no USER: the image would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0, users[-1]
    entrypoint = [yaml.safe_load(arg) for op, arg in stage if op == "ENTRYPOINT"]
    cmd = [yaml.safe_load(arg) for op, arg in stage if op == "CMD"]
    assert entrypoint == [["eventscope"]]
    assert cmd[-1][:3] == ["collect", "--config", "/etc/eventscope/eventscope.yml"]


def test_dockerfile_copies_only_files_that_exist() -> None:
    for op, arg in dockerfile_instructions():
        if op == "COPY" and not arg.startswith("--from"):
            for source in arg.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


class _Healthz(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def healthz_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_dockerfile_healthcheck_passes_on_healthz_and_fails_without_it(
    healthz_server: int,
) -> None:
    stage = final_stage()
    (health,) = [arg for op, arg in stage if op == "HEALTHCHECK"]
    argv = yaml.safe_load(health[health.index("CMD") + 3 :].strip())
    assert argv[0] == "python"
    env_lines = " ".join(arg for op, arg in stage if op == "ENV")
    assert "EVENTSCOPE_HEALTH_URL=http://127.0.0.1:9308/healthz" in env_lines
    python = sys.executable
    live = f"http://127.0.0.1:{healthz_server}/healthz"
    dead = f"http://127.0.0.1:{free_port()}/healthz"
    ok = subprocess.run([python, *argv[1:]], env={"EVENTSCOPE_HEALTH_URL": live}, timeout=30)
    assert ok.returncode == 0
    down = subprocess.run(
        [python, *argv[1:]], env={"EVENTSCOPE_HEALTH_URL": dead}, capture_output=True, timeout=30
    )
    assert down.returncode != 0
    wrong = subprocess.run(
        [python, *argv[1:]],
        env={"EVENTSCOPE_HEALTH_URL": live + "x"},
        capture_output=True,
        timeout=30,
    )
    assert wrong.returncode != 0  # a 404 is unhealthy too


# -- systemd ---------------------------------------------------------------------------------


def unit_settings(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "apt-get install systemd")
    assert len(UNITS) == 2
    result = run(analyze, "verify", *map(str, UNITS))
    # The only complaint allowed: the venv of the install step is not on this machine.
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and MISSING_VENV_BINARY not in line
    ]
    assert problems == []
    # ...and the same tool does complain about a misspelt setting.
    broken = tmp_path / "broken.service"
    broken.write_text(UNITS[0].read_text().replace("ProtectSystem=", "ProtectSytem="))
    assert "Unknown key 'ProtectSytem'" in run(analyze, "verify", str(broken)).stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_units_are_hardened(unit: Path) -> None:
    settings = unit_settings(unit)
    for key, value in {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert settings.get(key) == [value], key
    assert "@system-service" in settings["SystemCallFilter"]


# -- every eventscope command line in deploy/ is one the CLI accepts -------------------------


def deploy_command_lines() -> list[tuple[str, list[str]]]:
    lines: list[tuple[str, list[str]]] = []
    for unit in UNITS:
        for key in ("ExecStart", "ExecStartPre"):
            for value in unit_settings(unit).get(key, []):
                lines.append((f"{unit.name} {key}", shlex.split(value)[1:]))
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in ("eventscope-collector", "eventscope-dashboard"):
        lines.append((f"compose {name}", compose[name]["command"]))
    lines.append(("Dockerfile CMD", yaml.safe_load(final_stage()[-1][1])))
    for manifest in ("collector.yaml", "dashboard.yaml"):
        for doc in yaml.safe_load_all((DEPLOY / "kubernetes" / manifest).read_text()):
            if doc["kind"] == "Deployment":
                for container in doc["spec"]["template"]["spec"]["containers"]:
                    lines.append((f"kubernetes {manifest}", container["args"]))
    return lines


def test_every_deploy_command_line_parses_with_the_eventscope_cli() -> None:
    lines = deploy_command_lines()
    assert len(lines) >= 7
    for where, argv in lines:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{where}: eventscope {' '.join(argv)} is refused by the CLI")
        assert args.command in {"collect", "dashboard", "check-config"}, where


def test_compose_demo_pipeline_arguments_parse_with_the_pipeline_cli() -> None:
    command = yaml.safe_load(COMPOSE.read_text())["services"]["demo-pipeline"]["command"]
    args = parse_pipeline_args([re.sub(r"\$\{[^}]*\}", "x", arg) for arg in command])
    assert args.kafka == "kafka:9092"
    assert args.session_timeout_ms >= 6000  # Apache Kafka's group.min.session.timeout.ms
