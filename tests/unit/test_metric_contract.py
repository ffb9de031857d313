"""Every metric name the alerts and the dashboard use is one the collector exposes.

Names are read where they can be used: the string values of the YAML files in `alerts/` (rule
expressions, annotation templates, unit-test series) and the string literals of the `.py` files in
`dashboard/` (PromQL is built from strings; identifiers such as `eventscope_url` are not names).
A name must be an exposed sample name of `collector.exporters.metric_table` (counters with
`_total`, histograms with `_bucket`/`_sum`/`_count`). A name followed by a regex character
(`eventscope_consumer_.*`) is a prefix and must start some exposed name. Recording-rule names
(`eventscope:...`) used by the dashboard must be recorded in `alerts/`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from collector.exporters.metric_table import exposed_names

ROOT = Path(__file__).resolve().parents[2]
# A name, and `.*` / `.+` after it when it is the start of a regex.
METRIC = re.compile(r"(?<![A-Za-z0-9_:])(?P<name>eventscope_[a-z0-9_]+)(?P<prefix>\.[*+])?")
RECORDED = re.compile(r"(?<![A-Za-z0-9_])eventscope:[a-z0-9_]+:[a-z0-9_]+")


def yaml_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from yaml_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from yaml_strings(item)


def python_strings(source: str) -> Iterator[str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def unknown_names(texts: list[str], known: frozenset[str]) -> set[str]:
    """Names in `texts` that are not in `known`; a prefix is fine if some known name starts it.

    Example: with known {"eventscope_up"}, "eventscope_up > 0" -> set(),
    "eventscope_upp" -> {"eventscope_upp"}, '{__name__=~"eventscope_u.*"}' -> set().
    """
    unknown = set()
    for text in texts:
        for match in METRIC.finditer(text):
            name = match.group("name")
            if match.group("prefix"):
                if not any(k.startswith(name) for k in known):
                    unknown.add(name + "…")
            elif name not in known:
                unknown.add(name)
    return unknown


def alert_texts() -> list[str]:
    files = sorted((ROOT / "alerts").rglob("*.yml"))
    assert files, "no YAML files in alerts/"
    return [s for path in files for s in yaml_strings(yaml.safe_load(path.read_text()))]


def dashboard_texts() -> list[str]:
    files = sorted((ROOT / "dashboard").rglob("*.py"))
    return [s for path in files for s in python_strings(path.read_text())]


def names_in(texts: list[str]) -> set[str]:
    return {m.group("name") for text in texts for m in METRIC.finditer(text)}


def test_the_scanner_flags_undeclared_names() -> None:
    known = frozenset({"eventscope_consumer_lag_messages", "eventscope_produced_messages_total"})
    texts = [
        "sum(eventscope_consumer_lag_messages) > 0",
        "rate(eventscope_produced_messages[5m])",  # counter without _total
        "rate(eventscope_produced_messages_total[5m])",
        '{__name__=~"eventscope_consumer_.*"}',
        '{__name__=~"eventscope_nothing_.*"}',
        "eventscope:consumer_group_lag_messages:sum",
        "_eventscope_view",
    ]
    assert unknown_names(texts, known) == {"eventscope_produced_messages", "eventscope_nothing_…"}


def test_python_strings_skip_identifiers() -> None:
    source = 'eventscope_url = "x"\nQUERY = "sum(eventscope_consumer_lag_messages)"\n'
    assert list(python_strings(source)) == ["x", "sum(eventscope_consumer_lag_messages)"]


def test_alerts_use_only_exposed_metric_names() -> None:
    texts = alert_texts()
    # The scan must see the names the rules are built on, or it proves nothing.
    assert {"eventscope_consumer_lag_messages", "eventscope_lag_threshold_messages"} <= names_in(
        texts
    )
    assert unknown_names(texts, exposed_names()) == set()


def test_dashboard_uses_only_exposed_metric_names() -> None:
    assert unknown_names(dashboard_texts(), exposed_names()) == set()


def test_dashboard_uses_only_recorded_rule_names() -> None:
    rules = yaml.safe_load((ROOT / "alerts" / "eventscope.rules.yml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    used = {m.group(0) for text in dashboard_texts() for m in RECORDED.finditer(text)}
    assert used - recorded == set()
