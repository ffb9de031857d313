"""One AWS API call with throttling backoff, request counting and error translation.

botocore's own retries are switched off (`total_max_attempts=1`) so every attempt is counted
here and a throttle is visible: each attempt counts as `<service>.<Operation>` and each
throttled answer also as `throttled.<service>.<Operation>`, both exported as
`eventscope_collector_requests_total{request=...}`.

Errors (the project's tree, `collector.errors`):

    throttled on every one of max_attempts                     → BrokerUnavailable
    EndpointConnectionError, timeouts, closed connections,
    any other BotoCoreError, other ClientError codes            → BrokerUnavailable
    AccessDenied*, InvalidClientTokenId, UnrecognizedClient,
    SignatureDoesNotMatch, expired tokens, any HTTP 401/403,
    no credentials                                              → BrokerAuthError

Backoff before retry n (0-based) is min(cap, base · 2ⁿ), scaled by a jitter factor in
[0.5, 1] so that many collectors do not retry in step: base 0.2 s → 0.2, 0.4, 0.8 s (× jitter).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from collector.errors import BrokerAuthError, BrokerUnavailable

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidSecurity",
        "InvalidSignatureException",
        "MissingAuthenticationToken",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "UnauthorizedOperation",
    }
)
# a queue deleted between ListQueues and GetQueueAttributes: skip it, do not fail the poll
MISSING_QUEUE_CODES = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}
)


def error_code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")) if isinstance(error, Mapping) else ""


def backoff_seconds(retry: int, base: float = 0.2, cap: float = 5.0) -> float:
    """Delay before retry `retry` (0-based), before jitter: 0.2, 0.4, 0.8, … capped at `cap`."""
    return min(cap, base * 2**retry)


class RequestLog:
    """Thread-safe counts of attempts by kind, drained into each successful snapshot.

    Counts of a failed poll stay here and are reported with the next successful one, so
    throttles that made a poll fail are not lost.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] = self._counts.get(kind, 0) + 1

    def drain(self) -> dict[str, int]:
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts


class AwsCaller:
    """Runs one API call: counted, retried on throttling with backoff, errors translated."""

    def __init__(
        self,
        requests: RequestLog,
        max_attempts: int = 4,
        base_delay: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0),
    ) -> None:
        self.requests = requests
        self.max_attempts = max(1, max_attempts)
        self.base_delay = base_delay
        self.sleep = sleep
        self.jitter = jitter

    def __call__(self, api: str, call: Callable[..., T], **params: Any) -> T:
        for attempt in range(self.max_attempts):
            self.requests.add(api)
            try:
                return call(**params)
            except ClientError as exc:
                code = error_code(exc)
                if code not in THROTTLING_CODES:
                    raise translate(api, exc) from exc
                self.requests.add(f"throttled.{api}")
                if attempt + 1 < self.max_attempts:
                    self.sleep(backoff_seconds(attempt, self.base_delay) * self.jitter())
            except (BotoCoreError, ValueError) as exc:
                raise translate(api, exc) from exc
        raise BrokerUnavailable(f"{api} was throttled on all {self.max_attempts} attempts")


def translate(api: str, exc: Exception) -> BrokerUnavailable | BrokerAuthError:
    """A botocore failure → our error; the message names the call and the code, no secrets."""
    if isinstance(exc, NoCredentialsError):
        return BrokerAuthError(f"{api}: no AWS credentials found in the standard chain")
    if isinstance(exc, ClientError):
        code = error_code(exc)
        meta = exc.response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode") if isinstance(meta, Mapping) else None
        # an error body botocore cannot parse leaves the HTTP status as the code (moto does this)
        if code in AUTH_CODES or status in (401, 403):
            return BrokerAuthError(f"{api} refused: {code if code in AUTH_CODES else status}")
        return BrokerUnavailable(f"{api} failed: {code or 'unknown error'}")
    return BrokerUnavailable(f"{api} failed: {type(exc).__name__}: {_short(str(exc))}")


def _short(text: str) -> str:
    return text if len(text) < 200 else text[:200] + "…"


def all_pages(
    call: AwsCaller, api: str, operation: Callable[..., Any], params: Mapping[str, Any]
) -> Iterator[Any]:
    """Every page of a NextToken-paginated operation, each page retried on its own (a boto3
    paginator would restart the whole listing after a throttle)."""
    token = ""
    while True:
        page = call(api, operation, **params, **({"NextToken": token} if token else {}))
        yield page
        token = str(page.get("NextToken") or "")
        if not token:
            return
