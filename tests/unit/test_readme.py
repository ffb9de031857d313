"""The README keeps its promises: the two commands, every metric, links that resolve."""

from __future__ import annotations

import re
from pathlib import Path

from collector.exporters.metric_table import FAMILIES

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def test_first_two_commands_are_demo_then_test():
    block = README.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands[:2] == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_every_metric_family_is_documented():
    missing = [f.full_name for f in FAMILIES if f"`{f.full_name}" not in README]
    assert missing == []


def test_relative_links_resolve():
    links = re.findall(r"\]\(((?!https?://)[^)#]+)", README)
    broken = [link for link in links if not (REPO / link).exists()]
    assert broken == []
