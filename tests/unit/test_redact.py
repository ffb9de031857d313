"""`collector.redact`: passwords and tokens out of every URL in any text, the rest readable."""

from __future__ import annotations

import logging
import sys

import pytest

from collector.redact import RedactingFormatter, redact

CASES = [
    # (1) userinfo password in a management URL, inside a requests error
    (
        "401 Client Error: Unauthorized for url: http://nobody:pw1@127.0.0.1:15672/api/x",
        "401 Client Error: Unauthorized for url: http://nobody:***@127.0.0.1:15672/api/x",
    ),
    # (2) an AMQP URL in a repr, password holding an unescaped '@'
    ("URLParameters('amqp://u:p@ss@h:5672/%2F')", "URLParameters('amqp://u:***@h:5672/%2F')"),
    # (3) a lone name in userinfo may be a token: hidden whole
    ("https://ghp_tok@github.example/x", "https://***@github.example/x"),
    # (4) secret-named query values, other parameters kept
    ("http://h/v1?access_token=abc&vhost=%2F", "http://h/v1?access_token=***&vhost=%2F"),
    (
        "https://s3/x?X-Amz-Signature=ab12&X-Amz-Date=1",
        "https://s3/x?X-Amz-Signature=***&X-Amz-Date=1",
    ),
    # (5) nothing to hide: unchanged
    ("http://127.0.0.1:9308/api/clusters", "http://127.0.0.1:9308/api/clusters"),
    ("mail ops@example.com about http://h:1/x", "mail ops@example.com about http://h:1/x"),
    ("http://[::1]:9090/", "http://[::1]:9090/"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_formatter_redacts_arguments_and_tracebacks() -> None:
    formatter = RedactingFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("cannot reach amqp://guest:hunter2@h:5672/")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.WARNING, __file__, 1, "tap: %s", ("http://a:hunter2@h/",), True
        )
        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    assert "hunter2" not in text
    assert "http://a:***@h/" in text and "amqp://guest:***@h:5672/" in text
