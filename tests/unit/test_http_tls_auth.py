"""TLS, mutual TLS and basic auth on the listener, configured like exporter-toolkit's web config
file, checked with a real client (requests) against a CA made here with `cryptography`."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from prometheus_client import CollectorRegistry

from collector.config import load_config
from collector.errors import ConfigError
from collector.http_api import ApiContext, Notifications, make_server
from collector.service import CollectorService
from collector.web.config import WebConfig, load_web_config_file
from demo.services import free_port

PASSWORD = "s3cret-scrape"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()  # cost 4: a fast test


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def make_ca(directory: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(key, hashes.SHA256())
    )
    _write(directory / name, key, cert)
    return key, cert


def issue(
    directory: Path,
    name: str,
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    server: bool,
) -> Path:
    """A leaf certificate signed by `ca`; returns the path without suffix (.crt, .key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca[1].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if server:
        alt = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    _write(directory / name, key, builder.sign(ca[0], hashes.SHA256()))
    return directory / name


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    ca = make_ca(d, "ca")
    rogue = make_ca(d, "rogue-ca")
    return {
        "ca": d / "ca.crt",
        "server": issue(d, "server", ca, server=True),
        "client": issue(d, "client", ca, server=False),
        "rogue": issue(d, "rogue", rogue, server=False),
        "dir": d,
    }


def web_file(pki: dict[str, Path], body: str) -> Path:
    path = pki["dir"] / f"web-{abs(hash(body))}.yml"
    path.write_text(body)
    return path


def tls_block(pki: dict[str, Path], client_auth: str = "NoClientCert") -> str:
    server = pki["server"]
    return (
        "tls_server_config:\n"
        f"  cert_file: {server}.crt\n  key_file: {server}.key\n"
        f"  client_auth_type: {client_auth}\n  client_ca_file: {pki['ca']}\n"
    )


@contextmanager
def serving(config_file: Path, api_token: str = "") -> Iterator[tuple[str, int]]:
    ctx = ApiContext(CollectorRegistry(), list, Notifications(), api_token=api_token)
    server = make_server("127.0.0.1", 0, ctx, WebConfig(), load_web_config_file(str(config_file)))
    server.start()
    try:
        yield server.scheme, server.port
    finally:
        server.stop()


def test_https_works_and_plain_http_is_refused(pki):
    with serving(web_file(pki, tls_block(pki))) as (scheme, port):
        assert scheme == "https"
        resp = requests.get(f"https://127.0.0.1:{port}/metrics", verify=pki["ca"], timeout=10)
        assert resp.status_code == 200
        with pytest.raises(requests.exceptions.SSLError):  # not signed by a CA we trust
            requests.get(f"https://127.0.0.1:{port}/healthz", timeout=10)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)


def test_min_version_tls13_refuses_a_tls12_client(pki):
    body = tls_block(pki).replace("NoClientCert", "NoClientCert\n  min_version: TLS13")
    with serving(web_file(pki, body)) as (_, port):
        old = ssl.create_default_context(cafile=str(pki["ca"]))
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
            pytest.raises(ssl.SSLError),
        ):
            old.wrap_socket(sock, server_hostname="127.0.0.1")
        modern = ssl.create_default_context(cafile=str(pki["ca"]))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
            modern.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.version() == "TLSv1.3"


def test_mutual_tls_needs_a_client_certificate_from_the_client_ca(pki):
    with serving(web_file(pki, tls_block(pki, "RequireAndVerifyClientCert"))) as (_, port):
        url = f"https://127.0.0.1:{port}/metrics"
        client, rogue = pki["client"], pki["rogue"]
        with pytest.raises(requests.exceptions.ConnectionError):  # SSLError is one
            requests.get(url, verify=pki["ca"], timeout=10)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url, verify=pki["ca"], cert=(f"{rogue}.crt", f"{rogue}.key"), timeout=10)
        resp = requests.get(
            url, verify=pki["ca"], cert=(f"{client}.crt", f"{client}.key"), timeout=10
        )
        assert resp.status_code == 200


def test_basic_auth_covers_metrics_and_api_but_not_healthz(pki):
    body = tls_block(pki) + f"basic_auth_users:\n  prometheus: '{HASH}'\n"
    with serving(web_file(pki, body), api_token="t0ken") as (_, port):
        base = f"https://127.0.0.1:{port}"

        def get(path: str, **kw: Any) -> requests.Response:
            return requests.get(base + path, verify=pki["ca"], timeout=10, **kw)

        denied = get("/metrics")
        assert denied.status_code == 401 and "Basic" in denied.headers["www-authenticate"]
        assert get("/metrics", auth=("prometheus", "wrong")).status_code == 401
        assert get("/metrics", auth=("nobody", PASSWORD)).status_code == 401
        assert get("/metrics", auth=("prometheus", PASSWORD)).status_code == 200
        assert get("/metrics", auth=("prometheus", PASSWORD)).status_code == 200  # cached
        assert get("/healthz").status_code == 200
        assert get("/api/groups").status_code == 401
        assert get("/api/groups", auth=("prometheus", PASSWORD)).status_code == 200
        assert get("/api/groups", headers={"Authorization": "Bearer t0ken"}).status_code == 200
        # the bearer token opens /api/* only: /metrics is basic auth's
        assert get("/metrics", headers={"Authorization": "Bearer t0ken"}).status_code == 401


def test_the_service_serves_https_from_the_config(pki, tmp_path):
    config_file = web_file(pki, tls_block(pki) + f"basic_auth_users:\n  p: '{HASH}'\n")
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        "clusters:\n  - name: r\n    kind: rabbitmq\n"
        f"    management_url: http://127.0.0.1:{free_port()}\n    request_timeout_seconds: 1\n"
        f"web:\n  config_file: {config_file}\n  max_concurrent_requests: 8\n"
    )
    service = CollectorService(load_config(cfg, env={}), f"127.0.0.1:{free_port()}")
    service.start()
    try:
        url = f"https://127.0.0.1:{service.port}/metrics"
        resp = requests.get(url, verify=pki["ca"], auth=("p", PASSWORD), timeout=10)
        assert resp.status_code == 200 and "eventscope_collector_up" in resp.text
    finally:
        service.stop()


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (
            "tls_server_config:\n  cert_file: /nope.crt\n  key_file: /nope.key\n",
            "cert_file",
            "load",
        ),
        ("basic_auth_users:\n  p: plain-text\n", "basic_auth_users.p", "bcrypt hash"),
        ("http_server_config:\n  http2: true\n", "http_server_config", "unknown key"),
        ("tls_server_config:\n  cert_file: a\n", "tls_server_config.key_file", "required"),
    ],
)
def test_a_bad_web_config_file_is_named_at_load(pki, body, key, reason):
    path = web_file(pki, body)
    with pytest.raises(ConfigError, match=reason) as err:
        load_web_config_file(str(path))
    assert key in err.value.key and str(path) in err.value.key


@pytest.mark.parametrize(
    ("client_auth", "key", "reason"),
    [
        ("RequireAnyClientCert", "client_auth_type", "must be one of"),
        ("RequireAndVerifyClientCert", "client_ca_file", "required"),
    ],
)
def test_client_auth_types_that_cannot_verify_are_refused(pki, client_auth, key, reason):
    server = pki["server"]
    body = (
        f"tls_server_config:\n  cert_file: {server}.crt\n  key_file: {server}.key\n"
        f"  client_auth_type: {client_auth}\n"
    )
    with pytest.raises(ConfigError, match=reason) as err:
        load_web_config_file(str(web_file(pki, body)))
    assert err.value.key.endswith(key)


def test_web_section_values_are_checked(tmp_path):
    cfg = tmp_path / "c.yml"
    base = "clusters:\n  - name: k\n    bootstrap_servers: 127.0.0.1:9092\n"
    cfg.write_text(base + "web:\n  max_connection: 5\n")
    with pytest.raises(ConfigError, match="unknown key") as err:
        load_config(cfg, env={})
    assert err.value.key == "web.max_connection"
    cfg.write_text(base + "web:\n  request_timeout_seconds: 0\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg, env={})
    assert err.value.key == "web.request_timeout_seconds"
