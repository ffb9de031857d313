"""RabbitMQ adapter over the management HTTP API: queues, consumers, publish/ack counts, DLQs.

Requests per poll (counted in `requests` by endpoint), each with `columns=` so the broker
serialises only what we read, and each with the cluster's `request_timeout_seconds`:

    overview   GET /api/overview                 1 (reachability, credentials, version)
    queues     GET /api/queues[/{vhost}]         ceil(queues / page_size) per vhost scope
    exchanges  GET /api/exchanges[/{vhost}]      1 per vhost scope (types, for DLQ routing)
    bindings   GET /api/bindings[/{vhost}]       1 per vhost scope (DLQ detection)

"vhost scope" is the whole broker when `vhosts` is empty, else each configured vhost. Phases
(`phase_seconds`): overview, queues, topology (exchanges + bindings), samples (translation).
The translation into value types and DLQ detection are pure, in `rabbitmq_samples` and
`rabbitmq_topology`; the user-facing mapping is in docs/rabbitmq.md.

Errors (the project's tree, `collector.errors`):

    requests.ConnectionError / Timeout / SSLError, HTTP 5xx, 404, bad JSON → BrokerUnavailable
    HTTP 401 / 403                                                          → BrokerAuthError

Messages name the user and the URL without credentials, never the password.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from collector.brokers.rabbitmq_samples import QueueSelection, build_samples
from collector.brokers.rabbitmq_topology import Binding
from collector.config import DEFAULT_DLQ_PATTERNS, RabbitMQCluster
from collector.errors import BrokerAuthError, BrokerUnavailable
from collector.model import Broker, ClusterSnapshot
from collector.redact import redact

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PAGE_SIZE = 500  # the management API rejects larger pages
QUEUE_COLUMNS = (
    "name,vhost,type,messages_ready,messages_unacknowledged,consumers,consumer_utilisation,"
    "consumer_capacity,"
    "head_message_timestamp,message_stats.publish,message_stats.ack,"
    "message_stats.deliver_no_ack,message_stats.get_no_ack,message_stats.deliver,"
    "message_stats.deliver_get,message_stats.get,arguments,effective_policy_definition"
)
EXCHANGE_COLUMNS = "vhost,name,type"
BINDING_COLUMNS = "vhost,source,destination,destination_type,routing_key"


def base_url(url: str) -> str:
    """The management URL without `user:password@`, query or trailing slash.

    Credentials come from `username`/`password` only, so a URL written with them can never
    leak them into a message or a log: `http://u:p@h:15672/` → `http://h:15672`.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


class RabbitMQAdapter:
    broker = Broker.RABBITMQ

    def __init__(
        self,
        config: RabbitMQCluster,
        dlq_patterns: tuple[str, ...] = DEFAULT_DLQ_PATTERNS,
        session: requests.Session | None = None,
    ) -> None:
        self.config = config
        self.cluster = config.name
        self.dlq_patterns = tuple(dlq_patterns)
        self._base = base_url(config.management_url)
        self._timeout = config.request_timeout_seconds
        self._page_size = max(1, min(config.page_size, MAX_PAGE_SIZE))
        self._session = session or requests.Session()
        self._session.auth = (config.username, config.password)
        self._session.headers["Accept"] = "application/json"
        # passed per request: requests lets REQUESTS_CA_BUNDLE override a *session's* verify
        self._verify: str | bool = config.ca_file or True
        self._version = ""
        self.selection = QueueSelection(
            include=config.include_queues,
            exclude=config.exclude_queues,
            dlq_patterns=self.dlq_patterns,
        )

    # -- protocol ----------------------------------------------------------------------------

    def snapshot(self, now: float) -> ClusterSnapshot:
        counts: dict[str, int] = {}
        phases: dict[str, float] = {}
        overview = _timed(phases, "overview", lambda: self._overview(counts))
        version = str(overview.get("rabbitmq_version", ""))
        if version != self._version:  # once at start and after an upgrade, not every poll
            name = overview.get("cluster_name", "")
            log.info("cluster %s: RabbitMQ %s (%s) at %s", self.cluster, version, name, self._base)
            self._version = version
        raw_queues = _timed(phases, "queues", lambda: self._list_queues(counts))
        exchanges, bindings = _timed(phases, "topology", lambda: self._topology(counts))
        queues, dead_letters = _timed(
            phases,
            "samples",
            lambda: build_samples(raw_queues, exchanges, bindings, self.selection),
        )
        return ClusterSnapshot(
            broker=Broker.RABBITMQ,
            cluster=self.cluster,
            taken_at=now,
            queues=queues,
            dead_letters=dead_letters,
            requests=counts,
            phase_seconds=phases,
        )

    def close(self) -> None:
        self._session.close()

    # -- reading -----------------------------------------------------------------------------

    def _overview(self, counts: dict[str, int]) -> Mapping[str, Any]:
        body = self._get("/api/overview", {"columns": "rabbitmq_version,cluster_name"}, counts)
        if not isinstance(body, dict):
            raise BrokerUnavailable(f"{self._base}/api/overview answered an unexpected document")
        return body

    def _scopes(self, endpoint: str) -> Iterator[str]:
        """`/api/<endpoint>` for the whole broker, or one path per configured vhost."""
        if not self.config.vhosts:
            yield f"/api/{endpoint}"
        for vhost in self.config.vhosts:
            yield f"/api/{endpoint}/{quote(vhost, safe='')}"

    def _list_queues(self, counts: dict[str, int]) -> list[dict[str, Any]]:
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for path in self._scopes("queues"):
            for item in self._pages(path, counts):
                # a queue created mid-listing can shift pages; keep one entry per queue
                seen[(str(item.get("vhost", "/")), str(item.get("name", "")))] = item
        return list(seen.values())

    def _pages(self, path: str, counts: dict[str, int]) -> Iterator[dict[str, Any]]:
        page, page_count = 1, 1
        while page <= page_count:
            params = {
                "page": str(page),
                "page_size": str(self._page_size),
                "columns": QUEUE_COLUMNS,
                "sort": "name",
            }
            body = self._get(path, params, counts, endpoint="queues", out_of_range_ok=True)
            if body is None:
                return  # queues were deleted while paging: the remaining pages are gone
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise BrokerUnavailable(f"{self._base}{path} answered an unexpected document")
            yield from (i for i in body["items"] if isinstance(i, dict))
            page_count = int(body.get("page_count") or 0)
            page += 1

    def _topology(self, counts: dict[str, int]) -> tuple[dict[tuple[str, str], str], list[Binding]]:
        exchanges: dict[tuple[str, str], str] = {}
        for path in self._scopes("exchanges"):
            for x in _items(self._get(path, {"columns": EXCHANGE_COLUMNS}, counts)):
                exchanges[(str(x.get("vhost", "/")), str(x.get("name", "")))] = str(x.get("type"))
        bindings: list[Binding] = []
        for path in self._scopes("bindings"):
            for b in _items(self._get(path, {"columns": BINDING_COLUMNS}, counts)):
                bindings.append(
                    Binding(
                        vhost=str(b.get("vhost", "/")),
                        source=str(b.get("source", "")),
                        destination=str(b.get("destination", "")),
                        destination_type=str(b.get("destination_type", "queue")),
                        routing_key=str(b.get("routing_key", "")),
                    )
                )
        return exchanges, bindings

    def _get(
        self,
        path: str,
        params: Mapping[str, str],
        counts: dict[str, int],
        endpoint: str = "",
        out_of_range_ok: bool = False,
    ) -> Any:
        """GET one management API document; translate every failure into our error tree."""
        endpoint = endpoint or path.split("/")[2]
        counts[endpoint] = counts.get(endpoint, 0) + 1
        url = self._base + path
        try:
            resp = self._session.get(url, params=params, timeout=self._timeout, verify=self._verify)
        except requests.exceptions.SSLError as exc:
            raise BrokerUnavailable(f"TLS error talking to {url}: {_reason(exc)}") from exc
        except requests.Timeout as exc:
            raise BrokerUnavailable(f"{url} timed out after {self._timeout:g} s") from exc
        except requests.RequestException as exc:
            raise BrokerUnavailable(f"cannot reach {url}: {_reason(exc)}") from exc
        if resp.status_code in (401, 403):
            raise BrokerAuthError(
                f"authentication failed for user {self.config.username} at {self._base}"
                f" (HTTP {resp.status_code})"
            )
        if resp.status_code == 400 and out_of_range_ok and "page_out_of_range" in resp.text:
            return None
        if resp.status_code == 404:
            raise BrokerUnavailable(f"{url} not found (HTTP 404): check the vhost names")
        if resp.status_code != 200:
            raise BrokerUnavailable(f"{url} answered HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            return resp.json()
        except ValueError as exc:
            raise BrokerUnavailable(f"{url} answered with something other than JSON") from exc


def _timed(phases: dict[str, float], phase: str, step: Callable[[], T]) -> T:
    started = time.monotonic()
    try:
        return step()
    finally:
        phases[phase] = time.monotonic() - started


def _items(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise BrokerUnavailable("the management API answered an unexpected document")
    return [i for i in body if isinstance(i, dict)]


def _reason(exc: BaseException) -> str:
    """A short cause without URLs or credentials: the innermost OS/SSL error when there is one."""
    inner: BaseException | None = exc
    while inner is not None:
        if isinstance(inner, ConnectionRefusedError):
            return "connection refused"
        if isinstance(inner, OSError) and inner.strerror:
            return inner.strerror
        inner = inner.__cause__ or inner.__context__
    text = redact(str(exc))
    return text if len(text) < 300 else text[:300] + "…"
