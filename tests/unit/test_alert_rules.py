"""The alert rule pack and the Alertmanager configs, checked by the real promtool and amtool.

- `promtool check rules` is clean and every `alerts/tests/*.test.yml` passes `promtool test rules`.
- Every alert has a must-fire and a must-not-fire case, the contract labels and annotations, and
  a runbook section in docs/alerts.md.
- Both Alertmanager configs pass `amtool check-config` (the demo one after the demo fills in its
  webhook), route as documented (`amtool config routes test`), and share their inhibitions.

promtool and amtool come from the Debian packages prometheus and prometheus-alertmanager; a
missing binary fails these tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "eventscope.rules.yml"
RULE_TESTS = sorted((ROOT / "alerts" / "tests").glob("*.test.yml"))
AM_PROD = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
AM_DEMO = ROOT / "deploy" / "alertmanager" / "alertmanager.demo.yml"
RUNBOOK = ROOT / "docs" / "alerts.md"
RUNBOOK_URL = "https://github.com/eventscope/eventscope/blob/main/docs/alerts.md#"
WEBHOOK_PLACEHOLDER = "__WEBHOOK_URL__"

# Alerts about something that has no cluster: the trace store belongs to one collector.
NO_CLUSTER = {"EventscopeTraceStoreDown"}
# Pipeline alerts: a collector that cannot see the cluster must silence them.
PIPELINE_PREFIXES = ("ConsumerLag", "ConsumerGroup", "DeadLetter", "EventscopeSourceThroughput")
CAUSE_ALERTS = {"EventscopeCollectorDown", "EventscopeBrokerUnreachable"}


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which(name)
    if binary is None:
        pytest.fail(f"{name} is not on PATH (apt-get install prometheus prometheus-alertmanager)")
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def alert_names() -> list[str]:
    return [rule["alert"] for rule in alert_rules()]


def rule_test_cases() -> list[dict[str, Any]]:
    cases = []
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            cases.extend(test.get("alert_rule_test", []))
    return cases


def github_anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens.

    Example: "ConsumerLagHigh" -> "consumerlaghigh"; "Lag in seconds" -> "lag-in-seconds".
    """
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def duration_seconds(text: str) -> int:
    """A Prometheus duration of one unit in seconds: "90s" -> 90, "2m" -> 120."""
    match = re.fullmatch(r"(\d+)([sm])", text)
    assert match, f"unexpected duration {text!r}"
    return int(match[1]) * {"s": 1, "m": 60}[match[2]]


# promtool


def test_promtool_check_rules_is_clean() -> None:
    result = run_tool("promtool", "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "WARNING" not in (result.stdout + result.stderr).upper()


def test_there_are_rule_test_files() -> None:
    assert len(RULE_TESTS) >= 1


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=[p.name for p in RULE_TESTS])
def test_promtool_unit_tests_pass(test_file: Path) -> None:
    result = run_tool("promtool", "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_must_fire_and_must_not_fire_cases() -> None:
    cases = rule_test_cases()
    for name in alert_names():
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c.get("exp_alerts") for c in mine), f"{name}: no must-fire case"
        assert any(not c.get("exp_alerts") for c in mine), f"{name}: no must-not-fire case"


def test_must_fire_cases_expect_annotations_and_cluster_name() -> None:
    fired = [c for c in rule_test_cases() if c.get("exp_alerts")]
    for name in alert_names():
        expected = [a for c in fired if c["alertname"] == name for a in c["exp_alerts"]]
        for alert in expected:
            assert set(alert["exp_annotations"]) == {"summary", "description", "runbook_url"}
        if name not in NO_CLUSTER:
            assert any("cluster_name" in a["exp_labels"] for a in expected), name


def test_every_alert_carries_the_contract_labels_and_annotations() -> None:
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        notes = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(notes), name
        # The description renders a value: the alert's own or one it queries.
        assert "$value" in notes["description"] or "| query" in notes["description"], name
        assert notes["runbook_url"] == RUNBOOK_URL + name.lower(), name
        assert 60 <= duration_seconds(rule["for"]) <= 600, f"{name}: for {rule['for']}"


def test_consumer_lag_high_fires_within_about_a_minute_for_the_demo() -> None:
    by_name = {rule["alert"]: rule for rule in alert_rules()}
    assert by_name["ConsumerLagHigh"]["for"] == "1m"


def test_alert_families_are_warning_critical_pairs() -> None:
    families: dict[str, list[str]] = {}
    for rule in alert_rules():
        family = rule["labels"].get("alert_family")
        if family:
            families.setdefault(family, []).append(rule["labels"]["severity"])
    assert families, "no alert_family labels: critical cannot silence warning"
    for family, severities in families.items():
        assert sorted(severities) == ["critical", "warning"], family


def test_every_alert_has_a_runbook_section() -> None:
    headings = re.findall(r"^#{2,4} (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    anchors = {github_anchor(h) for h in headings}
    missing = [name for name in alert_names() if name.lower() not in anchors]
    assert not missing, f"docs/alerts.md has no section for {missing}"


def test_runbook_links_within_the_page_resolve() -> None:
    text = RUNBOOK.read_text()
    anchors = {github_anchor(h) for h in re.findall(r"^#{1,4} (.+)$", text, flags=re.MULTILINE)}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links, "no in-page links found: the pattern is wrong"
    assert links - anchors == set()


# amtool


def demo_config_text(webhook_url: str) -> str:
    """What the demo does with the template before it starts Alertmanager."""
    return AM_DEMO.read_text().replace(WEBHOOK_PLACEHOLDER, webhook_url)


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(demo_config_text("http://127.0.0.1:8999/api/alerts/webhook"))
    return path


def test_production_config_passes_amtool() -> None:
    result = run_tool("amtool", "check-config", str(AM_PROD))
    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_config_passes_amtool_once_filled_in(demo_config: Path) -> None:
    template = yaml.safe_load(AM_DEMO.read_text())
    assert template["receivers"][0]["webhook_configs"][0]["url"] == WEBHOOK_PLACEHOLDER
    result = run_tool("amtool", "check-config", str(demo_config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_config_is_fast_and_sends_resolved(demo_config: Path) -> None:
    config = yaml.safe_load(demo_config.read_text())
    route = config["route"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "1s",
        "5s",
        "1h",
    )
    assert route["group_by"] == ["alertname", "cluster_name", "group"]
    [receiver] = config["receivers"]
    [webhook] = receiver["webhook_configs"]
    assert webhook == {"url": "http://127.0.0.1:8999/api/alerts/webhook", "send_resolved": True}


def test_both_configs_inhibit_the_same_way() -> None:
    prod = yaml.safe_load(AM_PROD.read_text())
    demo = yaml.safe_load(AM_DEMO.read_text())
    assert prod["inhibit_rules"] == demo["inhibit_rules"]
    assert prod["route"]["group_by"] == ["alertname", "cluster_name", "group"]


def matcher_regex(matchers: list[str], label: str) -> re.Pattern[str]:
    [matcher] = [m for m in matchers if m.startswith(label)]
    value = matcher.split("=", 1)[1].lstrip("~").strip('"')
    return re.compile(value)


def test_collector_outage_silences_every_pipeline_alert_of_its_cluster() -> None:
    [rule] = [
        r
        for r in yaml.safe_load(AM_PROD.read_text())["inhibit_rules"]
        if r["equal"] == ["cluster_name"]
    ]
    sources = matcher_regex(rule["source_matchers"], "alertname")
    targets = matcher_regex(rule["target_matchers"], "alertname")
    assert all(sources.fullmatch(name) for name in CAUSE_ALERTS)
    for name in alert_names():
        is_pipeline = name.startswith(PIPELINE_PREFIXES)
        assert bool(targets.fullmatch(name)) == is_pipeline, name


ROUTES = [
    # (labels, receivers in order): every alert reaches the collector's history first
    ({"alertname": "ConsumerLagHigh", "severity": "warning", "cluster_name": "prod"},
     "eventscope,slack-ops"),
    ({"alertname": "ConsumerLagCritical", "severity": "critical", "cluster_name": "prod"},
     "eventscope,pagerduty-oncall,slack-ops"),
    ({"alertname": "ConsumerLagHigh", "severity": "warning", "cluster_name": "payments-prod"},
     "eventscope,slack-payments"),
    ({"alertname": "DeadLetterQueueGrowing", "severity": "critical",
      "cluster_name": "payments-prod"},
     "eventscope,pagerduty-oncall,slack-payments"),
    ({"alertname": "SomethingElse", "cluster_name": "prod"}, "eventscope,email-ops"),
    ({"alertname": "EventscopeCollectorDown", "severity": "critical"},
     "eventscope,pagerduty-oncall,slack-ops"),
]  # fmt: skip


@pytest.mark.parametrize(("labels", "receivers"), ROUTES)
def test_production_routing(labels: dict[str, str], receivers: str) -> None:
    pairs = [f"{k}={v}" for k, v in labels.items()]
    result = run_tool("amtool", "config", "routes", "test", f"--config.file={AM_PROD}", *pairs)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receivers


def test_production_webhook_feeds_the_collector_history_with_resolved_and_token() -> None:
    config = yaml.safe_load(AM_PROD.read_text())
    first = config["route"]["routes"][0]
    assert first == {"receiver": "eventscope", "continue": True}  # no matchers: every alert
    [receiver] = [r for r in config["receivers"] if r["name"] == "eventscope"]
    [webhook] = receiver["webhook_configs"]
    assert webhook["url"].endswith(":9308/api/alerts/webhook")
    assert webhook["send_resolved"] is True
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"
    assert webhook["http_config"]["authorization"]["credentials_file"].startswith("/etc/")


@pytest.mark.parametrize("severity", ["warning", "critical"])
def test_demo_routes_everything_to_the_webhook(demo_config: Path, severity: str) -> None:
    result = run_tool(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={demo_config}",
        "alertname=ConsumerLagHigh",
        f"severity={severity}",
        "cluster_name=local",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "webhook"
