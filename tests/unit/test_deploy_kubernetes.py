"""deploy/kubernetes/: validated offline against the real schemas, and wired together.

- Core kinds (ConfigMap, Deployment, Service): `kubernetes-validate` (PyPI), strict, i.e.
  unknown fields are errors, against the newest and an older supported Kubernetes version.
- ServiceMonitor and PrometheusRule: the prometheus-operator CRD OpenAPI schemas as compiled
  by the npm package @kubernetes-models/prometheus-operator, run with node
  (deploy/kubernetes/schemas/validate.mjs; install it with
  `npm ci --prefix deploy/kubernetes/schemas`).
- The committed PrometheusRule equals what deploy/kubernetes/generate.py makes from
  alerts/*.rules.yml, and its rules pass `promtool check rules`.

A missing validator (node, its node_modules, promtool, kubernetes-validate) fails these tests.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

from collector.config import load_config

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
SCHEMAS = K8S / "schemas"
CORE_FILES = [K8S / "collector.yaml", K8S / "dashboard.yaml"]
CRD_FILES = [K8S / "servicemonitor.yaml", K8S / "prometheusrule.yaml"]
# The newest the validator ships, and an old release still common in managed clusters.
KUBERNETES_VERSIONS = ["1.37.0", "1.29.0"]


def documents(*paths: Path) -> list[dict[str, Any]]:
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [
        d
        for d in documents(*CORE_FILES, *CRD_FILES)
        if d["kind"] == kind and d["metadata"]["name"] == name
    ]
    return doc


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_prometheusrule", K8S / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- schemas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_manifests_are_valid_kubernetes_objects(version: str) -> None:
    docs = documents(*CORE_FILES)
    assert sorted(d["kind"] for d in docs) == sorted(["ConfigMap", "Deployment", "Service"] * 2)
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} on {version}: {exc.message}")


def test_core_validator_rejects_an_unknown_field() -> None:
    service = by_kind("Service", "eventscope-collector")
    broken = {**service, "spec": {**service["spec"], "prots": service["spec"]["ports"]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def validate_crds(resources: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (apt-get install nodejs npm)")
    if not (SCHEMAS / "node_modules" / "@kubernetes-models" / "prometheus-operator").is_dir():
        pytest.fail("CRD schemas not installed: run npm ci --prefix deploy/kubernetes/schemas")
    result = subprocess.run(
        [node, str(SCHEMAS / "validate.mjs")],
        input=json.dumps(resources),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stderr.strip() == "", result.stderr
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]


def broken_copies() -> list[dict[str, Any]]:
    """What the operator's API server would refuse: durations it cannot parse."""
    monitor = by_kind("ServiceMonitor", "eventscope-collector")
    endpoint = {**monitor["spec"]["endpoints"][0], "interval": "15 seconds"}
    bad_monitor = {**monitor, "spec": {**monitor["spec"], "endpoints": [endpoint]}}
    rule = by_kind("PrometheusRule", "eventscope")
    group = {**rule["spec"]["groups"][0], "interval": "often"}
    return [bad_monitor, {**rule, "spec": {"groups": [group]}}]


@pytest.fixture(scope="module")
def crd_results() -> tuple[int, list[dict[str, Any]]]:
    # One node run for both checks: the shipped resources, then the broken copies.
    return validate_crds([*documents(*CRD_FILES), *broken_copies()])


def test_servicemonitor_and_prometheusrule_match_the_operator_crd_schemas(
    crd_results: tuple[int, list[dict[str, Any]]],
) -> None:
    shipped = crd_results[1][: len(documents(*CRD_FILES))]
    assert [r for r in shipped if not r["ok"]] == []
    assert sorted(r["name"] for r in shipped) == [
        "PrometheusRule/eventscope",
        "ServiceMonitor/eventscope-collector",
    ]


def test_crd_validator_rejects_what_the_operator_would(
    crd_results: tuple[int, list[dict[str, Any]]],
) -> None:
    returncode, results = crd_results
    broken = results[len(documents(*CRD_FILES)) :]
    assert returncode == 1
    assert [r["ok"] for r in broken] == [False, False]
    assert "interval" in broken[0]["error"] and "interval" in broken[1]["error"]


# -- the PrometheusRule is the alerts/ rules -------------------------------------------------


def test_committed_prometheusrule_is_generated_from_the_alert_rules() -> None:
    generator = load_generator()
    assert (K8S / "prometheusrule.yaml").read_text() == generator.render(ROOT), (
        "deploy/kubernetes/prometheusrule.yaml is stale: run python deploy/kubernetes/generate.py"
    )


def test_prometheusrule_holds_every_rule_of_alerts_unchanged() -> None:
    groups = [
        group
        for path in sorted((ROOT / "alerts").glob("*.rules.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert groups
    assert by_kind("PrometheusRule", "eventscope")["spec"]["groups"] == groups


def test_rules_extracted_from_the_prometheusrule_pass_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (apt-get install prometheus)")
    spec = by_kind("PrometheusRule", "eventscope")["spec"]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": spec["groups"]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rule_count = sum(len(g["rules"]) for g in spec["groups"])
    assert f"SUCCESS: {rule_count} rules found" in result.stdout


# -- the pieces select each other --------------------------------------------------------------


@pytest.mark.parametrize("name", ["eventscope-collector", "eventscope-dashboard"])
def test_service_selects_the_deployment_pods_on_a_named_port(name: str) -> None:
    service = by_kind("Service", name)
    pod = by_kind("Deployment", name)["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    port_names = {p["name"] for c in pod["spec"]["containers"] for p in c["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names


def test_servicemonitor_scrapes_the_collector_service_as_job_eventscope() -> None:
    monitor = by_kind("ServiceMonitor", "eventscope-collector")
    service = by_kind("Service", "eventscope-collector")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert {"targetLabel": "job", "replacement": "eventscope", "action": "replace"} in endpoint[
        "relabelings"
    ]


def test_collector_pod_is_non_root_read_only_and_probed_on_healthz() -> None:
    deployment = by_kind("Deployment", "eventscope-collector")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's USER
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_collector_configmap_is_accepted_by_the_collector(tmp_path: Path) -> None:
    configmap = by_kind("ConfigMap", "eventscope-collector")
    container = by_kind("Deployment", "eventscope-collector")["spec"]["template"]["spec"][
        "containers"
    ][0]
    # Exactly the env vars the pod sets: a ${VAR} the pod lacks would stop the collector.
    env = {item["name"]: "x" for item in container["env"]}
    (tmp_path / "eventscope.yml").write_text(configmap["data"]["eventscope.yml"])
    config = load_config(tmp_path / "eventscope.yml", env=env)
    assert config.listen == "0.0.0.0:9308"
    assert {c.kind for c in config.clusters} == {"kafka", "rabbitmq"}
