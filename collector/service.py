"""Wire a `Config` into a running collector: adapters → pollers → exporter → HTTP server.

Like Burrow's subsystems: everything is built (and its config checked) first, then started, then
stopped in reverse order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from collector.alert_history import AlertHistory, HistoryError
from collector.brokers import adapter_for
from collector.compute.view import ViewSettings
from collector.config import Config, KafkaCluster, parse_listen
from collector.errors import ConfigError
from collector.exporters.notifications import NotificationsCollector
from collector.exporters.prometheus import ViewCollector
from collector.exporters.topology import (
    ClusterTopology,
    TopologyCollector,
    topologies,
    topology_json,
)
from collector.http_api import ApiContext, make_server
from collector.model import ClusterSnapshot
from collector.poller import ClusterPoller, Poller, SnapshotHook
from collector.sharding import ShardFilter
from collector.web.config import validate_web

log = logging.getLogger(__name__)


@dataclass
class CollectorService:
    config: Config
    listen: str
    poller: Poller = field(init=False)
    registry: CollectorRegistry = field(init=False)
    notifications: AlertHistory = field(init=False)
    traces: Any = field(init=False, default=None)
    _server: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        cfg = self.config
        self.host, self.port = parse_listen(self.listen, "listen")
        try:  # first: a bad path fails the start before anything else is opened
            self.notifications = AlertHistory(
                cfg.webhook_history_path or ":memory:",
                limit=cfg.webhook_history,
                max_bytes=cfg.webhook_history_bytes,
            )
        except HistoryError as exc:
            raise ConfigError("webhook_history_path", str(exc)) from exc
        self.traces = build_trace_service(cfg)
        hooks: list[SnapshotHook] = []
        if self.traces is not None:
            hooks.append(self._record_consumption)
        shard = ShardFilter.from_config(cfg.shard)
        settings = ViewSettings(
            min_observations=cfg.status_window.min_commits,
            series_budget=cfg.series_budget,
            dlq_patterns=cfg.dlq_patterns,
            shard=shard,
        )
        pollers = []
        for cluster in cfg.clusters:
            adapter = adapter_for(
                cluster,
                dlq_patterns=cfg.dlq_patterns,
                shard=shard,
                poll_seconds=cfg.poll_interval_seconds,
            )
            pollers.append(
                ClusterPoller(
                    adapter,
                    cfg.poll_interval_seconds,
                    settings,
                    hooks=hooks,
                    status_window=cfg.status_window.commits,
                    end_points_limit=(
                        cluster.lag_seconds.history_points
                        if isinstance(cluster, KafkaCluster)
                        else 60
                    ),
                )
            )
        self.poller = Poller(pollers)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(
            ViewCollector(self.poller.views, cfg.thresholds, cfg.poll_interval_seconds)
        )
        self.registry.register(TopologyCollector(self.topology))
        if self.traces is not None:
            self.registry.register(self.traces.collector())
        self.registry.register(NotificationsCollector(self.notifications.received_counts))
        self.web_file = validate_web(cfg.web)  # the web config file, read and checked once more

    def _record_consumption(self, snap: ClusterSnapshot) -> None:
        """Tell the trace store how far each group got, so hops learn who consumed them."""
        for group in snap.groups:
            if group.committed:
                self.traces.record_consumption(
                    snap.cluster, group.group, group.committed, snap.taken_at
                )

    def topology(self) -> list[ClusterTopology]:
        """Routing the adapters saw (EventBridge), with queue → service from group_services."""
        adapters = [p.adapter for p in self.poller.pollers]
        return topologies(adapters, self.config.tracing.group_services)

    def start(self) -> None:
        ctx = ApiContext(
            registry=self.registry,
            views=self.poller.views,
            notifications=self.notifications,
            api_token=self.config.api_token,
            traces=self.traces,
            topology=lambda: topology_json(self.topology()),
        )
        self._server = make_server(self.host, self.port, ctx, self.config.web, self.web_file)
        self._server.start()
        self.port = self._server.port
        if self.traces is not None:
            self.traces.start()
        self.poller.start()
        log.info(
            "collector serving on %s://%s:%d/metrics, polling %d cluster(s) every %.0f s",
            self._server.scheme,
            self.host,
            self.port,
            len(self.config.clusters),
            self.config.poll_interval_seconds,
        )

    def stop(self) -> None:
        self.poller.stop()
        if self.traces is not None:
            self.traces.stop(5.0)
        if self._server is not None:
            self._server.stop()
        self.notifications.close()  # after the server: no webhook request is still writing


def build_trace_service(cfg: Config) -> Any:
    tracing = getattr(cfg, "tracing", None)
    if tracing is None or not getattr(tracing, "enabled", False):
        return None
    from collector.tracing.service import TraceService

    return TraceService(cfg)


def kafka_clusters(cfg: Config) -> list[KafkaCluster]:
    return [c for c in cfg.clusters if isinstance(c, KafkaCluster)]
