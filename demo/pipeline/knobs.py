"""Runtime knobs (rate, slow, stop, poison, burst) shared by the control endpoint and the
workers. Every method takes the lock: the HTTP thread writes while worker threads read."""

from __future__ import annotations

import threading
from typing import Any

from demo.pipeline.config import PipelineConfig
from demo.pipeline.events import ALL_CONSUMERS

# A pika connection answers heartbeats only between events: keep one event's pause well under
# RabbitMQ's 60 s heartbeat timeout.
MAX_SLOW_MS = 30_000


class UnknownService(ValueError):
    pass


def check_service(service: str) -> str:
    if service not in ALL_CONSUMERS:
        raise UnknownService(f"unknown service {service!r}; one of {', '.join(ALL_CONSUMERS)}")
    return service


class Knobs:
    def __init__(self, config: PipelineConfig) -> None:
        self._lock = threading.Lock()
        self._order_rate = config.order_rate
        self._interaction_rate = config.interaction_rate
        self._poison_rate = config.poison_rate
        self._slow_ms: dict[str, int] = {}
        self._stopped: set[str] = set()
        self._bursts: dict[str, int] = {b: 0 for b in config.brokers()}

    def order_rate(self) -> float:
        with self._lock:
            return self._order_rate

    def interaction_rate(self) -> float:
        with self._lock:
            return self._interaction_rate

    def poison_rate(self) -> float:
        with self._lock:
            return self._poison_rate

    def slow_ms(self, service: str) -> int:
        with self._lock:
            return self._slow_ms.get(service, 0)

    def is_stopped(self, service: str) -> bool:
        with self._lock:
            return service in self._stopped

    def set_rate(self, orders: float | None = None, interactions: float | None = None) -> None:
        for value in (orders, interactions):
            if value is not None and value < 0:
                raise ValueError("rates must be >= 0")
        with self._lock:
            if orders is not None:
                self._order_rate = float(orders)
            if interactions is not None:
                self._interaction_rate = float(interactions)

    def set_poison_rate(self, rate: float) -> None:
        if not 0 <= rate <= 1:
            raise ValueError("poison rate must be within 0..1")
        with self._lock:
            self._poison_rate = float(rate)

    def set_slow(self, service: str, ms: int) -> None:
        if not 0 <= ms <= MAX_SLOW_MS:
            raise ValueError(f"ms must be within 0..{MAX_SLOW_MS}")
        with self._lock:
            self._slow_ms[check_service(service)] = int(ms)

    def set_stopped(self, service: str, stopped: bool) -> None:
        with self._lock:
            if stopped:
                self._stopped.add(check_service(service))
            else:
                self._stopped.discard(check_service(service))

    def add_burst(self, orders: int) -> None:
        if orders < 0:
            raise ValueError("orders must be >= 0")
        with self._lock:
            for broker in self._bursts:
                self._bursts[broker] += int(orders)

    def take_burst(self, broker: str) -> int:
        with self._lock:
            pending, self._bursts[broker] = self._bursts[broker], 0
            return pending

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "order_rate": self._order_rate,
                "interaction_rate": self._interaction_rate,
                "poison_rate": self._poison_rate,
                "slow_ms": dict(self._slow_ms),
                "stopped": sorted(self._stopped),
                "pending_burst": dict(self._bursts),
            }
