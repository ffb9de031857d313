"""`python -m demo.pipeline` arguments → PipelineConfig (no broker is contacted)."""

from __future__ import annotations

import pytest

from demo.pipeline.__main__ import config_from_args, main, parse_args
from demo.pipeline.config import PipelineConfigError

KAFKA = ["--kafka", "127.0.0.1:9092"]
RABBIT = ["--rabbitmq", "amqp://guest:guest@127.0.0.1:5672/%2F"]


@pytest.mark.parametrize(
    ("argv", "brokers"),
    [
        (KAFKA + RABBIT, ("kafka", "rabbitmq")),
        ([*KAFKA, *RABBIT, "--only", "kafka"], ("kafka",)),
        ([*KAFKA, *RABBIT, "--only", "rabbitmq"], ("rabbitmq",)),
        (RABBIT, ("rabbitmq",)),
    ],
)
def test_brokers_follow_the_options(argv, brokers):
    assert config_from_args(parse_args(argv)).brokers() == brokers


def test_options_reach_the_config():
    argv = [*KAFKA, "--control", "127.0.0.1:8765", "--orders", "30", "--rate", "2.5",
            "--poison-rate", "0.5", "--seed", "7", "--session-timeout-ms", "10000",
            "--rabbitmq-prefix", "x."]  # fmt: skip
    config = config_from_args(parse_args(argv))
    assert (config.control, config.orders, config.order_rate) == ("127.0.0.1:8765", 30, 2.5)
    assert (config.poison_rate, config.seed) == (0.5, 7)
    assert config.kafka.session_timeout_ms == 10000
    assert config.kafka.heartbeat_interval_ms == 2000  # Apache Kafka's default stays
    assert not config.kafka.one_record_per_batch  # producers batch on Apache Kafka
    assert config.rabbitmq.prefix == "x."


def test_tansu_gets_its_workarounds_unless_a_timing_is_given():
    tansu = config_from_args(parse_args([*KAFKA, "--kafka-broker", "tansu"])).kafka
    assert (tansu.session_timeout_ms, tansu.heartbeat_interval_ms) == (2000, 500)
    assert tansu.one_record_per_batch
    argv = [*KAFKA, "--kafka-broker", "tansu", "--session-timeout-ms", "4000"]
    assert config_from_args(parse_args(argv)).kafka.session_timeout_ms == 4000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "at least one broker"),
        (["--only", "kafka", *RABBIT], "--only kafka needs --kafka"),
        ([*KAFKA, "--poison-rate", "2"], "poison_rate"),
    ],
)
def test_bad_options_are_refused_with_the_reason(argv, message):
    with pytest.raises(PipelineConfigError, match=message):
        config_from_args(parse_args(argv))


def test_main_exits_2_without_a_broker(capsys):
    assert main([]) == 2
    assert "at least one broker" in capsys.readouterr().err
