"""eventscope dashboard entry point: `streamlit run dashboard/app.py`.

Shared sidebar (cluster, time range, auto-refresh) for every page; pages are addressable as
/overview (the default, at /), /lag, /throughput, /dead-letters, /flow, /journeys, /alerts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

try:
    import dashboard  # noqa: F401 - installed with `pip install -e .`
except ImportError:  # run from a checkout without installing: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st

from dashboard.gate import password_from_env, require_password
from dashboard.layout import PAGES, VIEWS, load_settings, sidebar
from dashboard.settings import SettingsError


def main() -> None:
    st.set_page_config(page_title="eventscope", layout="wide")
    password = password_from_env(os.environ)
    if password:
        require_password(password)
    try:
        settings = load_settings()
    except SettingsError as err:
        st.error(f"The dashboard is misconfigured: {err}")
        st.stop()
    file, title, path, icon = PAGES[0]
    # The default page is served at "/" whatever its url_path; a hidden twin under the
    # promised path keeps /overview links working (url paths must differ, hence "home").
    pages = [
        st.Page(VIEWS / file, title=title, url_path="home", icon=icon, default=True),
        st.Page(VIEWS / file, title=title, url_path=path, visibility="hidden"),
    ]
    pages += [
        st.Page(VIEWS / file, title=title, url_path=path, icon=icon)
        for file, title, path, icon in PAGES[1:]
    ]
    page = st.navigation(pages)
    sidebar(settings)
    page.run()


main()
