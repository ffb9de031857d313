"""The `kind: aws` cluster section: defaults, validation, and no credentials in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.brokers.sqs import validate_aws_cluster
from collector.config import AwsCluster, load_config
from collector.errors import ConfigError


def load(tmp_path, body: str):
    path = tmp_path / "eventscope.yml"
    path.write_text("clusters:\n  - name: prod-aws\n    kind: aws\n" + body)
    return load_config(path, env={})


def test_aws_cluster_with_defaults(tmp_path):
    (cluster,) = load(tmp_path, "    region: eu-west-1\n").clusters
    assert cluster == AwsCluster(name="prod-aws", region="eu-west-1")
    assert cluster.endpoint_url == "" and cluster.event_buses == () and cluster.cloudwatch


def test_aws_cluster_full(tmp_path, monkeypatch):
    # a named profile must exist on this machine (check-config asks boto3, as collect does)
    (tmp_path / "aws-config").write_text("[profile ops]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    (cluster,) = load(
        tmp_path,
        "    region: eu-west-1\n    endpoint_url: http://127.0.0.1:5000\n    profile: ops\n"
        "    queue_prefixes: [orders, payments]\n    exclude_queues: ['*-tap']\n"
        "    event_buses: [shop]\n    max_concurrency: 2\n",
    ).clusters
    assert cluster.queue_prefixes == ("orders", "payments")
    assert cluster.exclude_queues == ("*-tap",)
    assert cluster.event_buses == ("shop",)
    assert cluster.profile == "ops"


def test_unknown_profile_is_refused_by_check_config(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-such-file"))
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, "    region: eu-west-1\n    profile: nobody\n")
    assert raised.value.key == "clusters[0].profile"


@pytest.mark.parametrize("key", ["aws_secret_access_key", "aws_access_key_id", "secret_key"])
def test_credentials_in_the_file_are_refused(tmp_path, key):
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, f"    region: eu-west-1\n    {key}: AKIAXXXX\n")
    assert raised.value.key == f"clusters[0].{key}"
    assert "AKIAXXXX" not in str(raised.value)


def test_region_is_required(tmp_path):
    with pytest.raises(ConfigError, match=r"clusters\[0\]\.region"):
        load(tmp_path, "    endpoint_url: http://127.0.0.1:5000\n")


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"region": ""}, "region"),
        ({"endpoint_url": "127.0.0.1:5000"}, "endpoint_url"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"request_timeout_seconds": 0.0}, "request_timeout_seconds"),
        ({"cloudwatch_interval_seconds": -1.0}, "cloudwatch_interval_seconds"),
    ],
)
def test_validation_names_the_key(settings, key):
    config = AwsCluster(**{"name": "a", "region": "eu-west-1", **settings})
    with pytest.raises(ConfigError) as raised:
        validate_aws_cluster(config)
    assert raised.value.key == f"clusters.a.{key}"


def test_tracing_sqs_section(tmp_path):
    config = load(
        tmp_path,
        "    region: eu-west-1\ntracing:\n  enabled: true\n"
        "  sqs: {cluster: prod-aws, queue: shop-eventscope-tap, source: shop-events}\n",
    )
    tap = config.tracing.sqs
    assert (tap.cluster, tap.queue, tap.source, tap.wait_seconds) == (
        "prod-aws",
        "shop-eventscope-tap",
        "shop-events",
        1,
    )


@pytest.mark.parametrize(
    ("sqs", "key"),
    [
        ("{cluster: elsewhere, queue: tap}", "tracing.sqs.cluster"),
        ("{cluster: prod-aws}", "tracing.sqs.queue"),
        ("{cluster: prod-aws, queue: tap, wait_seconds: 21}", "tracing.sqs.wait_seconds"),
        ("{cluster: prod-aws, queue: tap, bogus: 1}", "tracing.sqs.bogus"),
    ],
)
def test_tracing_sqs_validation_names_the_key(tmp_path, sqs, key):
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, f"    region: eu-west-1\ntracing:\n  sqs: {sqs}\n")
    assert raised.value.key == key


def uncommented(text: str, first_line: str) -> str:
    """The commented-out block of the example file starting at `first_line`, uncommented."""
    lines = text.splitlines()
    start = lines.index(first_line)
    block = []
    for line in lines[start:]:
        if not line.strip().startswith("#"):
            break
        block.append(line.replace("# ", "", 1))
    return "\n".join(block) + "\n"


def test_the_example_config_aws_entries_are_valid(tmp_path):
    """deploy/eventscope.example.yml ships the aws cluster and tracing.sqs commented out (they
    would call AWS); uncommented, they are a valid config."""
    example = (Path(__file__).resolve().parents[2] / "deploy/eventscope.example.yml").read_text()
    cluster = uncommented(example, "  # - name: prod-aws")
    tap = uncommented(example, "  # sqs:")
    path = tmp_path / "aws.yml"
    path.write_text(f"clusters:\n{cluster}tracing:\n  enabled: true\n{tap}")
    config = load_config(path, env={})
    (aws,) = config.clusters
    assert isinstance(aws, AwsCluster) and aws.region == "eu-west-1"
    assert aws.exclude_queues == ("*-tap",)
    assert (config.tracing.sqs.cluster, config.tracing.sqs.queue) == (
        "prod-aws",
        "shop-eventscope-tap",
    )
