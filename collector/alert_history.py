"""Alertmanager notifications received by the webhook, kept in a small SQLite file.

The same interface as the in-memory `http_api.Notifications` (`add(payload, now)`,
`newest_first()`), so the HTTP layer does not care which one it holds; this one survives a
collector restart. Its own file (`webhook_history_path`, default `.eventscope/alerts.db`, next
to the trace store's default) rather than the trace store's: notifications must be kept when
tracing is off, and the trace store's retention and writer thread are about hops.

Bounded twice, newest kept: at most `limit` notifications and at most `max_bytes` of JSON
bodies (a notification larger than `max_bytes` on its own is not kept). Freed pages are reused,
so the file stays near `max_bytes` plus SQLite's overhead.

`received` counts notifications by status since this process started (firing, resolved, or
other: the label comes from an HTTP body, so its values are fixed here), for
`eventscope_alert_notifications_total`; like every Prometheus counter it restarts at 0.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATUSES = ("firing", "resolved")
SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    body        BLOB NOT NULL
);
"""


class HistoryError(RuntimeError):
    """The history file could not be opened (read-only directory, not a database, …)."""


def notification_status(payload: dict[str, Any]) -> str:
    """The bounded `status` label: Alertmanager's firing / resolved, anything else "other"."""
    status = payload.get("status")
    return status if status in STATUSES else "other"


class AlertHistory:
    """The newest notifications in SQLite at `path` (":memory:" keeps them in this process)."""

    def __init__(self, path: str | Path, limit: int = 500, max_bytes: int = 16 << 20) -> None:
        self.path = str(path)
        self.limit = max(1, limit)
        self.max_bytes = max(1, max_bytes)
        self.received: dict[str, int] = {}
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            with self._db:
                self._prune()  # the bounds may have been lowered since the file was written
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot open alert history {self.path}: {exc}") from exc

    def add(self, payload: dict[str, Any], now: float) -> None:
        """Keep one notification (stamped `received_at`), then drop the oldest over the bounds."""
        body = json.dumps({**payload, "received_at": now}, default=str).encode()
        status = notification_status(payload)
        with self._lock:
            self.received[status] = self.received.get(status, 0) + 1
            if len(body) > self.max_bytes:
                log.warning(
                    "alert notification of %d bytes not kept: over webhook_history_bytes (%d)",
                    len(body),
                    self.max_bytes,
                )
                return
            with self._db:  # one transaction: insert and prune together
                self._db.execute(
                    "INSERT INTO notifications (received_at, body) VALUES (?, ?)", (now, body)
                )
                self._prune()

    def newest_first(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM notifications ORDER BY id DESC").fetchall()
        return [json.loads(body) for (body,) in rows]

    def newest_first_json(self) -> bytes:
        """`{"notifications": [...]}` newest first, joined from the stored JSON (no decoding)."""
        with self._lock:
            rows = self._db.execute("SELECT body FROM notifications ORDER BY id DESC").fetchall()
        return b'{"notifications":[' + b",".join(bytes(body) for (body,) in rows) + b"]}"

    def received_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.received)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _prune(self) -> None:
        """Keep the newest `limit` rows whose bodies add up to at most `max_bytes`."""
        self._db.execute(
            """
            DELETE FROM notifications WHERE id IN (
                SELECT id FROM (
                    SELECT id,
                           ROW_NUMBER() OVER (ORDER BY id DESC) AS n,
                           SUM(length(body)) OVER (ORDER BY id DESC) AS running
                    FROM notifications
                ) WHERE n > ? OR running > ?
            )
            """,
            (self.limit, self.max_bytes),
        )
