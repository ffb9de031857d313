"""The collector's own errors. Adapters translate library exceptions into these.

EventscopeError
├── ConfigError            bad config: names the key and the reason; raised before connecting
└── BrokerError            one cluster could not be read this poll
    ├── BrokerUnavailable  unreachable, timed out, or answered with an error
    └── BrokerAuthError    the broker refused our credentials
"""

from __future__ import annotations


class EventscopeError(Exception):
    """Base of every error eventscope raises on purpose."""


class ConfigError(EventscopeError):
    """The configuration is wrong; `key` is the dotted path of the offending key."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"config error at {key}: {reason}" if key else f"config error: {reason}")
        self.key = key
        self.reason = reason


class BrokerError(EventscopeError):
    """A broker could not be read during a poll."""


class BrokerUnavailable(BrokerError):
    """The broker is unreachable, timed out, or answered with an error."""


class BrokerAuthError(BrokerError):
    """The broker refused our credentials."""
