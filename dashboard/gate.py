"""Optional password gate for the dashboard.

Set `EVENTSCOPE_DASHBOARD_PASSWORD` (or `EVENTSCOPE_DASHBOARD_PASSWORD_FILE`, a file holding it,
e.g. a Kubernetes secret) and every browser session must enter it once before any page or data
is shown. For single sign-on, put the dashboard behind your OIDC proxy or use Streamlit's
built-in `st.login` (see docs/dashboard.md).

Wrong passwords are limited per client (dashboard/login_limiter.py): 5 within 5 minutes lock
the client out for 30 s, doubling with each lockout up to 15 minutes. A client is the
connection's IP address as Streamlit sees it; loopback connections (and so everything behind a
reverse proxy on the same host) are one client, so a new browser session does not reset the
count.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import streamlit as st

from dashboard.login_limiter import LoginLimiter

LIMITER = LoginLimiter()  # one per server process: every session's tries count
clock: Callable[[], float] = time.monotonic  # replaced in tests


def password_from_env(env: Mapping[str, str]) -> str | None:
    """The configured password, or None when the dashboard is open."""
    path = env.get("EVENTSCOPE_DASHBOARD_PASSWORD_FILE", "").strip()
    if path:
        return Path(path).read_text().strip() or None
    return env.get("EVENTSCOPE_DASHBOARD_PASSWORD") or None


def password_ok(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())  # constant time


def require_password(expected: str) -> None:
    """Stop the script run here until this session has given the password."""
    if st.session_state.get("dashboard_signed_in"):
        return
    st.title("eventscope")
    with st.form("login"):
        given = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        _check(given, expected, client_of_session())
    st.stop()


def _check(given: str, expected: str, client: str) -> None:
    wait = LIMITER.retry_after(client, clock())
    if wait > 0:  # refused without comparing: a right guess now would not tell
        st.error(f"Too many wrong passwords. Try again in {math.ceil(wait)} s.")
        return
    if password_ok(given, expected):
        LIMITER.succeeded(client)
        st.session_state["dashboard_signed_in"] = True
        st.rerun()
    lockout = LIMITER.failed(client, clock())
    if lockout:
        st.error(f"Wrong password. Too many wrong passwords: try again in {math.ceil(lockout)} s.")
    else:
        st.error("Wrong password.")


def client_of_session() -> str:
    """Who the limiter counts: the connection's IP, "local" for loopback or unknown."""
    ip = st.context.ip_address
    return ip if isinstance(ip, str) and ip else "local"  # AppTest hands out a mock
