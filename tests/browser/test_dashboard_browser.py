"""The dashboard in a real browser (Debian Chromium via Playwright) against the running demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.screenshots import browser, open_page, save
from tests.conftest import DemoStack

pytestmark = pytest.mark.service

ARTIFACTS = Path(__file__).resolve().parents[2] / ".eventscope" / "test-screenshots"


def test_overview_shows_lag_chart_and_slow_group(demo_stack: DemoStack):
    with browser() as b:
        page = open_page(b, demo_stack.urls["dashboard"] + "/overview", "Overview", chart=True)
        # the slow group is named in the chart's legend (the table is drawn on a canvas)
        page.wait_for_function(
            "() => document.body.innerText.includes('ml-training')", timeout=120_000
        )
        shot = save(page, ARTIFACTS / "overview.png")
    assert shot.stat().st_size > 10_000
