"""The dashboard's optional password gate, run headless with Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import gate
from dashboard.gate import password_from_env, password_ok
from dashboard.login_limiter import LoginLimiter

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def test_password_from_env_or_file(tmp_path):
    assert password_from_env({}) is None
    assert password_from_env({"EVENTSCOPE_DASHBOARD_PASSWORD": "pw"}) == "pw"
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    env = {"EVENTSCOPE_DASHBOARD_PASSWORD_FILE": str(secret)}
    assert password_from_env(env) == "from-file"


def test_password_ok():
    assert password_ok("s3cret", "s3cret")
    assert not password_ok("s3cre", "s3cret")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """A fresh limiter per test (it is per server process) and a clock the test moves."""
    fake = FakeClock()
    monkeypatch.setattr(gate, "LIMITER", LoginLimiter(), raising=False)
    monkeypatch.setattr(gate, "clock", fake, raising=False)
    return fake


@pytest.fixture
def gated(monkeypatch, clock):
    monkeypatch.setenv("EVENTSCOPE_DASHBOARD_PASSWORD", "s3cret")
    monkeypatch.setenv("EVENTSCOPE_PROMETHEUS_URL", "http://127.0.0.1:9")  # nothing there
    monkeypatch.setenv("EVENTSCOPE_COLLECTOR_URL", "http://127.0.0.1:9")
    return AppTest.from_file(APP, default_timeout=60)


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def test_nothing_shows_before_the_password(gated):
    at = gated.run()
    assert titles(at) == ["eventscope"]
    assert "Overview" not in titles(at)
    at.text_input[0].input("wrong")
    at.button[0].click()
    at.run()
    assert [e.value for e in at.error] == ["Wrong password."]
    assert "Overview" not in titles(at)


def test_the_right_password_opens_the_pages(gated):
    at = gated.run()
    at.text_input[0].input("s3cret")
    at.button[0].click()
    at.run()
    assert "Overview" in titles(at)


def sign_in(at: AppTest, password: str) -> list[str]:
    at.text_input[0].input(password)
    at.button[0].click()
    at.run()
    return [e.value for e in at.error]


def test_repeated_wrong_passwords_lock_the_client_out(gated, clock):
    at = gated.run()
    for _ in range(4):
        assert sign_in(at, "guess") == ["Wrong password."]
    assert sign_in(at, "guess") == ["Wrong password. Too many wrong passwords: try again in 30 s."]
    clock.now += 10
    # locked out: even the right password is refused, from this session or a new one
    assert sign_in(at, "s3cret") == ["Too many wrong passwords. Try again in 20 s."]
    other = AppTest.from_file(APP, default_timeout=60).run()
    assert sign_in(other, "s3cret") == ["Too many wrong passwords. Try again in 20 s."]
    assert "Overview" not in titles(at) + titles(other)
    clock.now += 20  # the lockout is over
    assert sign_in(at, "s3cret") == []
    assert "Overview" in titles(at)
