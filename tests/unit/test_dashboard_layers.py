"""The dashboard's layering, checked on the source: pure modules import neither streamlit nor
requests, only loaders.py caches, and page scripts do no HTTP and build no PromQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
PURE = [
    "queries",
    "shaping",
    "alert_tables",
    "journeys",
    "flow",
    "charts",
    "settings",
    "members",
    "login_limiter",
]


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_do_no_io_and_no_streamlit(module: str) -> None:
    names = imported(DASHBOARD / f"{module}.py")
    assert not {n for n in names if n.split(".")[0] in {"streamlit", "requests", "time"}}


def test_only_loaders_caches() -> None:
    users = sorted(
        p.relative_to(DASHBOARD).as_posix()
        for p in DASHBOARD.rglob("*.py")
        if "cache_data" in p.read_text() or "cache_resource" in p.read_text()
    )
    assert users == ["__init__.py", "loaders.py"]  # __init__ only names it in the docstring


@pytest.mark.parametrize("page", sorted((DASHBOARD / "views").glob("*.py")), ids=lambda p: p.name)
def test_page_scripts_hold_layout_only(page: Path) -> None:
    names = imported(page)
    assert not {n for n in names if n.split(".")[0] in {"requests", "pandas", "plotly"}}
    assert not {n for n in names if n.startswith(("dashboard.queries", "dashboard.sources"))}
    assert "eventscope_" not in page.read_text()  # no PromQL in layout
