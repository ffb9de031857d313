"""Fixtures of the AWS (SQS + EventBridge) integration tests: moto's server over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.aws_emulator import TEST_CREDENTIALS, endpoint_url, start_moto
from demo.services import free_port


@pytest.fixture(scope="session", autouse=True)
def session_alert_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Collectors built by module fixtures keep notifications in a temp file, not ./.eventscope."""
    path = tmp_path_factory.mktemp("alert-history") / "alerts.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVENTSCOPE__WEBHOOK_HISTORY_PATH", str(path))
        yield


@pytest.fixture(autouse=True)
def alert_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's collectors (in process or child processes) get a history file of their own."""
    monkeypatch.setenv("EVENTSCOPE__WEBHOOK_HISTORY_PATH", str(tmp_path / "alerts.db"))


@pytest.fixture(scope="module")
def aws_env() -> Iterator[None]:
    """Credentials for the standard chain (env), as a deployment would provide them."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in TEST_CREDENTIALS.items():
            mp.setenv(name, value)
        mp.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture(scope="module")
def moto(aws_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto_server on a free port of 127.0.0.1, one per test module; its endpoint URL."""
    port = free_port()
    proc = start_moto(port, tmp_path_factory.mktemp("moto"), name=f"moto-{port}")
    yield endpoint_url(port)
    proc.stop()
