"""Optional password gate for the dashboard.

Set `EVENTSCOPE_DASHBOARD_PASSWORD` (or `EVENTSCOPE_DASHBOARD_PASSWORD_FILE`, a file holding it,
e.g. a Kubernetes secret) and every browser session must enter it once before any page or data
is shown. For single sign-on, put the dashboard behind your OIDC proxy or use Streamlit's
built-in `st.login` (see docs/dashboard.md).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from pathlib import Path

import streamlit as st


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
    if submitted and password_ok(given, expected):
        st.session_state["dashboard_signed_in"] = True
        st.rerun()
    if submitted:
        st.error("Wrong password.")
    st.stop()
