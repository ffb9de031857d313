"""Credentials out of every URL before it reaches a log line, an error or an API answer.

A URL may carry a password in its userinfo (`amqp://user:secret@host`, a `management_url`
written `http://user:secret@host:15672`) or a token in its query (`?access_token=…`). Library
errors repeat the URL they were given (requests' `HTTPError` ends "for url: http://user:secret@…"),
so redacting only the URLs we format ourselves is not enough: `redact` rewrites any text, and
`RedactingFormatter` applies it to every formatted log line, traceback included.

    >>> redact("401 for url: http://admin:s3cret@rabbit:15672/api/x?token=abc&vhost=%2F")
    '401 for url: http://admin:***@rabbit:15672/api/x?token=***&vhost=%2F'
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# scheme://userinfo@ — userinfo runs to the last '@' before the path (a password may hold '@')
_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s?#@]*(?:@[^/\s?#@]*)*)@"
)
# query or fragment parameters whose names say they carry a secret
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&;](?:[^=&\s#]*?)(?:token|password|passwd|pwd|secret|api[_-]?key|apikey"
    r"|signature|sig|credential|auth)[^=&\s#]*=)(?P<value>[^&\s#'\"]+)",
    re.IGNORECASE,
)


def _mask_userinfo(match: re.Match[str]) -> str:
    user, sep, _password = match.group("userinfo").partition(":")
    if not sep:  # a lone name may be a token (`https://TOKEN@host`): hide it all
        return f"{match.group('scheme')}{MASK}@"
    return f"{match.group('scheme')}{user}:{MASK}@"


def redact(text: str) -> str:
    """`text` with the password of every URL's userinfo and every secret-named query value
    replaced by `***`; the user name, host, path and other parameters stay readable."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(_mask_userinfo, text)
    return _SECRET_PARAM.sub(lambda m: f"{m.group('name')}{MASK}", text)


class RedactingFormatter(logging.Formatter):
    """A formatter whose output went through `redact`: message, arguments and traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
