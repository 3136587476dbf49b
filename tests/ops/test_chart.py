"""The Helm chart, rendered and linted offline (helm-python-sdk), core kinds validated against
the Kubernetes schemas (kubernetes-validate)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from pricehawk.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "pricehawk"
KUBE_VERSION = "1.30.0"
# What a production install must set (docs/operations.md shows the same).
PROD: dict[str, Any] = {
    "image": {"tag": "0.1.0"},
    "secrets": {
        "DATABASE_URL": "postgresql://pricehawk:pw@postgres.db:5432/pricehawk",
        "REDIS_URL": "redis://redis.db:6379/0",
        "PRICEHAWK_SECRET_KEY": "s3cret",
    },
    "portal": {"ingress": {"enabled": True, "host": "pricehawk.example", "tlsSecretName": "tls"}},
    "alertmanager": {"enabled": True, "password": "smtp-pw"},
    "networkPolicy": {"consoleNamespaceSelector": {"kubernetes.io/metadata.name": "ops"}},
}
CRDS = {"ServiceMonitor", "PrometheusRule"}


def render(values: dict[str, Any] | None = None, **opts: Any) -> list[dict[str, Any]]:
    """Every rendered object (hooks included), as dicts."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(
            values=copy.deepcopy(PROD if values is None else values),
            name="pricehawk",
            namespace="pricehawk",
            **opts,
        )
    notes = rendered.pop("pricehawk/templates/NOTES.txt", "")
    assert "pricehawk smoke" in notes
    return [doc for text in rendered.values() for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render(is_install=True)


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def containers(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, deploy in of_kind(objects, "Deployment").items():
        for container in deploy["spec"]["template"]["spec"]["containers"]:
            yield name, container


def test_helm_lint_strict_is_clean() -> None:
    report = helm.lint(CHART, copy.deepcopy(PROD), strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_every_core_object_validates_against_the_kubernetes_schema(
    objects: list[dict[str, Any]],
) -> None:
    checked = 0
    for obj in objects:
        if obj["kind"] in CRDS:
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        checked += 1
    assert checked >= 20


def test_the_schema_check_catches_a_broken_object(objects: list[dict[str, Any]]) -> None:
    deploy = copy.deepcopy(of_kind(objects, "Deployment")["pricehawk-worker"])
    deploy["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deploy, KUBE_VERSION, strict=True)


def test_components_and_kinds(objects: list[dict[str, Any]]) -> None:
    deployments = of_kind(objects, "Deployment")
    assert set(deployments) == {
        "pricehawk-portal",
        "pricehawk-console",
        "pricehawk-worker",
        "pricehawk-crawler",
        "pricehawk-exporter",
    }
    assert set(of_kind(objects, "PodDisruptionBudget")) == set(deployments)
    hpa = of_kind(objects, "HorizontalPodAutoscaler")["pricehawk-crawler"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "pricehawk-crawler",
    }
    assert "replicas" not in deployments["pricehawk-crawler"]["spec"]  # the HPA owns it
    assert of_kind(objects, "ServiceMonitor") and of_kind(objects, "PrometheusRule")
    assert set(of_kind(objects, "NetworkPolicy")) == {
        "pricehawk-default-deny",
        "pricehawk-portal",
        "pricehawk-console",
        "pricehawk-metrics",
    }
    assert "pricehawk-portal" in of_kind(objects, "Ingress")


def test_settings_configmap_and_secret_hold_every_setting(objects: list[dict[str, Any]]) -> None:
    config = of_kind(objects, "ConfigMap")["pricehawk-config"]["data"]
    secret = of_kind(objects, "Secret")["pricehawk-secrets"]["data"]
    missing = [s for s in SETTINGS if s.env not in set(config) | set(secret)]
    hint = "".join(
        f'  # {" ".join(s.doc.split())} (default: {s.default!r})\n  {s.env}: ""\n' for s in missing
    )
    assert not missing, f"add to helm/pricehawk/values.yaml (config: or secrets:):\n{hint}"
    assert set(config) | set(secret) == {s.env for s in SETTINGS}
    assert not set(config) & set(secret)
    # secrets never go to the ConfigMap
    assert not {s.env for s in SETTINGS if s.secret} & set(config)
    for _, container in containers(objects):
        refs = [next(iter(ref.values()))["name"] for ref in container["envFrom"]]
        assert refs == ["pricehawk-config", "pricehawk-secrets"]


def test_a_setting_without_a_database_url_does_not_render() -> None:
    values = copy.deepcopy(PROD)
    values["secrets"]["DATABASE_URL"] = ""
    with pytest.raises(helm.HelmError, match=r"secrets\.DATABASE_URL is required"):
        render(values)


def test_an_existing_secret_replaces_the_charts_own(objects: list[dict[str, Any]]) -> None:
    values = copy.deepcopy(PROD)
    values["secrets"] = {}
    values["existingSecret"] = "pricehawk-prod"
    rendered = render(values)
    assert not [o for o in rendered if o["kind"] == "Secret" and "alertmanager" not in
                o["metadata"]["name"]]  # fmt: skip
    job = of_kind(rendered, "Job")["pricehawk-migrate"]
    refs = job["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {"secretRef": {"name": "pricehawk-prod"}} in refs


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(
    objects: list[dict[str, Any]],
) -> None:
    job = of_kind(objects, "Job")["pricehawk-migrate"]
    notes = job["metadata"]["annotations"]
    assert notes["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # the job's settings exist before it runs: hook objects of a lower weight
    by_name = {o["metadata"]["name"]: o for o in objects}
    for ref in container["envFrom"]:
        name = next(iter(ref.values()))["name"]
        hooked = by_name[name]["metadata"]["annotations"]
        assert hooked["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert int(hooked["helm.sh/hook-weight"]) < int(notes["helm.sh/hook-weight"])
    hook_config = by_name["pricehawk-migrate-config"]["data"]
    assert hook_config == of_kind(objects, "ConfigMap")["pricehawk-config"]["data"]


def test_probes_resources_and_security(objects: list[dict[str, Any]]) -> None:
    for name, container in containers(objects):
        paths = {container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")}
        if name == "pricehawk-console":
            assert paths == {"/_stcore/health"}  # Streamlit's own
        elif name == "pricehawk-exporter":
            assert paths == {"/healthz"}  # it must stay up to report a database outage
        else:
            assert paths == {"/healthz", "/readyz"}, name
        ports = {p["name"] for p in container["ports"]}
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] in ports
        assert container["resources"]["requests"]["cpu"]
        assert container["resources"]["limits"]["memory"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    for deploy in of_kind(objects, "Deployment").values():
        pod = deploy["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0


def _pod_labels(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    deployments = of_kind(objects, "Deployment").values()
    return [d["spec"]["template"]["metadata"]["labels"] for d in deployments]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_selectors_match_pods(objects: list[dict[str, Any]]) -> None:
    pods = _pod_labels(objects)
    for kind in ("PodDisruptionBudget",):
        for obj in of_kind(objects, kind).values():
            matched = [p for p in pods if _selects(obj["spec"]["selector"]["matchLabels"], p)]
            assert len(matched) == 1, obj["metadata"]["name"]
    for svc in of_kind(objects, "Service").values():
        matched = [p for p in pods if _selects(svc["spec"]["selector"], p)]
        assert len(matched) == 1, svc["metadata"]["name"]


def test_servicemonitor_scrapes_each_component_on_a_port_it_has(
    objects: list[dict[str, Any]],
) -> None:
    monitor = next(iter(of_kind(objects, "ServiceMonitor").values()))
    wanted = set(monitor["spec"]["selector"]["matchExpressions"][0]["values"])
    assert wanted == {"portal", "worker", "crawler", "exporter", "console"}
    endpoint_ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    for svc in of_kind(objects, "Service").values():
        component = svc["metadata"]["labels"]["app.kubernetes.io/component"]
        ports = {p["name"] for p in svc["spec"]["ports"]}
        if component in wanted:
            assert len(ports & endpoint_ports) == 1, svc["metadata"]["name"]
        assert "pricehawk" in svc["metadata"]["name"]  # the rules' up{job=~".*pricehawk.*"}


def test_console_metrics_port_is_the_one_scraped(objects: list[dict[str, Any]]) -> None:
    deploy = of_kind(objects, "Deployment")["pricehawk-console"]
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert int(env["PRICEHAWK_CONSOLE_METRICS_PORT"]) == ports["metrics"]
    service = of_kind(objects, "Service")["pricehawk-console"]
    assert {"name": "metrics", "port": ports["metrics"], "targetPort": "metrics"} in service[
        "spec"
    ]["ports"]
    # off by choice: no longer selected by the ServiceMonitor
    values = copy.deepcopy(PROD)
    values["console"] = {"scrape": False}
    monitor = next(iter(of_kind(render(values), "ServiceMonitor").values()))
    assert "console" not in monitor["spec"]["selector"]["matchExpressions"][0]["values"]


def test_prometheusrule_is_the_rules_file_with_our_runbook_base(
    objects: list[dict[str, Any]],
) -> None:
    rules_file = ROOT / "helm" / "pricehawk" / "files" / "alerts.yaml"
    rule = next(iter(of_kind(objects, "PrometheusRule").values()))
    assert rule["spec"] == yaml.safe_load(rules_file.read_text())
    values = copy.deepcopy(PROD)
    values["metrics"] = {"runbookBaseUrl": "https://wiki.example/runbooks/"}
    moved = next(iter(of_kind(render(values), "PrometheusRule").values()))
    urls = [r["annotations"]["runbook_url"] for g in moved["spec"]["groups"] for r in g["rules"]]
    assert urls and all(u.startswith("https://wiki.example/runbooks/") for u in urls)
    plain = of_kind(objects, "ConfigMap")["pricehawk-prometheus-rules"]["data"]
    assert yaml.safe_load(plain["pricehawk-alerts.yaml"]) == rule["spec"]


def test_dashboard_and_alertmanager_config_are_provisioned(objects: list[dict[str, Any]]) -> None:
    import json

    dashboard = of_kind(objects, "ConfigMap")["pricehawk-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["pricehawk.json"]) == json.loads(
        (CHART / "files" / "dashboard.json").read_text()
    )
    secret = of_kind(objects, "Secret")["pricehawk-alertmanager"]
    config = yaml.safe_load(secret["stringData"]["alertmanager.yaml"])
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers[config["route"]["receiver"]]["email_configs"][0]["to"] == (
        "ops@pricehawk.example"
    )
    assert config["global"]["smtp_smarthost"] == "smtp.pricehawk.example:587"


def test_network_policies_name_ports_the_pods_have(objects: list[dict[str, Any]]) -> None:
    deployments = of_kind(objects, "Deployment")
    for policy in of_kind(objects, "NetworkPolicy").values():
        selector = policy["spec"]["podSelector"]["matchLabels"]
        pods = [d for d in deployments.values()
                if _selects(selector, d["spec"]["template"]["metadata"]["labels"])]  # fmt: skip
        assert pods, policy["metadata"]["name"]
        named = {p["name"] for d in pods for c in d["spec"]["template"]["spec"]["containers"]
                 for p in c["ports"]}  # fmt: skip
        for rule in policy["spec"].get("ingress", []):
            for port in rule["ports"]:
                assert port["port"] in named, (policy["metadata"]["name"], port)


@pytest.mark.parametrize("component", ["portal", "console", "worker", "crawler", "exporter"])
def test_each_component_can_be_turned_off(component: str) -> None:
    values = copy.deepcopy(PROD)
    values.setdefault(component, {})["enabled"] = False
    rendered = render(values, is_upgrade=True)
    names = {o["metadata"]["name"] for o in rendered}
    assert f"pricehawk-{component}" not in names
    monitor = next(iter(of_kind(rendered, "ServiceMonitor").values()))
    assert component not in monitor["spec"]["selector"]["matchExpressions"][0]["values"]
    for obj in rendered:
        if obj["kind"] not in CRDS:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"portal": {"replica": 3}}, "replica"),  # a typo, not silently ignored
        ({"crawler": {"autoscaling": {"maxReplicas": 0}}}, "maxReplicas"),
        ({"config": {"pricehawk_log_level": "DEBUG"}}, "pricehawk_log_level"),
        ({"metrics": {"runbookBaseUrl": "https://wiki.example/runbooks"}}, "runbookBaseUrl"),
    ],
)
def test_values_schema_rejects_mistakes(override: dict[str, Any], complaint: str) -> None:
    values = copy.deepcopy(PROD)
    for key, value in override.items():
        values[key] = {**values.get(key, {}), **value}
    with pytest.raises(helm.HelmError, match=complaint):
        render(values)
