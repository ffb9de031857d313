"""Screenshots of the dashboard from a real run: `make screenshots` (README images) and tests.

Drives Debian's Chromium through Playwright with `executable_path` (never `playwright install`).
Streamlit scrolls an inner container, so a tall viewport is used instead of `full_page`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from dashboard.screenshots import CHART_SELECTOR, CHROMIUM, CHROMIUM_ARGS

PAGES = (  # (url path, text that proves the page rendered, needs a chart)
    ("overview", "Overview", True),
    ("lag", "Consumer lag", True),
    ("throughput", "Throughput", True),
    ("dead-letters", "Dead letters", False),
    ("flow", "Flow graph", False),
    ("journeys", "Journey explorer", False),
    ("alerts", "Alerts", False),
)


@contextmanager
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_page(b: Browser, url: str, text: str, chart: bool, timeout_ms: int = 120_000) -> Page:
    """A new page at `url` once it shows `text` (and a drawn chart when `chart`). A page that
    never gets there is closed before the error is raised: left open, it would keep its
    Streamlit session and rerun its panels every refresh interval for as long as the browser
    lives (a soak's visitor that timed out piled them up on the dashboard)."""
    page = b.new_page(viewport={"width": 1440, "height": 1800})
    try:
        page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
        page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)
        if chart:
            page.wait_for_selector(CHART_SELECTOR, timeout=timeout_ms)
    except BaseException:
        page.context.close()
        raise
    return page


def settle(page: Page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has finished the page: sidebar drawn, no skeleton, not running."""
    page.get_by_text("Time range").first.wait_for(timeout=timeout_ms)
    for testid in ("stStatusWidget", "stSkeleton"):
        page.wait_for_selector(f'[data-testid="{testid}"]', state="detached", timeout=timeout_ms)


def save(page: Page, path: Path) -> Path:
    settle(page)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate(
        "() => document.querySelectorAll('[data-testid=\"stMain\"], section.main')"
        ".forEach(e => e.scrollTop = 0)"
    )
    time.sleep(1.0)  # let the charts finish their transitions before the picture
    page.screenshot(path=str(path))
    return path


def capture_all(base: str, out: Path, pages: Sequence[tuple[str, str, bool]] = PAGES) -> list[Path]:
    saved = []
    with browser() as b:
        for path, text, chart in pages:
            page = open_page(b, f"{base.rstrip('/')}/{path}", text, chart)
            saved.append(save(page, out / f"{path}.png"))
            page.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Screenshot every dashboard page of a running `eventscope demo`."
    )
    parser.add_argument("--state", default=".eventscope/demo/state.json")
    parser.add_argument("--out", default="docs/screenshots")
    args = parser.parse_args(argv)
    try:
        base = json.loads(Path(args.state).read_text())["urls"]["dashboard"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"no running demo ({args.state}: {exc}); start `make demo` first", file=sys.stderr)
        return 1
    for path in capture_all(base, Path(args.out)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
