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
        page.get_by_text("ml-training").first.wait_for(timeout=90_000)
        shot = save(page, ARTIFACTS / "overview.png")
    assert shot.stat().st_size > 10_000
