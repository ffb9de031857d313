"""Read what tracing needs from an event's headers: pure, never raises, says why it skipped.

Rules (`parse_headers`):
- Header names match case-insensitively. The correlation ID is the first non-empty value of the
  first configured name present, so of duplicate keys the first one wins; same for the others.
- Skipped, with a reason counted by the tap: `no_id` (no ID header, or empty), `oversize` (all
  header names and values together over `max_header_bytes`), `not_utf8` (the ID is not UTF-8),
  `bad_header` (headers that are not a list of pairs, or an ID outside `[A-Za-z0-9._:@-]{1,200}`,
  the characters the trace API accepts).
- Event type and service that are not UTF-8 or not printable are treated as absent; a malformed
  `traceparent` is dropped (the hop is kept, with no parent).

Example: `[("correlation_id", b"ord-1"), ("event_type", b"OrderPlaced"), ("source", b"shop")]`
gives `EventHeaders(correlation_id="ord-1", event_type="OrderPlaced", service="shop", ...)`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from collector.tracing.config import TracingConfig
from collector.tracing.hop import Hop

ID_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,200}")
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-"  # ID_PATTERN's
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_TRACEPARENT_BYTES = re.compile(rb"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_TEXT_CACHE_SIZE = 4096  # distinct short header values (event types, services) kept decoded

DLQ_REASON_HEADERS = ("dlq_error", "error", "x-exception-message", "kafka_dlt-exception-message")
DLQ_RETRY_HEADERS = ("dlq_retry_count", "retry_count", "x-retry-count", "retries")
DLQ_SERVICE_HEADERS = ("dlq_service",)
DLQ_MARKER_HEADERS = ("dlq_original_topic", "dlq_error", "kafka_dlt-original-topic")

_DLQ_HEADERS = frozenset(
    DLQ_REASON_HEADERS + DLQ_RETRY_HEADERS + DLQ_SERVICE_HEADERS + DLQ_MARKER_HEADERS
)

SKIP_NO_ID = "no_id"
SKIP_OVERSIZE = "oversize"
SKIP_NOT_UTF8 = "not_utf8"
SKIP_BAD_HEADER = "bad_header"
SKIP_REASONS = (SKIP_NO_ID, SKIP_OVERSIZE, SKIP_NOT_UTF8, SKIP_BAD_HEADER)


@dataclass(frozen=True)
class HeaderRules:
    id_headers: tuple[str, ...]
    event_type_headers: tuple[str, ...]
    service_headers: tuple[str, ...]
    max_header_bytes: int

    @classmethod
    def from_config(cls, tracing: TracingConfig) -> HeaderRules:
        return cls(
            tuple(h.lower() for h in tracing.id_headers),
            tuple(h.lower() for h in tracing.event_type_headers),
            tuple(h.lower() for h in tracing.service_headers),
            tracing.max_header_bytes,
        )


@dataclass(frozen=True)
class EventHeaders:
    correlation_id: str
    event_type: str = ""
    service: str = ""
    traceparent: str = ""
    dlq_marked: bool = False  # the headers say this record is a dead letter
    dlq_reason: str = ""
    dlq_service: str = ""  # the service that dead-lettered it
    retries: int = 0


@dataclass(frozen=True)
class Skipped:
    reason: str


HeaderValues = tuple[str, str, str, str, bool, str, str, int]
"""What `read_headers` found, in `EventHeaders` field order (a tuple: the tap's hot path)."""


def parse_headers(headers: Any, rules: HeaderRules) -> EventHeaders | Skipped:
    """`headers`: a list of (name, value) pairs as consumed (value bytes, str or None)."""
    got = read_headers(headers, rules)
    return Skipped(got) if isinstance(got, str) else EventHeaders(*got)


def read_headers(headers: Any, rules: HeaderRules) -> HeaderValues | str:
    """`parse_headers` without the wrapping: the values, or the skip reason as a string.

    Fast path for the common shape (a list of str names, already lower case, each once, with
    bytes values): one dict, one size sum; anything else goes through `_first_values`, which
    applies the rules header by header. Both give the same answer (tested on random input).
    """
    first: dict[str, bytes | str] | None = None
    if type(headers) is list:
        try:
            fast: dict[str, bytes] = dict(headers)
            names = "".join(fast)  # TypeError unless every name is a str
            size = len(names) + len(b"".join(fast.values()))  # …and every value bytes
        except (TypeError, ValueError):
            pass
        else:
            if len(fast) == len(headers) and names == names.lower():
                if size > rules.max_header_bytes:
                    return SKIP_OVERSIZE
                first = fast  # type: ignore[assignment]
    if first is None:
        got = _first_values(headers, rules.max_header_bytes)
        if isinstance(got, str):
            return got
        first = got
    raw_id = _first(first, rules.id_headers)
    if raw_id is None:
        return SKIP_NO_ID
    try:
        ident = raw_id.decode("utf-8") if isinstance(raw_id, bytes) else raw_id
    except UnicodeDecodeError:
        return SKIP_NOT_UTF8
    ident = ident.strip()
    if not ident:
        return SKIP_NO_ID
    if len(ident) > 200 or ident.strip(ID_CHARS):  # strip() leaves what is not allowed
        return SKIP_BAD_HEADER
    event_type = _text(_first(first, rules.event_type_headers))
    service = _text(_first(first, rules.service_headers))
    traceparent = first.get("traceparent")
    tp = _traceparent(traceparent) if traceparent else ""
    if _DLQ_HEADERS.isdisjoint(first):  # the common case: no dead-letter headers at all
        return (ident, event_type, service, tp, False, "", "", 0)
    return (
        ident, event_type, service, tp,
        any(first.get(h) for h in DLQ_MARKER_HEADERS),
        _text(_first(first, DLQ_REASON_HEADERS)),
        _text(_first(first, DLQ_SERVICE_HEADERS)),
        _count(_text(_first(first, DLQ_RETRY_HEADERS))),
    )  # fmt: skip


def _first_values(headers: Any, limit: int) -> dict[str, bytes | str] | str:
    """Header name (lower case) -> its first non-empty value; or a skip reason."""
    if headers is None:
        return SKIP_NO_ID
    if isinstance(headers, str | bytes) or not isinstance(headers, Iterable):
        return SKIP_BAD_HEADER
    first: dict[str, bytes | str] = {}
    size = 0
    try:
        for name, value in headers:  # not a pair → ValueError/TypeError below
            if value is None:
                value = b""
            elif not isinstance(value, bytes | str):
                value = str(value)
            if not isinstance(name, str):
                if not isinstance(name, bytes):
                    return SKIP_BAD_HEADER
                name = name.decode("utf-8", "replace")
            size += len(name) + len(value)
            if size > limit:
                return SKIP_OVERSIZE
            key = name.lower()
            if not first.get(key):
                first[key] = value
    except (TypeError, ValueError):
        return SKIP_BAD_HEADER
    return first


@dataclass(frozen=True)
class Where:
    """Where the tap read an event: broker coordinates and the broker's timestamp."""

    broker: str
    cluster_name: str
    source: str
    partition: int
    offset: int
    produced_at: float


def build_hop(
    parsed: EventHeaders,
    where: Where,
    topic_services: Mapping[str, str],
    is_dlq_source: bool,
    fields: Mapping[str, str],
) -> Hop:
    """A hop from parsed headers: a dead letter if its source is a DLQ or its headers say so.

    The service of a dead-letter hop is the one that dead-lettered it when known (it produced
    the DLQ record); otherwise the header's producer, then `topic_services[source]`.
    """
    dlq = is_dlq_source or parsed.dlq_marked
    service = producer_of(parsed, topic_services.get(where.source, ""), dlq)
    return Hop(
        correlation_id=parsed.correlation_id,
        event_type=parsed.event_type or where.source,
        broker=where.broker,
        cluster_name=where.cluster_name,
        source=where.source,
        partition=where.partition,
        offset=where.offset,
        produced_at=where.produced_at,
        service=service,
        traceparent=parsed.traceparent,
        dlq=dlq,
        dlq_reason=parsed.dlq_reason if dlq else "",
        retries=parsed.retries,
        fields=dict(fields),
    )


def producer_of(parsed: EventHeaders | HeaderValues, topic_service: str, dlq: bool) -> str:
    """The hop's service: the dead-lettering service for a dead letter when known, else the
    header's producer, else the source's configured producer (`topic_services`)."""
    if isinstance(parsed, EventHeaders):
        service, dlq_service = parsed.service, parsed.dlq_service
    else:
        service, dlq_service = parsed[2], parsed[6]
    if dlq and dlq_service:
        return dlq_service
    return service or topic_service


def valid_traceparent(value: str) -> str:
    """The W3C traceparent if well-formed, else "" (version ff and all-zero IDs are invalid).

    Example: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" is kept as is.
    """
    m = _TRACEPARENT.fullmatch(value.strip())
    if not m or m.group(1) == "ff" or m.group(2) == _ZERO_TRACE or m.group(3) == _ZERO_SPAN:
        return ""
    return m.group(0)


def _traceparent(raw: bytes | str) -> str:
    """`valid_traceparent` of a header value; bytes already in the canonical form skip the
    decode-and-strip."""
    if isinstance(raw, bytes) and _TRACEPARENT_BYTES.fullmatch(raw):
        value = raw.decode("ascii")
        if value[:2] == "ff" or value[3:35] == _ZERO_TRACE or value[36:52] == _ZERO_SPAN:
            return ""
        return value
    return valid_traceparent(_text(raw))


def allowed_fields(payload: bytes | None, names: tuple[str, ...], limit: int) -> dict[str, str]:
    """The allow-listed top-level fields of a JSON object payload, as text; {} otherwise.

    Nothing else of the payload is ever kept. Values longer than 200 characters are cut, and
    payloads over `limit` bytes are not parsed at all.
    """
    if not names or not payload or len(payload) > limit:
        return {}
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    if not isinstance(doc, dict):
        return {}
    out: dict[str, str] = {}
    for name in names:
        if name in doc and isinstance(doc[name], str | int | float | bool):
            out[name] = str(doc[name])[:200]
    return out


def _first(values: Mapping[str, bytes | str], names: tuple[str, ...]) -> bytes | str | None:
    for name in names:
        value = values.get(name)
        if value:
            return value
    return None


_TEXT_CACHE: dict[bytes | str, str] = {}


def _text(value: bytes | str | None) -> str:
    """A header value as printable text of at most 200 characters, else "". Short values are
    cached: event types and service names repeat on every event."""
    if value is None:
        return ""
    text = _TEXT_CACHE.get(value)
    if text is None:
        text = _decode_text(value)
        if len(value) <= 200:
            if len(_TEXT_CACHE) >= _TEXT_CACHE_SIZE:
                _TEXT_CACHE.clear()
            _TEXT_CACHE[value] = text
    return text


def _decode_text(value: bytes | str) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return ""
    value = value.strip()
    return value if len(value) <= 200 and value.isprintable() else ""


def _count(value: str) -> int:
    return int(value) if re.fullmatch(r"[0-9]{1,9}", value) else 0
