"""The collector's configuration: YAML, then env-var overrides, validated before anything starts.

Every section is a frozen dataclass; `load_config` walks the dataclass fields, so an unknown key,
a wrong type or a missing required field raises `ConfigError` naming the dotted key. Strings may
reference env vars as `${NAME}` (how secrets reach the config without being written in it).

Env-var overrides use the key path after `EVENTSCOPE__`, `__` between levels, clusters by name:

    EVENTSCOPE__poll_interval_seconds=5
    EVENTSCOPE__clusters__local__bootstrap_servers=broker:9092

Values are read as YAML scalars (`5` is an int, `true` a bool). The reference for every key is
`deploy/eventscope.example.yml`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from collector.config_bounds import RANGE, bounded
from collector.config_yaml import parse_yaml, shown
from collector.errors import ConfigError
from collector.tracing.config import TracingConfig, validate_tracing
from collector.web.config import WebConfig, validate_web

ENV_PREFIX = "EVENTSCOPE__"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

DEFAULT_DLQ_PATTERNS = ("*.dlq", "*-dlq", "dlq.*", "*.DLT")
MAX_MESSAGES = 10**15
MAX_SECONDS = 10 * 365 * 86_400  # ten years


@dataclass(frozen=True)
class ThresholdRule:
    """Lag thresholds for the groups matching `match` (a glob on the group name)."""

    match: str
    messages: int | None = bounded(None, 0, MAX_MESSAGES)
    seconds: float | None = bounded(None, 0, MAX_SECONDS)


@dataclass(frozen=True)
class Thresholds:
    messages: int = bounded(1000, 0, MAX_MESSAGES)
    seconds: float = bounded(300.0, 0, MAX_SECONDS)
    groups: tuple[ThresholdRule, ...] = ()

    def for_group(self, group: str) -> tuple[int, float]:
        """The first matching rule wins per value; unmatched values use the defaults."""
        messages: int | None = None
        seconds: float | None = None
        for rule in self.groups:
            if fnmatch.fnmatchcase(group, rule.match):
                if messages is None:
                    messages = rule.messages
                if seconds is None:
                    seconds = rule.seconds
        return (
            self.messages if messages is None else messages,
            self.seconds if seconds is None else seconds,
        )


@dataclass(frozen=True)
class KafkaLagSeconds:
    """How lag in seconds is computed (see README "Lag in seconds")."""

    method: Literal["exact", "interpolated"] = "exact"
    # exact reads one record per lagging partition; above this many it falls back to interpolation
    exact_max_partitions: int = bounded(2000, 0, 1_000_000)
    # librdkafka's range; it also wants at least message.max.bytes (1000000 by default)
    fetch_max_bytes: int = bounded(1_048_576, 1024, 2_147_483_135)
    # the probe's fetch.wait.max.ms: a round after one that read to the log end waits for the fetch
    # still parked there, so librdkafka's 500 ms default would add half a second per round
    fetch_wait_max_ms: int = bounded(50, 0, 300_000)
    # the probe's time budget per poll: partitions it has not read by then are interpolated for
    # that poll (method="interpolated"), so a slow broker cannot make the poll overrun
    probe_timeout_seconds: float = bounded(2.0, 0, 3600, lo_open=True)
    history_points: int = bounded(60, 2, 100_000)  # interpolation needs two points


@dataclass(frozen=True)
class KafkaCluster:
    name: str
    bootstrap_servers: str
    kind: Literal["kafka"] = "kafka"
    client: Mapping[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    include_groups: tuple[str, ...] = ("*",)
    exclude_groups: tuple[str, ...] = ()
    include_topics: tuple[str, ...] = ("*",)
    exclude_topics: tuple[str, ...] = ("__*", "_schemas")
    # librdkafka's socket.timeout.ms range is 10..300000
    request_timeout_seconds: float = bounded(5.0, 0.01, 300)
    max_concurrency: int = bounded(64, 1, 1024)
    lag_seconds: KafkaLagSeconds = KafkaLagSeconds()


@dataclass(frozen=True)
class RabbitMQCluster:
    name: str
    management_url: str
    kind: Literal["rabbitmq"] = "rabbitmq"
    username: str = "guest"
    password: str = "guest"
    vhosts: tuple[str, ...] = ()
    include_queues: tuple[str, ...] = ("*",)
    exclude_queues: tuple[str, ...] = ("amq.*",)
    ca_file: str = ""
    request_timeout_seconds: float = bounded(5.0, 0, 300, lo_open=True)
    page_size: int = bounded(500, 1, 100_000)


@dataclass(frozen=True)
class AwsCluster:
    """SQS queues and EventBridge buses of one AWS account and region (docs/aws.md).

    Credentials come from the standard AWS chain (env, `profile`, instance/task role), never
    from this file: there are deliberately no key fields, so a key written here is an error.
    """

    name: str
    region: str
    kind: Literal["aws"] = "aws"
    endpoint_url: str = ""  # "" = the real AWS endpoints; set for an emulator (moto)
    profile: str = ""  # a named profile of the shared AWS config; "" = the default chain
    queue_prefixes: tuple[str, ...] = ()  # ListQueues prefixes; empty = every queue
    include_queues: tuple[str, ...] = ("*",)
    exclude_queues: tuple[str, ...] = ()
    event_buses: tuple[str, ...] = ()  # globs on bus names ("*" = all); empty = no EventBridge
    cloudwatch: bool = True  # read ApproximateAgeOfOldestMessage and message counts
    # its data is per minute: read it this often
    cloudwatch_interval_seconds: float = bounded(60.0, 0, 86_400)
    request_timeout_seconds: float = bounded(5.0, 0, 300, lo_open=True)
    max_concurrency: int = bounded(4, 1, 256)
    max_attempts: int = bounded(4, 1, 20)  # per request, throttling retries included


ClusterConfig = KafkaCluster | RabbitMQCluster | AwsCluster
CLUSTER_KINDS: dict[str, type[Any]] = {
    "kafka": KafkaCluster,
    "rabbitmq": RabbitMQCluster,
    "aws": AwsCluster,
}


@dataclass(frozen=True)
class StatusWindow:
    """Burrow's evaluation window: how many recent commits a partition's status looks at."""

    commits: int = bounded(10, 1, 10_000)
    min_commits: int = bounded(3, 1, 10_000)


@dataclass(frozen=True)
class Config:
    clusters: tuple[ClusterConfig, ...]
    poll_interval_seconds: float = bounded(15.0, 0.1, 86_400)
    listen: str = "127.0.0.1:9308"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    api_token: str = ""
    shard: str = ""
    series_budget: int = bounded(50_000, 0, 100_000_000)
    dlq_patterns: tuple[str, ...] = DEFAULT_DLQ_PATTERNS
    thresholds: Thresholds = Thresholds()
    status_window: StatusWindow = StatusWindow()
    webhook_history: int = bounded(500, 1, 100_000)
    # SQLite file of the notifications the webhook received ("" = memory only, lost on restart)
    webhook_history_path: str = ".eventscope/alerts.db"
    webhook_history_bytes: int = bounded(16 << 20, 1, 1 << 30)
    tracing: TracingConfig = field(default_factory=TracingConfig)
    web: WebConfig = field(default_factory=WebConfig)  # the listener: collector/web/config.py


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Read YAML from `path` (None = no file), apply env overrides, validate, return Config.

    `eventscope check-config` and `eventscope collect` both call this, so what one accepts the
    other runs: it also asks librdkafka about the Kafka client properties (config_preflight).
    """
    env = os.environ if env is None else env
    raw: Any = {}
    if path is not None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError("", f"cannot read {path}: {exc.strerror}") from exc
        raw = parse_yaml(data, str(path))
        raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError("", "the top level must be a mapping of keys")
    apply_env_overrides(raw, env)
    config = build(Config, raw, "", env)
    validate(config)
    from collector.config_preflight import check_with_libraries

    check_with_libraries(config)
    return config


def apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        node: Any = raw
        for i, part in enumerate(parts[:-1]):
            if part == "clusters" and i == 0:
                node = _cluster_by_name(raw, parts[i + 1] if i + 1 < len(parts) else "", name)
                parts_rest = parts[i + 2 :]
                if not parts_rest:
                    raise ConfigError(name, "names a cluster but no key of it")
                for sub in parts_rest[:-1]:
                    node = node.setdefault(sub, {})
                    if not isinstance(node, dict):
                        raise ConfigError(name, f"{sub} is not a section")
                node[parts_rest[-1]] = parse_yaml(value, name)
                break
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(name, f"{part} is not a section")
        else:
            node[parts[-1]] = parse_yaml(value, name)


def _cluster_by_name(raw: dict[str, Any], cluster: str, env_name: str) -> dict[str, Any]:
    clusters = raw.get("clusters")
    for item in clusters if isinstance(clusters, list) else []:
        if isinstance(item, dict) and str(item.get("name", "")).lower() == cluster:
            return item
    raise ConfigError(env_name, f"no cluster named {cluster!r} in the config file")


def build(cls: Any, value: Any, key: str, env: Mapping[str, str]) -> Any:
    """Build dataclass `cls` from `value`, checking every key and type (key = dotted path)."""
    if not isinstance(value, dict):
        raise ConfigError(key, f"expected a mapping, got {type(value).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(map(str, value)) - set(fields))
    if unknown:
        where = f"{key}.{unknown[0]}" if key else str(unknown[0])
        raise ConfigError(where, f"unknown key (known: {', '.join(sorted(fields))})")
    kwargs: dict[str, Any] = {}
    for name, fld in fields.items():
        sub = f"{key}.{name}" if key else name
        if name not in value:
            if fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
                raise ConfigError(sub, "is required")
            continue
        kwargs[name] = convert(hints[name], value[name], sub, env)
        limits = fld.metadata.get(RANGE)
        if limits is not None and kwargs[name] is not None:
            limits.check(kwargs[name], sub)
    return cls(**kwargs)


def convert(hint: Any, value: Any, key: str, env: Mapping[str, str]) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is ClusterConfig or (origin in (types.UnionType, typing.Union) and _is_clusters(args)):
        return _build_cluster(value, key, env)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return convert(inner[0], value, key, env)
    if origin is Literal:
        if value not in args:
            raise ConfigError(
                key, f"must be one of {', '.join(map(str, args))}, got {shown(value)}"
            )
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {type(value).__name__}")
        return tuple(convert(args[0], v, f"{key}[{i}]", env) for i, v in enumerate(value))
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {type(value).__name__}")
        return {str(k): convert(str, v, f"{key}.{k}", env) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return build(hint, value, key, env)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {shown(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected an integer, got {shown(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"expected a number, got {shown(value)}")
        return float(value)
    if hint is str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(key, f"expected a string, got {type(value).__name__}")
        return expand_env(str(value), key, env)
    raise ConfigError(key, f"unsupported type {hint}")  # a bug in a section's declaration


def _is_clusters(args: tuple[Any, ...]) -> bool:
    return set(args) == set(CLUSTER_KINDS.values())


def _build_cluster(value: Any, key: str, env: Mapping[str, str]) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(key, "expected a mapping with name and kind")
    kind = value.get("kind", "kafka")
    if not isinstance(kind, str) or kind not in CLUSTER_KINDS:
        raise ConfigError(
            f"{key}.kind", f"unknown kind {shown(kind)} (known: {', '.join(CLUSTER_KINDS)})"
        )
    return build(CLUSTER_KINDS[kind], value, key, env)


def expand_env(text: str, key: str, env: Mapping[str, str]) -> str:
    """Replace `${NAME}` with the env var's value; an unset variable is an error naming `key`."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigError(key, f"refers to env var {name}, which is not set")
        return env[name]

    return _ENV_REF.sub(sub, text)


def validate(config: Config) -> None:
    """Cross-field rules the types cannot say."""
    if not config.clusters:
        raise ConfigError("clusters", "at least one cluster is required")
    parse_listen(config.listen, "listen")
    names = [c.name for c in config.clusters]
    for i, cluster in enumerate(config.clusters):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", cluster.name):
            raise ConfigError(f"clusters[{i}].name", "use letters, digits, '.', '_' or '-'")
        if cluster.name in names[:i]:
            raise ConfigError(f"clusters[{i}].name", f"duplicate cluster name {cluster.name!r}")
        if isinstance(cluster, RabbitMQCluster) and not re.match(
            r"https?://[^/]+", cluster.management_url
        ):
            raise ConfigError(f"clusters[{i}].management_url", "must be an http(s):// URL")
        if isinstance(cluster, AwsCluster):
            validate_aws(cluster, f"clusters[{i}]")
    if config.status_window.min_commits > config.status_window.commits:
        raise ConfigError("status_window.min_commits", "must be at most status_window.commits")
    if config.shard:
        parse_shard(config.shard)
    for i, rule in enumerate(config.thresholds.groups):
        if not rule.match:
            raise ConfigError(f"thresholds.groups[{i}].match", "must not be empty")
    validate_web(config.web)
    validate_tracing(
        config.tracing,
        {c.name for c in config.clusters if isinstance(c, KafkaCluster)},
        {c.name for c in config.clusters if isinstance(c, RabbitMQCluster)},
        {c.name for c in config.clusters if isinstance(c, AwsCluster)},
    )


def validate_aws(cluster: AwsCluster, key: str) -> None:
    """What collector.brokers.sqs checks again at start, checked here so check-config says it."""
    if not cluster.region:
        raise ConfigError(f"{key}.region", "is required (e.g. eu-west-1)")
    if cluster.endpoint_url and not cluster.endpoint_url.startswith(("http://", "https://")):
        raise ConfigError(f"{key}.endpoint_url", "must be an http(s):// URL")


def parse_listen(listen: str, key: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
        raise ConfigError(key, f"expected HOST:PORT, got {shown(listen)}")
    return host, int(port)


def parse_shard(shard: str) -> tuple[int, int]:
    """`"2/3"` → (2, 3): this instance is shard 2 of 3 (1-based)."""
    m = re.fullmatch(r"([0-9]{1,6})/([0-9]{1,6})", shard)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ConfigError("shard", f"expected I/N with 1 <= I <= N, got {shown(shard)}")
    return int(m.group(1)), int(m.group(2))
