"""HTTP clients for Prometheus and the collector API, with failures in plain words.

Every failure is translated into the dashboard's own error tree, whose message a page can show
as it is:

    SourceError                 "<what> at <url> …" — the base; catch this in the data layer
    ├── SourceUnreachable       connection refused, DNS failure, no answer within the timeout
    ├── SourceRejected          an HTTP error status, or Prometheus said status=error
    │   └── SourceMissing       404: the endpoint (or the thing asked for) is not there
    └── SourceGarbled           the answer is not the JSON shape the contract promises
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote as url_quote

import requests

from collector.redact import redact


class SourceError(Exception):
    """A data source failed; `str(err)` is a sentence a user can read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SourceUnreachable(SourceError):
    pass


class SourceRejected(SourceError):
    pass


class SourceMissing(SourceRejected):
    pass


class SourceGarbled(SourceError):
    pass


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "Connection refused" in text:
            return "connection refused (is it running?)"
        if "Name or service not known" in text or "getaddrinfo" in text:
            return "host name not found"
        return "connection failed"
    return type(exc).__name__


class JsonSource:
    """GET JSON from one base URL; `what` names the source in messages ("Prometheus")."""

    def __init__(
        self,
        what: str,
        base_url: str,
        timeout: float,
        session: requests.Session | None = None,
        token: str | None = None,
    ) -> None:
        self.what = what
        self.base_url = base_url.rstrip("/")
        self.shown_url = redact(self.base_url)  # what messages name: no userinfo password
        self.timeout = timeout
        self._session = session or requests.Session()
        if token:  # never logged or shown: messages name the URL only
            self._session.headers["Authorization"] = f"Bearer {token}"

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        url = self.base_url + path
        try:
            resp = self._session.get(url, params=params, timeout=self.timeout)
        except requests.Timeout as exc:  # before ConnectionError: ConnectTimeout is both
            raise SourceUnreachable(
                f"{self.what} at {self.shown_url} did not answer within {self.timeout:g} s."
            ) from exc
        except requests.RequestException as exc:
            raise SourceUnreachable(
                f"{self.what} at {self.shown_url} is unreachable: {_reason(exc)}."
            ) from exc
        try:
            body = resp.json()
        except ValueError as exc:
            if resp.status_code == 404:
                raise SourceMissing(
                    f"{self.what} at {self.shown_url} has no {path} (HTTP 404)."
                ) from exc
            if resp.status_code >= 400:
                raise SourceRejected(
                    f"{self.what} at {self.shown_url} answered HTTP {resp.status_code} to {path}."
                ) from exc
            raise SourceGarbled(
                f"{self.what} at {self.shown_url} sent something that is not JSON for {path}."
            ) from exc
        detail = body.get("error") if isinstance(body, dict) else None
        if resp.status_code == 404:
            raise SourceMissing(
                f"{self.what} at {self.shown_url} has no {path}"
                + (f": {detail}." if detail else " (HTTP 404).")
            )
        if resp.status_code >= 400:
            raise SourceRejected(
                f"{self.what} at {self.shown_url} answered HTTP {resp.status_code} to {path}"
                + (f": {detail}" if detail else ".")
            )
        return body


def _field(body: Any, key: str, source: JsonSource, path: str) -> Any:
    if not isinstance(body, dict) or key not in body:
        raise SourceGarbled(
            f"{source.what} at {source.shown_url} sent no {key!r} in its answer to {path}."
        )
    return body[key]


class PrometheusClient:
    """The Prometheus HTTP API v1: instant and range queries, alerts, rules."""

    def __init__(
        self, base_url: str, timeout: float, session: requests.Session | None = None
    ) -> None:
        self._http = JsonSource("Prometheus", base_url, timeout, session)

    def _data(self, path: str, params: dict[str, Any] | None = None) -> Any:
        body = self._http.get_json(path, params)
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error", "unknown error") if isinstance(body, dict) else "no status"
            raise SourceRejected(f"Prometheus at {self._http.shown_url} refused {path}: {error}.")
        return _field(body, "data", self._http, path)

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant vector: [{"metric": {labels}, "value": [ts, "1.5"]}, …]."""
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = at
        data = self._data("/api/v1/query", params)
        return self._result(data, "vector", promql)

    def query_range(
        self, promql: str, start: float, end: float, step: float
    ) -> list[dict[str, Any]]:
        """Range matrix: [{"metric": {labels}, "values": [[ts, "1.5"], …]}, …]."""
        params = {"query": promql, "start": start, "end": end, "step": step}
        data = self._data("/api/v1/query_range", params)
        return self._result(data, "matrix", promql)

    def _result(self, data: Any, kind: str, promql: str) -> list[dict[str, Any]]:
        if not isinstance(data, dict) or data.get("resultType") != kind:
            got = data.get("resultType") if isinstance(data, dict) else type(data).__name__
            raise SourceGarbled(
                f"Prometheus at {self._http.shown_url} answered {got} instead of a {kind} "
                f"for {promql}."
            )
        return list(data.get("result") or [])

    def alerts(self) -> list[dict[str, Any]]:
        data = self._data("/api/v1/alerts")
        alerts = _field(data, "alerts", self._http, "/api/v1/alerts")
        return list(alerts)

    def rule_groups(self) -> list[dict[str, Any]]:
        data = self._data("/api/v1/rules")
        return list(_field(data, "groups", self._http, "/api/v1/rules"))


class CollectorClient:
    """The collector's JSON API: groups, alert notifications, traces (journeys); `token` is
    the collector's api_token when it requires one."""

    def __init__(
        self,
        base_url: str,
        timeout: float,
        session: requests.Session | None = None,
        token: str | None = None,
    ) -> None:
        self._http = JsonSource("The collector API", base_url, timeout, session, token)

    def groups(self) -> list[dict[str, Any]]:
        body = self._http.get_json("/api/groups")
        return list(_field(body, "groups", self._http, "/api/groups"))

    def group(self, group: str, cluster: str | None = None) -> dict[str, Any]:
        """One group with its members and lag per member (`/api/groups/{group}`)."""
        path = "/api/groups/" + url_quote(group, safe="")
        body = self._http.get_json(path, {"cluster": cluster} if cluster else None)
        _field(body, "member_list", self._http, "/api/groups/{group}")
        return dict(body)

    def notifications(self) -> list[dict[str, Any]]:
        path = "/api/alerts/notifications"
        body = self._http.get_json(path)
        return list(_field(body, "notifications", self._http, path))

    def journey(self, correlation_id: str) -> dict[str, Any]:
        path = "/api/traces/" + url_quote(correlation_id, safe="")
        body = self._http.get_json(path)
        _field(body, "hops", self._http, "/api/traces/{id}")
        return dict(body)

    def traces(self, status: str, since: float | None, limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"status": status, "limit": limit}
        if since is not None:
            params["since"] = since
        body = self._http.get_json("/api/traces", params)
        return list(_field(body, "traces", self._http, "/api/traces"))
