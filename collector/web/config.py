"""The `web` section of the collector's config, and the web config file it may point to.

The file has the format of Prometheus' exporter-toolkit (`--web.config.file` of node_exporter),
so one file can serve both; only the keys below are supported, any other is an error naming it:

    tls_server_config:
      cert_file: /etc/eventscope/tls/server.crt
      key_file: /etc/eventscope/tls/server.key
      client_auth_type: RequireAndVerifyClientCert   # or VerifyClientCertIfGiven, NoClientCert
      client_ca_file: /etc/eventscope/tls/clients-ca.crt
      min_version: TLS12                              # or TLS13
    basic_auth_users:
      prometheus: $2b$12$...                          # bcrypt hash (htpasswd -nBC 12 prometheus)

The file is read and checked when the config is loaded (certificates included), so a bad path
or a malformed hash stops the collector at start with the key and the reason.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from collector.config_bounds import bounded
from collector.errors import ConfigError

# exporter-toolkit's names; RequestClientCert / RequireAnyClientCert (certificates asked for but
# not verified) have no equivalent in Python's ssl module and are refused rather than weakened
CLIENT_AUTH_TYPES: dict[str, ssl.VerifyMode] = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")


@dataclass(frozen=True)
class WebConfig:
    """How the collector's HTTP listener accepts, times out and limits clients."""

    config_file: str = ""  # exporter-toolkit web config (TLS, mTLS, basic auth); "" = plain HTTP
    # in flight at once; more get 503 (like node_exporter)
    max_concurrent_requests: int = bounded(40, 1, 10_000)
    max_connections: int = bounded(2048, 1, 1_000_000)  # open at once; more closed on accept
    backlog: int = bounded(1024, 1, 65_535)  # listen queue (the kernel caps it at somaxconn)
    # a connection with no request in progress is closed
    idle_timeout_seconds: float = bounded(30.0, 0, 86_400, lo_open=True)
    # first byte of a request to last byte of its answer
    request_timeout_seconds: float = bounded(10.0, 0, 3_600, lo_open=True)
    webhook_max_body_bytes: int = bounded(1 << 20, 1, 1 << 30)  # larger posts get 413


@dataclass(frozen=True)
class TlsServerConfig:
    cert_file: str
    key_file: str
    client_auth_type: str = "NoClientCert"
    client_ca_file: str = ""
    min_version: Literal["TLS12", "TLS13"] = "TLS12"


@dataclass(frozen=True)
class WebConfigFile:
    tls_server_config: TlsServerConfig | None = None
    basic_auth_users: Mapping[str, str] = field(default_factory=dict)


def validate_web(web: WebConfig) -> WebConfigFile:
    """Cross-field rules, and the web config file read and checked; returns that file's content."""
    positive = ("max_concurrent_requests", "max_connections", "backlog", "webhook_max_body_bytes")
    for name in (*positive, "idle_timeout_seconds", "request_timeout_seconds"):
        if getattr(web, name) <= 0:
            raise ConfigError(f"web.{name}", "must be greater than 0")
    return load_web_config_file(web.config_file) if web.config_file else WebConfigFile()


def load_web_config_file(path: str, key: str = "web.config_file") -> WebConfigFile:
    from collector.config import build  # the same key and type checks as the main file

    try:
        raw: Any = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(key, f"{path} is not valid YAML: {exc}") from exc
    parsed: WebConfigFile = build(WebConfigFile, raw, f"{key}({path})", {})
    for user, hashed in parsed.basic_auth_users.items():
        where = f"{key}({path}).basic_auth_users.{user}"
        if not user or ":" in user:
            raise ConfigError(where, "a user name must be non-empty and contain no ':'")
        if not _BCRYPT.fullmatch(hashed):
            raise ConfigError(where, "expected a bcrypt hash ($2b$<cost>$ and 53 characters)")
    if parsed.tls_server_config is not None:
        server_ssl_context(parsed.tls_server_config, f"{key}({path}).tls_server_config")
    return parsed


def server_ssl_context(tls: TlsServerConfig, key: str = "tls_server_config") -> ssl.SSLContext:
    """The listener's TLS context; an unreadable or mismatched file is a ConfigError."""
    if tls.client_auth_type not in CLIENT_AUTH_TYPES:
        known = ", ".join(CLIENT_AUTH_TYPES)
        raise ConfigError(f"{key}.client_auth_type", f"must be one of {known}")
    verify = CLIENT_AUTH_TYPES[tls.client_auth_type]
    if verify != ssl.CERT_NONE and not tls.client_ca_file:
        raise ConfigError(f"{key}.client_ca_file", f"is required by {tls.client_auth_type}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = (
        ssl.TLSVersion.TLSv1_3 if tls.min_version == "TLS13" else ssl.TLSVersion.TLSv1_2
    )
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"{key}.cert_file", f"cannot load the certificate and key: {exc}"
        ) from exc
    if tls.client_ca_file:
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{key}.client_ca_file", f"cannot load: {exc}") from exc
    context.verify_mode = verify
    return context
