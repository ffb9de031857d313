"""eventscope dashboard entry point: `streamlit run dashboard/app.py`.

Shared sidebar (cluster, time range, auto-refresh) for every page; pages are addressable as
/overview (the default, at /), /lag, /throughput, /dead-letters, /flow, /journeys, /alerts.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import dashboard  # noqa: F401 - installed with `pip install -e .`
except ImportError:  # run from a checkout without installing: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st

from dashboard.layout import load_settings, sidebar
from dashboard.settings import SettingsError

HERE = Path(__file__).resolve().parent

PAGES = (
    ("overview.py", "Overview", "overview", ":material/dashboard:"),
    ("lag.py", "Consumer lag", "lag", ":material/hourglass_top:"),
    ("throughput.py", "Throughput", "throughput", ":material/speed:"),
    ("dead_letters.py", "Dead letters", "dead-letters", ":material/report:"),
    ("flow.py", "Flow graph", "flow", ":material/account_tree:"),
    ("journeys.py", "Journey explorer", "journeys", ":material/route:"),
    ("alerts.py", "Alerts", "alerts", ":material/notifications:"),
)


def main() -> None:
    st.set_page_config(page_title="eventscope", layout="wide")
    try:
        settings = load_settings()
    except SettingsError as err:
        st.error(f"The dashboard is misconfigured: {err}")
        st.stop()
    pages = [
        st.Page(HERE / "pages" / file, title=title, url_path=path, icon=icon, default=i == 0)
        for i, (file, title, path, icon) in enumerate(PAGES)
    ]
    page = st.navigation(pages)
    sidebar(settings)
    page.run()


main()
