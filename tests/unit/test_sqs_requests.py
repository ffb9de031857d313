"""Throttling backoff, request counting and error translation for AWS calls (no network)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from collector.brokers.sqs_requests import AwsCaller, RequestLog, backoff_seconds, translate
from collector.errors import BrokerAuthError, BrokerUnavailable


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "ListQueues",
    )


class Answers:
    """Raises the given errors in order, then returns `result`."""

    def __init__(self, *errors: Exception, result: object = "ok") -> None:
        self.errors = list(errors)
        self.result = result

    def __call__(self, **params: object) -> object:
        if self.errors:
            raise self.errors.pop(0)
        return self.result


@pytest.mark.parametrize(("retry", "delay"), [(0, 0.2), (1, 0.4), (2, 0.8), (5, 5.0), (9, 5.0)])
def test_backoff_doubles_and_is_capped(retry, delay):
    assert backoff_seconds(retry, base=0.2, cap=5.0) == pytest.approx(delay)


def test_throttled_then_answered_is_counted_and_slept():
    slept: list[float] = []
    log = RequestLog()
    caller = AwsCaller(log, max_attempts=4, sleep=slept.append, jitter=lambda: 1.0)
    calls = Answers(client_error("ThrottlingException"), client_error("RequestThrottled"))
    assert caller("sqs.ListQueues", calls) == "ok"
    assert slept == pytest.approx([0.2, 0.4])
    assert log.drain() == {"sqs.ListQueues": 3, "throttled.sqs.ListQueues": 2}
    assert log.drain() == {}  # drained once


def test_throttled_on_every_attempt_is_unavailable_and_counts_stay_for_the_next_poll():
    log = RequestLog()
    caller = AwsCaller(log, max_attempts=3, sleep=lambda s: None)
    with pytest.raises(BrokerUnavailable, match="throttled on all 3 attempts"):
        caller("sqs.ListQueues", Answers(*[client_error("Throttling")] * 3))
    assert log.drain() == {"sqs.ListQueues": 3, "throttled.sqs.ListQueues": 3}


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("AccessDenied", 403), BrokerAuthError),
        (client_error("InvalidClientTokenId", 403), BrokerAuthError),
        (client_error("UnrecognizedClientException"), BrokerAuthError),
        (client_error("403", 403), BrokerAuthError),  # unparsable body: the status decides
        (NoCredentialsError(), BrokerAuthError),
        (client_error("InternalError", 500), BrokerUnavailable),
        (client_error("AWS.SimpleQueueService.NonExistentQueue"), BrokerUnavailable),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), BrokerUnavailable),
    ],
)
def test_errors_translate_without_retry(error, expected):
    log = RequestLog()
    caller = AwsCaller(log, max_attempts=4, sleep=lambda s: None)
    with pytest.raises(expected) as raised:
        caller("sqs.ListQueues", Answers(error))
    assert raised.value.__cause__ is error
    assert log.drain() == {"sqs.ListQueues": 1}  # not retried


def test_messages_name_the_call_and_code_only():
    assert str(translate("sqs.ListQueues", client_error("AccessDenied", 403))) == (
        "sqs.ListQueues refused: AccessDenied"
    )
