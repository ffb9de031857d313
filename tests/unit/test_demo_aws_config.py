"""`eventscope demo --aws` / `--only aws`: which parts run, which ports are checked, and a
generated collector config the collector accepts (an aws cluster and the SQS tap)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from collector.config import AwsCluster, KafkaCluster, RabbitMQCluster, load_config
from demo.aws_stack import AWS_PORTS
from demo.cli import add_demo_parser
from demo.stack import brokers, choose_ports, collector_config


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_demo_parser(parser.add_subparsers(), lambda _: 0)
    return parser.parse_args(["demo", *argv])


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ((), {"kafka", "rabbitmq"}),
        (("--aws",), {"kafka", "rabbitmq", "aws"}),
        (("--only", "kafka", "--aws"), {"kafka", "aws"}),
        (("--only", "aws"), {"aws"}),
    ],
)
def test_which_brokers_run(argv, expected):
    assert brokers(parse(*argv)) == expected


def test_aws_ports_are_checked_only_with_aws():
    assert not set(AWS_PORTS) & set(choose_ports(parse("--auto-ports")))
    ports = choose_ports(parse("--auto-ports", "--aws"))
    assert set(AWS_PORTS) <= set(ports)
    assert len(set(ports.values())) == len(ports)


def load(argv: tuple[str, ...], tmp_path: Path):
    args = parse("--auto-ports", *argv)
    path = tmp_path / "eventscope.yml"
    path.write_text(collector_config(args, choose_ports(args), "vhost", tmp_path))
    return load_config(path, env={"EVENTSCOPE_DEMO_RABBITMQ_PASSWORD": "guest"})


def test_aws_beside_kafka_and_rabbitmq(tmp_path):
    config = load(("--aws",), tmp_path)
    kinds = [type(c) for c in config.clusters]
    assert kinds == [KafkaCluster, RabbitMQCluster, AwsCluster]
    (aws,) = [c for c in config.clusters if isinstance(c, AwsCluster)]
    assert aws.endpoint_url.startswith("http://127.0.0.1:")  # moto, never live AWS
    assert aws.event_buses == ("shop-events",)
    tracing = config.tracing
    assert (tracing.kafka.cluster, tracing.rabbitmq.cluster, tracing.sqs.cluster) == (
        "demo-kafka",
        "demo-rabbitmq",
        "demo-aws",
    )
    assert tracing.sqs.queue == "shop-eventscope-tap"
    assert tracing.group_services["shop-payment-service"] == "payment-service"


def test_only_aws(tmp_path):
    config = load(("--only", "aws"), tmp_path)
    assert [c.name for c in config.clusters] == ["demo-aws"]
    assert (config.tracing.kafka.cluster, config.tracing.rabbitmq.cluster) == ("", "")
    (aws,) = config.clusters
    assert isinstance(aws, AwsCluster)
    assert aws.exclude_queues == ("*eventscope-tap",)


@pytest.mark.parametrize(("poll", "polls"), [("2", 30), ("5", 12), ("15", 10)])
def test_status_window_outlasts_the_batch_consumers_cycle(tmp_path, poll, polls):
    # batch-analytics commits every ~20 s: a shorter window reads it STALL while it sleeps
    config = load(("--poll-interval", poll), tmp_path)
    assert config.status_window.commits == polls
    assert polls * config.poll_interval_seconds >= 60
