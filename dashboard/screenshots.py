"""Screenshots of every dashboard page with a real Chromium, for docs and visual checks.

    python -m dashboard.screenshots http://127.0.0.1:8501 /tmp/shots [--query "range=15m"]

Uses Playwright with the system Chromium (/usr/bin/chromium; never `playwright install`).
Streamlit keeps a websocket open, so we wait for the app, the page title and its charts rather
than for network idle; Streamlit scrolls an inner container, so we use a tall viewport instead
of full_page screenshots.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
# A drawn chart: plotly's (flow graph, journey waterfall) or Vega-Lite's (time series). Streamlit
# draws a Vega-Lite chart on a canvas instead of an svg once its data has over 2,000 rows (its
# frontend picks the renderer), e.g. Throughput at ?range=5m: 1 s steps for ~25 series.
CHART_SELECTOR = (
    '.js-plotly-plot, [data-testid="stVegaLiteChart"] svg, [data-testid="stVegaLiteChart"] canvas'
)
# url path -> the page title Streamlit shows once the page has run
PAGES: dict[str, str] = {
    "overview": "Overview",
    "lag": "Consumer lag",
    "throughput": "Throughput",
    "dead-letters": "Dead letters",
    "flow": "Flow graph",
    "journeys": "Journey explorer",
    "alerts": "Alerts",
}


def capture_pages(
    base_url: str,
    out_dir: Path,
    pages: Sequence[str] = tuple(PAGES),
    query: str = "",
    width: int = 1500,
    height: int = 2200,
    timeout_ms: int = 30_000,
) -> list[Path]:
    """Open each page (with `query`, e.g. "group=billing") and save `<page>.png`; returns the
    files. Raises playwright's TimeoutError naming the page when it never finishes."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            for name in pages:
                url = f"{base_url.rstrip('/')}/{name}" + (f"?{query}" if query else "")
                page.goto(url, timeout=timeout_ms)
                page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
                page.get_by_role("heading", name=PAGES[name]).wait_for(timeout=timeout_ms)
                # the entry script has run (its sidebar is there) and the page has finished:
                # no "running" indicator and no skeleton placeholders left
                page.get_by_text("Time range").wait_for(timeout=timeout_ms)
                page.wait_for_function(
                    "!document.querySelector('[data-testid=\"stStatusWidget\"]') && "
                    "!document.querySelector('[data-testid=\"stSkeleton\"]')",
                    timeout=timeout_ms,
                )
                if page.locator(CHART_SELECTOR).count():
                    page.locator(CHART_SELECTOR).first.wait_for(timeout=timeout_ms)
                page.evaluate(
                    "document.querySelectorAll('section, [data-testid=\"stMain\"]')"
                    ".forEach(e => e.scrollTop = 0)"
                )
                path = out_dir / f"{name}.png"
                page.screenshot(path=str(path))
                saved.append(path)
        finally:
            browser.close()
    return saved


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--query", default="", help='deep-link parameters, e.g. "group=billing"')
    args = parser.parse_args(argv)
    for path in capture_pages(args.base_url, args.out_dir, query=args.query):
        print(path)


if __name__ == "__main__":
    main()
