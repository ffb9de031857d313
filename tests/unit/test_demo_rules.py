"""The demo's copy of the rules: production `for:` capped, everything else identical."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from demo.stack import REPO, demo_rules, duration_seconds


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("2m", 120), ("1h30m", 5400), ("500ms", 0.5)]
)
def test_duration_seconds(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("bad", ["", "5", "2 m", "m2", "1x"])
def test_bad_duration_is_refused(bad):
    with pytest.raises(ValueError):
        duration_seconds(bad)


def test_demo_rules_cap_for_and_keep_the_rest(tmp_path: Path):
    demo_rules(tmp_path, 30)
    original = yaml.safe_load((REPO / "alerts" / "eventscope.rules.yml").read_text())
    capped = yaml.safe_load((tmp_path / "rules" / "eventscope.rules.yml").read_text())
    for g_orig, g_cap in zip(original["groups"], capped["groups"], strict=True):
        for r_orig, r_cap in zip(g_orig["rules"], g_cap["rules"], strict=True):
            assert r_orig.get("expr") == r_cap.get("expr")
            assert r_orig.get("labels") == r_cap.get("labels")
            if "for" in r_orig:
                expect = min(duration_seconds(str(r_orig["for"])), 30)
                assert duration_seconds(str(r_cap["for"])) == expect
