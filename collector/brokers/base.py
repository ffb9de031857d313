"""The protocol every broker adapter implements."""

from __future__ import annotations

from typing import Protocol

from collector.model import Broker, ClusterSnapshot


class BrokerAdapter(Protocol):
    """Reads one cluster. `snapshot` raises `BrokerUnavailable` / `BrokerAuthError` on failure.

    An adapter never reads the clock for what it reports: every value is stamped with `now`.
    It may keep caches (metadata, connections) between polls; `close` releases them.
    """

    broker: Broker
    cluster: str

    def snapshot(self, now: float) -> ClusterSnapshot: ...

    def close(self) -> None: ...
