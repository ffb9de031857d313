"""A local AWS API emulator for the demo and the tests: moto's server mode on 127.0.0.1.

    moto_server -H 127.0.0.1 -p PORT      (pip install "moto[server]")

One process serves every service (SQS, EventBridge, CloudWatch, …) on one port; state lives in
memory and is lost on stop. moto accepts any credentials unless started with
`INITIAL_NO_AUTH_ACTION_COUNT=0`, which makes it check them like IAM does (unknown keys are
refused with InvalidClientTokenId) — `strict_auth=True` here.

AWS support is tested against this emulator, not against live AWS.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from demo.services import ManagedProcess, ServiceError, require_free_port, wait_for_http

# the fake account moto answers for; SQS queue URLs and ARNs carry it
ACCOUNT_ID = "123456789012"
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def moto_server_binary() -> str:
    """`moto_server` next to the running interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "moto_server"
    if beside.exists():
        return str(beside)
    found = shutil.which("moto_server")
    if found is None:
        raise ServiceError('moto_server not found: pip install "moto[server]"')
    return found


def start_moto(
    port: int, workdir: Path, name: str = "moto", strict_auth: bool = False
) -> ManagedProcess:
    """Start moto's server on 127.0.0.1:port; returns once it answers HTTP."""
    require_free_port(port, name)
    env = dict(os.environ)
    if strict_auth:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    proc = ManagedProcess(
        name,
        [moto_server_binary(), "-H", "127.0.0.1", "-p", str(port)],
        workdir / f"{name}.log",
        env=env,
    ).start()
    try:
        wait_for_http(endpoint_url(port) + "/moto-api/", 30)
    except ServiceError as exc:
        tail = proc.log_tail()
        proc.stop()
        raise ServiceError(f"{exc}\n{tail}") from exc
    return proc


def endpoint_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"
