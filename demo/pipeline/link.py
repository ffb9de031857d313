"""The one interface the services use to reach a broker, whichever broker it is.

A `Link` is one thread's connection for one service: it publishes events and, while the
service runs, receives the events of that service's queue or consumer group. Neither client
library is shared across threads here (pika connections must not be), so each worker thread
opens its own link. Failures of the broker itself surface as `LinkError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from demo.pipeline.events import Event


class LinkError(RuntimeError):
    """The broker refused or lost a request (publish not confirmed, connection closed...)."""


@dataclass(frozen=True)
class Received:
    """One delivered message: the event, or why it could not be read (then `event` is None)."""

    event: Event | None
    malformed: str
    where: str  # "orders.placed/1@42" or the queue name, for logs
    handle: Any  # the client's message object, to ack/commit/dead-letter it


class Link(Protocol):
    def publish(self, event: Event) -> None:
        """Send and wait until the broker has it (delivery report / publisher confirm)."""

    def start_consuming(self) -> None:
        """Join the service's consumer group / attach a consumer to its queue."""

    def stop_consuming(self) -> None:
        """Leave the group / cancel the queue consumer; unsettled messages are redelivered."""

    def receive(self, timeout: float) -> Received | None: ...

    def settle(self, received: Received) -> None:
        """Processing is done: commit the offset / ack the delivery."""

    def dead_letter(self, received: Received, error: str, retries: int) -> None:
        """Move the message to the dead-letter topic/queue, then settle it."""

    def idle(self, seconds: float) -> None:
        """Wait while keeping the connection healthy (pika only answers heartbeats when called)."""

    def close(self) -> None: ...
