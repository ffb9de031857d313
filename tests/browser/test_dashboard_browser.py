"""The dashboard in a real browser (Debian Chromium via Playwright) against the running demo.

Screenshots land in .eventscope/test-screenshots/ for a person to look at after the run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dashboard.alert_tables import _alert_link
from demo.screenshots import PAGES, browser, open_page, save
from tests.conftest import DemoStack, wait_until

pytestmark = pytest.mark.service

ARTIFACTS = Path(__file__).resolve().parents[2] / ".eventscope" / "test-screenshots"


def body_includes(page, text: str, timeout_ms: int = 120_000) -> None:
    # tables are drawn on a canvas: wait on the page's text (titles, metrics, chart legends)
    page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout_ms)


def test_overview_shows_lag_chart_and_slow_group(demo_stack: DemoStack):
    with browser() as b:
        page = open_page(b, demo_stack.urls["dashboard"] + "/overview", "Overview", chart=True)
        body_includes(page, "ml-training")  # named in the lag chart's legend
        shot = save(page, ARTIFACTS / "overview.png")
    assert shot.stat().st_size > 10_000


def test_every_page_opens(demo_stack: DemoStack):
    with browser() as b:
        for path, title, chart in PAGES:
            page = open_page(b, f"{demo_stack.urls['dashboard']}/{path}", title, chart)
            assert "Traceback" not in page.inner_text("body")
            save(page, ARTIFACTS / f"{path}.png")
            page.close()


def test_a_page_that_never_renders_is_closed_not_left_running(demo_stack: DemoStack):
    # left open, a page keeps its Streamlit session and reruns its panels every 15 s
    with browser() as b:
        with pytest.raises(PlaywrightTimeout):
            open_page(b, demo_stack.urls["dashboard"] + "/overview", "no such text", False, 5_000)
        assert b.contexts == []


def test_alert_deep_link_lands_on_the_group(demo_stack: DemoStack):
    def firing_lag_alert():
        alerts = requests.get(f"{demo_stack.urls['prometheus']}/api/v1/alerts", timeout=10)
        return [
            a
            for a in alerts.json()["data"]["alerts"]
            if a["labels"]["alertname"] == "ConsumerLagHigh"
            and a["labels"].get("group") == "ml-training"
        ]

    alert = wait_until(firing_lag_alert, 180, "ConsumerLagHigh for ml-training")[0]
    link = _alert_link(alert["labels"])  # the link the Alerts page puts on this row
    assert link.startswith("lag?") and "group=ml-training" in link
    with browser() as b:
        page = open_page(b, f"{demo_stack.urls['dashboard']}/{link}", "Consumer lag", chart=True)
        body_includes(page, "threshold")  # the threshold line drawn on the group's chart
        chosen = page.get_by_label("Consumer group").input_value()
        assert chosen == "ml-training"  # the linked group is the one shown
        save(page, ARTIFACTS / "alert-deep-link.png")


def test_pasted_correlation_id_shows_its_journey(demo_stack: DemoStack):
    def a_complete_journey():
        status = requests.get(f"{demo_stack.urls['control']}/status?ids=1", timeout=10).json()
        for broker in status["brokers"].values():
            for cid in broker.get("ids", {}).get("terminal", {}).get("confirmed", []):
                resp = requests.get(f"{demo_stack.urls['collector']}/api/traces/{cid}", timeout=10)
                if resp.status_code == 200 and resp.json()["status"] == "complete":
                    return cid, resp.json()
        return None

    cid, journey = wait_until(a_complete_journey, 180, "a confirmed order's journey")
    with browser() as b:
        page = open_page(b, f"{demo_stack.urls['dashboard']}/journeys", "Journey explorer", False)
        box = page.get_by_label("Correlation ID")
        box.fill(cid)
        box.press("Enter")
        page.wait_for_selector(".js-plotly-plot", timeout=120_000)  # the waterfall
        body_includes(page, "Hops")
        hops = page.locator('[data-testid="stMetric"]', has_text="Hops").inner_text()
        assert hops.split()[-1] == str(len(journey["hops"]))
        body_includes(page, "complete")
        save(page, ARTIFACTS / "journey.png")
