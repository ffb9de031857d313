"""Dashboard settings from environment variables, and the shared view filters.

Environment (all optional):

    EVENTSCOPE_PROMETHEUS_URL      http://127.0.0.1:9090
    EVENTSCOPE_COLLECTOR_URL       http://127.0.0.1:9308
    EVENTSCOPE_COLLECTOR_TOKEN     bearer token when the collector sets api_token (never shown)
    EVENTSCOPE_TRACE_UI_URL        link template for a journey in Jaeger/Tempo, with {trace_id}
                                   and/or {correlation_id}, e.g.
                                   http://127.0.0.1:16686/trace/{trace_id}
    EVENTSCOPE_RATE_WINDOW         1m   (PromQL range for rate(); >= 4 scrape intervals)
    EVENTSCOPE_HTTP_TIMEOUT_SECONDS 3
    EVENTSCOPE_TAP_GROUP           eventscope-tap  (the collector's trace tap group, left out of
                                   the flow graph: it reads every topic but is no pipeline step)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from collector.redact import redact

APP = Path(__file__).resolve().parent / "app.py"

DEFAULT_PROMETHEUS_URL = "http://127.0.0.1:9090"
DEFAULT_COLLECTOR_URL = "http://127.0.0.1:9308"

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SettingsError(ValueError):
    """An environment variable holds a value the dashboard cannot use."""


def duration_seconds(text: str) -> int:
    """Seconds in a Prometheus-style duration with one unit: "90s" -> 90, "15m" -> 900."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise SettingsError(f"{text!r} is not a duration like 30s, 15m, 1h or 1d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass(frozen=True)
class DashboardSettings:
    prometheus_url: str = DEFAULT_PROMETHEUS_URL
    collector_url: str = DEFAULT_COLLECTOR_URL
    trace_ui_url: str | None = None
    rate_window: str = "1m"
    http_timeout_seconds: float = 3.0
    collector_token: str | None = field(default=None, repr=False)
    tap_group: str = "eventscope-tap"


def settings_from_env(env: Mapping[str, str]) -> DashboardSettings:
    """Read the settings; a bad value fails with the variable's name and the reason."""
    window = env.get("EVENTSCOPE_RATE_WINDOW", "1m").strip() or "1m"
    duration_seconds(window)  # validate early, with the key in the message below
    timeout_text = env.get("EVENTSCOPE_HTTP_TIMEOUT_SECONDS", "3").strip() or "3"
    try:
        timeout = float(timeout_text)
    except ValueError as exc:
        raise SettingsError(
            f"EVENTSCOPE_HTTP_TIMEOUT_SECONDS={timeout_text!r} is not a number of seconds"
        ) from exc
    if timeout <= 0:
        raise SettingsError("EVENTSCOPE_HTTP_TIMEOUT_SECONDS must be above 0")
    return DashboardSettings(
        prometheus_url=_url(env, "EVENTSCOPE_PROMETHEUS_URL", DEFAULT_PROMETHEUS_URL),
        collector_url=_url(env, "EVENTSCOPE_COLLECTOR_URL", DEFAULT_COLLECTOR_URL),
        trace_ui_url=env.get("EVENTSCOPE_TRACE_UI_URL", "").strip() or None,
        rate_window=window,
        http_timeout_seconds=timeout,
        collector_token=env.get("EVENTSCOPE_COLLECTOR_TOKEN", "").strip() or None,
        tap_group=env.get("EVENTSCOPE_TAP_GROUP", "").strip() or "eventscope-tap",
    )


def _url(env: Mapping[str, str], key: str, default: str) -> str:
    value = env.get(key, "").strip() or default
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{key}={redact(value)!r} must start with http:// or https://")
    return value.rstrip("/")


# Time ranges offered in the sidebar and accepted in ?range=…; step keeps ~180 points per chart.
TIME_RANGES: tuple[str, ...] = ("5m", "15m", "1h", "3h", "6h", "12h", "24h", "2d", "7d")
DEFAULT_TIME_RANGE = "1h"
# Offered as ?refresh=off|5s|…; a bound widget writes its option's text into the URL.
REFRESH_CHOICES: tuple[str, ...] = ("off", "5s", "15s", "30s", "1m")
DEFAULT_REFRESH = "15s"
DEFAULT_REFRESH_SECONDS = 15


def refresh_seconds(choice: str | None) -> int:
    """Seconds between panel refreshes: "off" -> 0, "30s" -> 30, "1m" -> 60."""
    return 0 if choice in (None, "", "off") else duration_seconds(str(choice))


ALL_CLUSTERS = "All clusters"


def step_seconds(range_seconds: int, points: int = 180) -> int:
    """Query step for a range: range / points, at least 1 s. 3600 s over 180 points -> 20 s."""
    return max(1, range_seconds // points)


@dataclass(frozen=True)
class ViewFilters:
    """What the shared sidebar selected: every page's queries take this."""

    cluster: str | None  # None = all clusters
    time_range: str = DEFAULT_TIME_RANGE
    refresh_seconds: int = DEFAULT_REFRESH_SECONDS

    @property
    def range_seconds(self) -> int:
        return duration_seconds(self.time_range)

    @property
    def step(self) -> int:
        return step_seconds(self.range_seconds)


# The allocators of the served dashboard, unless the environment says otherwise: two glibc malloc
# arenas (as the collector, collector/memory.py), pyarrow on that same malloc instead of its
# bundled mimalloc (Streamlit turns every table and chart into Arrow), and glibc's mmap threshold
# fixed at its 128 KiB default. Left dynamic, glibc raises that threshold to the size of each
# large block freed, up to 32 MiB, so a visit's big short-lived buffers (Prometheus JSON, frames,
# Arrow, protobuf) land in the heap among long-lived small objects and the heap cannot shrink
# back: Python's own objects stayed flat under the 10x soak while the RSS climbed. Fixed, every
# block of 128 KiB or more is its own mapping, returned when freed (benchmarks.md §6).
ALLOCATOR_ENV = {
    "MALLOC_ARENA_MAX": "2",
    "MALLOC_MMAP_THRESHOLD_": "131072",
    "MALLOC_TRIM_THRESHOLD_": "131072",
    "ARROW_DEFAULT_MEMORY_POOL": "system",
}


def streamlit_env(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` plus ALLOCATOR_ENV where `environ` does not set those variables itself."""
    return {**ALLOCATOR_ENV, **environ}


def streamlit_argv(address: str, port: int, app: Path = APP) -> list[str]:
    """`python -m streamlit run` arguments for serving `app` on address:port, the one command line
    for `eventscope dashboard`, the demo and the benchmarks. Streamlit's development file watcher
    is off: after every script run it resolves the path of every imported module on the server's
    event loop (11 s of a 40 s visit of Throughput at ?range=5m under py-spy, docs/benchmarks.md
    §6), and a served dashboard never reloads its own source."""
    return [
        "-m", "streamlit", "run", str(app),
        "--server.headless", "true",
        "--server.address", address,
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
