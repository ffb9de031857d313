"""Config validation: every wrong key, type or value is named before anything connects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collector.config import KafkaCluster, RabbitMQCluster, load_config
from collector.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
MINIMAL = "clusters:\n  - name: local\n    kind: kafka\n    bootstrap_servers: 127.0.0.1:9092\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yml"
    path.write_text(text)
    return path


def test_example_config_is_valid():
    cfg = load_config(REPO / "deploy" / "eventscope.example.yml", env={})
    assert cfg.listen == "127.0.0.1:9308"
    assert isinstance(cfg.clusters[0], KafkaCluster)


def test_defaults(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), env={})
    assert cfg.poll_interval_seconds == 15.0
    assert cfg.listen.startswith("127.0.0.1:")  # never all interfaces by default
    assert cfg.thresholds.for_group("anything") == (1000, 300.0)
    cluster = cfg.clusters[0]
    assert isinstance(cluster, KafkaCluster)
    # the lag probe must not inherit librdkafka's 500 ms fetch wait (half a second per round)
    assert cluster.lag_seconds.fetch_wait_max_ms == 50


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("poll_interval_seconds: 5\nbogus: 1\n" + MINIMAL, "bogus", "unknown key"),
        ("poll_interval_seconds: fast\n" + MINIMAL, "poll_interval_seconds", "expected a number"),
        ("poll_interval_seconds: 0\n" + MINIMAL, "poll_interval_seconds", "greater than 0"),
        ("listen: 9308\n" + MINIMAL, "listen", "HOST:PORT"),
        ("log_level: loud\n" + MINIMAL, "log_level", "must be one of"),
        ("clusters: []\n", "clusters", "at least one"),
        ("{}\n", "clusters", "required"),
        ("clusters:\n  - name: a\n    kind: kafka\n", "clusters[0].bootstrap_servers", "required"),
        ("clusters:\n  - name: a\n    kind: pulsar\n", "clusters[0].kind", "unknown kind"),
        (MINIMAL + "    typo_key: 1\n", "clusters[0].typo_key", "unknown key"),
        (MINIMAL + "    include_groups: orders\n", "clusters[0].include_groups", "list"),
        (
            MINIMAL + "    lag_seconds: {method: guess}\n",
            "clusters[0].lag_seconds.method",
            "one of",
        ),
        (
            MINIMAL + "    lag_seconds: {fetch_wait_max_ms: soon}\n",
            "clusters[0].lag_seconds.fetch_wait_max_ms",
            "integer",
        ),
        (
            MINIMAL + "    lag_seconds: {probe_timeout_seconds: 0}\n",
            "clusters[0].lag_seconds.probe_timeout_seconds",
            "greater than 0",
        ),
        (
            MINIMAL + "    request_timeout_seconds: true\n",
            "clusters[0].request_timeout_seconds",
            "number",
        ),
        (
            MINIMAL + "  - name: local\n    bootstrap_servers: x:1\n",
            "clusters[1].name",
            "duplicate",
        ),
        (
            "clusters:\n  - name: r\n    kind: rabbitmq\n    management_url: localhost:15672\n",
            "clusters[0].management_url",
            "http",
        ),
        ("shard: 4/3\n" + MINIMAL, "shard", "I/N"),
        (
            "thresholds:\n  groups:\n    - messages: 5\n" + MINIMAL,
            "thresholds.groups[0].match",
            "required",
        ),
        ("- just\n- a list\n", "", "mapping"),
        ("key: [unclosed\n", "", "not valid YAML"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, key, words):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert err.value.key == key
    assert words in str(err.value)


def test_env_overrides_file_values(tmp_path):
    env = {
        "EVENTSCOPE__poll_interval_seconds": "5",
        "EVENTSCOPE__clusters__local__bootstrap_servers": "broker:9093",
        "EVENTSCOPE__thresholds__messages": "50",
    }
    cfg = load_config(write(tmp_path, MINIMAL), env=env)
    assert cfg.poll_interval_seconds == 5.0
    assert cfg.clusters[0].bootstrap_servers == "broker:9093"  # type: ignore[union-attr]
    assert cfg.thresholds.messages == 50


def test_env_override_with_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, MINIMAL), env={"EVENTSCOPE__clusters__nope__x": "1"})
    assert "nope" in str(err.value)


def test_secrets_come_from_env_and_unset_ones_are_named(tmp_path):
    text = (
        "clusters:\n  - name: r\n    kind: rabbitmq\n    management_url: http://h:15672\n"
        "    password: ${RABBIT_PW}\n"
    )
    cfg = load_config(write(tmp_path, text), env={"RABBIT_PW": "s3cret"})
    assert isinstance(cfg.clusters[0], RabbitMQCluster)
    assert cfg.clusters[0].password == "s3cret"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert err.value.key == "clusters[0].password" and "RABBIT_PW" in str(err.value)
    assert "s3cret" not in str(err.value)


def test_threshold_globs_first_match_wins(tmp_path):
    text = (
        "thresholds:\n  messages: 100\n  seconds: 60\n  groups:\n"
        "    - {match: 'ml-*', messages: 5000}\n    - {match: '*', seconds: 30}\n" + MINIMAL
    )
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.thresholds.for_group("ml-training") == (5000, 30.0)
    assert cfg.thresholds.for_group("billing") == (100, 30.0)


def test_cli_exits_nonzero_before_connecting(tmp_path):
    path = write(tmp_path, MINIMAL + "    bogus: 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "collector.cli", "collect", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "clusters[0].bogus" in proc.stderr
