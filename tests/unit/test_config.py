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
        ("poll_interval_seconds: 0\n" + MINIMAL, "poll_interval_seconds", "at least 0.1"),
        ("poll_interval_seconds: .nan\n" + MINIMAL, "poll_interval_seconds", "finite"),
        ("poll_interval_seconds: .inf\n" + MINIMAL, "poll_interval_seconds", "finite"),
        ("poll_interval_seconds: 1.0e+308\n" + MINIMAL, "poll_interval_seconds", "at most 86400"),
        ("webhook_history: -1\n" + MINIMAL, "webhook_history", "at least 1"),
        ("series_budget: 1e3\n" + MINIMAL, "series_budget", "integer"),
        ("thresholds: {seconds: -5}\n" + MINIMAL, "thresholds.seconds", "0 or more"),
        ("status_window: {commits: 0}\n" + MINIMAL, "status_window.commits", "at least 1"),
        (
            "status_window: {commits: 2, min_commits: 3}\n" + MINIMAL,
            "status_window.min_commits",
            "at most status_window.commits",
        ),
        ("shard: 1/99999999999999999999\n" + MINIMAL, "shard", "I/N"),
        ("listen: 'h:٣٠٠'\n" + MINIMAL, "listen", "HOST:PORT"),
        (
            "tracing: {kafka: {session_timeout_ms: -5}}\n" + MINIMAL,
            "tracing.kafka.session_timeout_ms",
            "at least 1",
        ),
        (
            MINIMAL + "    request_timeout_seconds: -1\n",
            "clusters[0].request_timeout_seconds",
            "at least 0.01",
        ),
        (
            MINIMAL + "    client: {no.such.property: 1}\n",
            "clusters[0].client.no.such.property",
            "No such configuration property",
        ),
        (
            MINIMAL + "    client: {security.protocol: carrier-pigeon}\n",
            "clusters[0].client.security.protocol",
            "Invalid value",
        ),
        (
            MINIMAL + "    client: {sasl.mechanism: PLAIN, security.protocol: SASL_SSL}\n",
            "clusters[0].client",
            "sasl.username",
        ),
        (
            MINIMAL + "    lag_seconds: {fetch_max_bytes: 4096}\n",
            "clusters[0].lag_seconds.fetch_max_bytes",
            "message.max.bytes",
        ),
        (
            "clusters:\n  - name: a\n    kind: aws\n    region: ''\n",
            "clusters[0].region",
            "required",
        ),
        (
            "clusters:\n  - name: a\n    kind: aws\n    region: x\n    max_attempts: 0\n",
            "clusters[0].max_attempts",
            "at least 1",
        ),
        ("clusters:\n  - name: a\n    kind: [kafka]\n", "clusters[0].kind", "unknown kind"),
        ("1: x\n" + MINIMAL, "1", "keys must be strings"),
        ("tracing: {store_path: ''}\n" + MINIMAL, "tracing.store_path", "file path"),
        ("tracing: {store_path: " + "x" * 300 + "}\n" + MINIMAL, "tracing.store_path", "255"),
        ("thresholds: {2: 1}\n" + MINIMAL, "thresholds.2", "keys must be strings"),
        ("poll_interval_seconds: 1" + "0" * 5000 + "\n" + MINIMAL, "", "digits"),
        ("x: " + "[" * 1000 + "]" * 1000 + "\n" + MINIMAL, "", "nested deeper than"),
        ("x: &a [*a]\n" + MINIMAL, "x" + "[0]" * 32, "nested deeper than"),
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


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def test_alias_bomb_is_refused_quickly(tmp_path):
    """ "Billion laughs": 9 aliases per level, 9 levels, about 400 million values once expanded."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, BOMB + MINIMAL), env={})
    assert "aliases" in str(err.value) and len(str(err.value)) < 200


def test_a_few_aliases_are_fine(tmp_path):
    text = "dlq_patterns: &dlq ['*.dlq']\nclusters:\n" + "".join(
        f"  - {{name: k{i}, bootstrap_servers: 'h:1', include_topics: *dlq}}\n" for i in range(3)
    )
    cfg = load_config(write(tmp_path, text), env={})
    assert [c.include_topics for c in cfg.clusters] == [("*.dlq",)] * 3  # type: ignore[union-attr]


def test_non_utf8_file_is_refused_with_its_offset(tmp_path):
    path = tmp_path / "c.yml"
    path.write_bytes(MINIMAL.encode() + b"    password: caf\xe9\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert "not UTF-8 (byte" in str(err.value)


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
