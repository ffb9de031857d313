"""The control endpoint and its client, against a real HTTP server in a thread (no broker)."""

from __future__ import annotations

import pytest

from demo.pipeline.config import KafkaSettings, PipelineConfig
from demo.pipeline.control import ControlError, ControlServer, send
from demo.pipeline.knobs import Knobs


@pytest.fixture
def control():
    knobs = Knobs(PipelineConfig(kafka=KafkaSettings("127.0.0.1:9092")))
    server = ControlServer("127.0.0.1:0", knobs, lambda ids: {"ids": ids, **knobs.snapshot()})
    server.start()
    yield server.url, knobs
    server.stop()


def test_each_knob_changes_what_it_names(control):
    url, knobs = control
    send(url, "rate", orders=1.5, interactions=3)
    send(url, "slow", service="ml-training", ms=120)
    send(url, "stop", service="payment-service")
    send(url, "poison", rate=0.3)
    answer = send(url, "burst", orders=7)
    assert answer["ok"] is True
    assert (knobs.order_rate(), knobs.interaction_rate()) == (1.5, 3.0)
    assert knobs.slow_ms("ml-training") == 120
    assert knobs.is_stopped("payment-service")
    assert knobs.poison_rate() == 0.3
    assert knobs.take_burst("kafka") == 7
    send(url, "start", service="payment-service")
    assert not knobs.is_stopped("payment-service")


def test_status_passes_the_ids_flag(control):
    url, _ = control
    assert send(url, "status")["ids"] is False
    assert send(url, "status", ids=True)["ids"] is True


@pytest.mark.parametrize(
    ("knob", "args", "message"),
    [
        ("slow", {"service": "billing", "ms": 1}, "unknown service"),
        ("slow", {"service": "payment-service"}, "missing argument"),
        ("poison", {"rate": 3}, "0..1"),
        ("rate", {}, "orders and/or interactions"),
        ("explode", {}, "no such knob"),
    ],
)
def test_refused_requests_say_why(control, knob, args, message):
    url, _ = control
    with pytest.raises(ControlError, match=message):
        send(url, knob, **args)


def test_unreachable_endpoint_is_a_control_error():
    from demo.services import free_port

    with pytest.raises(ControlError, match="cannot reach"):
        send(f"http://127.0.0.1:{free_port()}", "status", timeout=1)
