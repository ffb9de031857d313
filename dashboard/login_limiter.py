"""Repeated wrong dashboard passwords from one client lock that client out, for longer each time.

Rule: `max_failures` wrong passwords within `window_seconds` lock the client out for
`base_lockout_seconds`; each further lockout doubles it, up to `max_lockout_seconds`. While
locked out a try is refused without looking at the password. A right password clears the
client's record; so do `max_lockout_seconds` without a failure.

    5 failures at t=0..4 → locked until t=34 (30 s); 5 more at t=34..38 → until t=98 (60 s)

Pure: times are passed in (the gate reads the clock), nothing here does I/O. What a "client"
is, is the caller's choice (dashboard/gate.py: the connection's IP address).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)  # times, within the window
    lockouts: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


@dataclass
class LoginLimiter:
    max_failures: int = 5
    window_seconds: float = 300.0
    base_lockout_seconds: float = 30.0
    max_lockout_seconds: float = 900.0
    max_clients: int = 10_000  # records kept; the least recently failing are dropped beyond it
    _records: dict[str, _Record] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # one per server: many sessions

    def retry_after(self, client: str, now: float) -> float:
        """Seconds until `client` may try again; 0 when it may try now."""
        with self._lock:
            record = self._current(client, now)
            return max(0.0, record.locked_until - now) if record else 0.0

    def failed(self, client: str, now: float) -> float:
        """Count a wrong password; returns the lockout it started (0 when none)."""
        with self._lock:
            record = self._current(client, now) or _Record()
            self._records[client] = record
            record.last_failure = now
            record.failures = [t for t in record.failures if now - t < self.window_seconds]
            record.failures.append(now)
            if len(record.failures) < self.max_failures:
                self._bound()
                return 0.0
            lockout = min(self.base_lockout_seconds * 2**record.lockouts, self.max_lockout_seconds)
            record.lockouts += 1
            record.failures = []
            record.locked_until = now + lockout
            self._bound()
            return lockout

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._records.pop(client, None)

    def _current(self, client: str, now: float) -> _Record | None:
        """The client's record, forgotten once quiet for `max_lockout_seconds` after a lockout."""
        record = self._records.get(client)
        quiet_since = max(record.last_failure, record.locked_until) if record else 0.0
        if record is not None and now - quiet_since >= self.max_lockout_seconds:
            del self._records[client]
            return None
        return record

    def _bound(self) -> None:
        if len(self._records) > self.max_clients:
            oldest = min(self._records, key=lambda c: self._records[c].last_failure)
            del self._records[oldest]
