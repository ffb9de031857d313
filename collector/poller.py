"""The poll loop: one thread per cluster, each on the shared timer, each failing alone.

Each poll takes one `now`, asks the cluster's adapter for a snapshot stamped with it, folds it into
that cluster's history and publishes a fresh `ClusterView`. `/metrics` only renders the latest
views, so a slow or hung broker never slows a scrape, and one cluster never delays another.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from collector.brokers.base import BrokerAdapter
from collector.compute.view import ViewSettings, build_view
from collector.errors import BrokerAuthError, BrokerError
from collector.history import ClusterHistory
from collector.model import ClusterSnapshot, ClusterView
from collector.redact import redact

log = logging.getLogger(__name__)

SnapshotHook = Callable[[ClusterSnapshot], None]


class ClusterPoller:
    """Polls one cluster until stopped; `view` is the latest result (None before the first)."""

    def __init__(
        self,
        adapter: BrokerAdapter,
        interval: float,
        settings: ViewSettings,
        hooks: Sequence[SnapshotHook] = (),
        clock: Callable[[], float] = time.time,
        status_window: int = 10,
        end_points_limit: int = 60,
    ) -> None:
        self.adapter = adapter
        self.interval = interval
        self.settings = settings
        self.hooks = list(hooks)
        self.clock = clock
        self.history = ClusterHistory(window=status_window, end_points_limit=end_points_limit)
        self.view: ClusterView | None = None
        self._was_up: bool | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"poll-{adapter.cluster}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.adapter.close()

    def poll_once(self) -> ClusterView:
        now = self.clock()
        started = time.monotonic()
        try:
            snap = self.adapter.snapshot(now)
        except BrokerError as exc:
            view = self._failed(now, exc)
        except Exception as exc:  # a bug in an adapter must not kill the loop or the server
            log.exception("unexpected error polling cluster %s", self.adapter.cluster)
            view = self._failed(now, exc)
        else:
            self.history.observe(snap)
            view = build_view(snap, self.history, self.settings)
            for hook in self.hooks:
                try:
                    hook(snap)
                except Exception:
                    log.exception("snapshot hook failed for cluster %s", self.adapter.cluster)
            self._log_state(True, "")
        elapsed = time.monotonic() - started
        if elapsed > self.interval:
            self.history.poll_overruns += 1
            view = replace(view, poll_overruns=self.history.poll_overruns)
        phases = dict(view.phase_seconds)
        phases["total"] = elapsed
        self.view = replace(view, phase_seconds=phases)
        return self.view

    def _failed(self, now: float, exc: BaseException) -> ClusterView:
        """collector_up=0 for this cluster; its last known lag stays, flat, until it is back.

        Keeping the last values (rather than dropping the series) lets the broker-unreachable
        alert inhibit the cluster's lag alerts instead of every lag alert resolving and then
        firing again when the broker returns. `last_success_timestamp` says how old they are.
        """
        auth = isinstance(exc, BrokerAuthError)
        message = redact(str(exc)) or type(exc).__name__  # shown by /api/clusters
        self._log_state(False, message)
        if self.view is not None and self.view.last_success_at is not None:
            return replace(
                self.view,
                up=False,
                auth_failed=auth,
                polled_at=now,
                error=message,
                phase_seconds={},
            )
        return ClusterView(
            broker=self.adapter.broker,
            cluster=self.adapter.cluster,
            up=False,
            auth_failed=auth,
            polled_at=now,
            last_success_at=self.history.last_success_at,
            error=message,
            produced_total={k: c.total for k, c in self.history.produced.items()},
            consumed_total={k: c.total for k, c in self.history.consumed.items()},
            requests_total=dict(self.history.requests_total),
            poll_overruns=self.history.poll_overruns,
            series_budget=self.settings.series_budget,
        )

    def _log_state(self, up: bool, message: str) -> None:
        """One log line per state change, not one per failed poll."""
        if up == self._was_up:
            return
        name = f"{self.adapter.broker.value} cluster {self.adapter.cluster}"
        if up:
            log.info("%s is up", name)
        else:
            log.warning("%s is unreachable: %s", name, message)
        self._was_up = up

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.poll_once()
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay < 0:  # overran: start the next poll now, do not queue up missed ones
                next_at = time.monotonic()
                delay = 0
            self._stop.wait(delay)


class Poller:
    """All clusters' pollers; `views()` is what the exporter renders."""

    def __init__(self, pollers: Sequence[ClusterPoller]) -> None:
        self.pollers = list(pollers)

    def start(self) -> None:
        for p in self.pollers:
            p.start()

    def stop(self) -> None:
        for p in reversed(self.pollers):
            p.stop()

    def views(self) -> list[ClusterView]:
        return [p.view for p in self.pollers if p.view is not None]
