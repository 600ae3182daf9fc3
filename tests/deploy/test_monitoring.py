"""deploy/monitoring: the Grafana dashboard and the PrometheusRule ask only for metrics the
operator exports, their PromQL is valid for the real `promtool` (Debian's prometheus
package, installed by `make debs`), the alerts fire when they should (`promtool test
rules`), and the ServiceMonitor scrapes the port the operator serves /metrics on."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediator import metrics

from .test_manifests import args_of, container, one, render

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana-dashboard.json"
RULES = MONITORING / "prometheusrule.yaml"
# Series Prometheus itself makes for every scrape target.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions,
    keywords, label names (in matchers and grouping clauses), strings or durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'", '""', expr)  # strings
    text = GROUPING.sub(" ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    names = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS:
            continue
        names.add(name)
    return names


def test_metric_names_are_parsed_from_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, severity) (rate(a_bucket{phase=~"x|y"}[5m])))'
        " / on (severity) group_left (phase) b_total offset 5m"
        ' or absent(up{job="j"} == 1) unless label_replace(c, "p", "$1", "s", "(.*)")'
        " and sum without (instance) (d[$__rate_interval])"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "up", "c", "d"}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panel_exprs() -> list[tuple[str, str]]:
    """(panel title, expr) of every query of every panel, rows' nested panels included."""
    found = []
    for panel in dashboard()["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                found.append((inner["title"], target["expr"]))
    return found


def rules() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(RULES.read_text())
    return data


def alert_rules() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rules()["spec"]["groups"] for r in g["rules"] if "alert" in r}


# ------------------------------------------------------------------------- dashboard
def test_the_dashboard_parses_and_shows_what_an_sre_needs() -> None:
    data = dashboard()
    assert data["uid"] == "remediator" and data["title"]
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    queried = set().union(*(metric_names(e) for _, e in panel_exprs()))
    for needed in (
        "remediator_incidents",  # incidents by phase
        "remediator_actions_total",  # actions by result
        "remediator_time_to_remediate_seconds_bucket",  # p50/p95 by severity
        "remediator_approvals_pending",  # approvals waiting
        "remediator_guard_refusals_total",
        "remediator_bridge_requests_total",  # bridge errors
        "remediator_kube_requests_total",  # API errors
    ):
        assert needed in queried, needed
    for panel in data["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


def test_every_dashboard_query_uses_only_exported_metrics() -> None:
    exported = metrics.exported_names() | SYNTHETIC
    for title, expr in panel_exprs():
        unknown = metric_names(expr) - exported
        assert not unknown, f"panel {title!r} queries {unknown}, which the operator does not export"


# ---------------------------------------------------------------------------- rules
def test_the_prometheus_rule_alerts_on_what_the_issue_asks() -> None:
    data = rules()
    assert (data["apiVersion"], data["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert data["metadata"]["namespace"] == "remediator-system"
    alerts = alert_rules()
    assert {
        "RemediationFailures",
        "ApprovalWaitingPastResponseTime",
        "BridgeErrors",
        "OperatorDown",
    } <= set(alerts)
    exported = metrics.exported_names() | SYNTHETIC
    for name, rule in alerts.items():
        unknown = metric_names(rule["expr"]) - exported
        assert not unknown, f"alert {name} uses {unknown}, which the operator does not export"
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian's prometheus package: `make debs`)")
    return path


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )


def test_promtool_checks_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rules()["spec"]["groups"]}))
    proc = run_promtool("check", "rules", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in proc.stdout


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    """Each panel query as a recording rule, Grafana's interval variable given a value."""
    recording = [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
        for i, (_, expr) in enumerate(panel_exprs())
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recording}]}))
    proc = run_promtool("check", "rules", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


UNIT_TESTS = """
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'remediator_transitions_total{phase="Failed",reason="ActionFailed",pod="a"}'
        values: '0 0 1 1 1 1'
      - series: 'remediator_transitions_total{phase="Remediated",reason="Remediated",pod="a"}'
        values: '0 1 2 3 4 5'
    alert_rule_test:
      - {eval_time: 1m, alertname: RemediationFailures, exp_alerts: []}
      - eval_time: 3m
        alertname: RemediationFailures
        exp_alerts:
          - exp_labels: {severity: warning, phase: Failed, reason: ActionFailed}
  - interval: 1m
    input_series:
      # two replicas report the same view
      - series: 'remediator_approvals_overdue{severity="P0",pod="a"}'
        values: '0 1 1 1 1 1'
      - series: 'remediator_approvals_overdue{severity="P0",pod="b"}'
        values: '0 1 1 1 1 1'
      - series: 'remediator_approvals_overdue{severity="P1",pod="a"}'
        values: '0 0 0 0 0 0'
      - series: 'remediator_approval_pending_age_seconds{severity="P0",pod="a"}'
        values: '0 60 500 560 620 680'
      - series: 'remediator_approval_pending_age_seconds{severity="P1",pod="a"}'
        values: '0 60 120 180 240 300'
    alert_rule_test:
      - {eval_time: 2m, alertname: ApprovalWaitingPastResponseTime, exp_alerts: []}
      - eval_time: 4m
        alertname: ApprovalWaitingPastResponseTime
        exp_alerts:
          - exp_labels: {severity: critical, priority: P0}
      - eval_time: 3m
        alertname: ApprovalWaitingLong
        exp_alerts:
          - exp_labels: {severity: warning, priority: P0}
  - interval: 1m
    input_series:
      - series: 'remediator_bridge_requests_total{path="/alerts",code="200",pod="a"}'
        values: '0+10x30'
      - series: 'remediator_bridge_requests_total{path="/alerts",code="401",pod="a"}'
        values: '0+1x30'
      - series: 'remediator_bridge_requests_total{path="/healthz",code="200",pod="a"}'
        values: '0+5x30'
    alert_rule_test:
      - {eval_time: 5m, alertname: BridgeErrors, exp_alerts: []}
      - eval_time: 20m
        alertname: BridgeErrors
        exp_alerts:
          - exp_labels: {severity: warning, code: "401"}
  - interval: 1m
    input_series:
      - series: 'up{job="remediator-metrics",pod="a"}'
        values: '1 1 0 0 0 0 0 0 0 0'
      - series: 'up{job="remediator-metrics",pod="b"}'
        values: '1 1 1 1 0 0 0 0 0 0'
    alert_rule_test:
      - {eval_time: 3m, alertname: OperatorDown, exp_alerts: []}
      - eval_time: 9m
        alertname: OperatorDown
        exp_alerts:
          - exp_labels: {severity: critical}
  - interval: 1m
    input_series:
      - series: 'remediator_kube_requests_total{verb="PATCH",code="503",pod="a"}'
        values: '0+30x30'
      - series: 'remediator_kube_requests_total{verb="GET",code="404",pod="a"}'
        values: '0+30x30'
      - series: 'remediator_reconcile_errors_total{pod="a"}'
        values: '0+1x30'
    alert_rule_test:
      - eval_time: 20m
        alertname: KubernetesAPIErrors
        exp_alerts:
          - exp_labels: {severity: warning, verb: PATCH, code: "503"}
      - eval_time: 30m
        alertname: ReconcileErrors
        exp_alerts:
          - exp_labels: {severity: warning}
"""


def test_promtool_unit_tests_fire_the_alerts(tmp_path: Path) -> None:
    """The alerts fire (and only then) on the series the operator exports; annotations are
    left out here (promtool compares them too), so the test pins expressions and labels."""
    groups = rules()["spec"]["groups"]
    for group in groups:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    (tmp_path / "tests.yaml").write_text(UNIT_TESTS)
    proc = run_promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tested = set(re.findall(r"alertname: (\w+)", UNIT_TESTS))
    assert tested == set(alert_rules()), "every alert has a unit test"


# ------------------------------------------------------------------- scraping it
def test_the_operator_serves_metrics_where_the_service_monitor_scrapes() -> None:
    docs = render()
    ports = {p["name"]: p["containerPort"] for p in container(docs)["ports"]}
    assert int(args_of(docs)["--metrics-port"]) == ports["metrics"] == 9102
    service = one(docs, "Service", "remediator-metrics")
    [port] = service["spec"]["ports"]
    assert port["targetPort"] == "metrics"

    monitoring = render("deploy/monitoring")
    assert {d["kind"] for d in monitoring} == {"ServiceMonitor", "PrometheusRule", "ConfigMap"}
    assert {d["metadata"]["namespace"] for d in monitoring} == {"remediator-system"}
    monitor = one(monitoring, "ServiceMonitor", "remediator")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == ["remediator-system"]
    [endpoint] = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == (port["name"], "/metrics")
    # OperatorDown and the dashboard select job="<Service name>", the ServiceMonitor's default
    assert 'job="remediator-metrics"' in alert_rules()["OperatorDown"]["expr"]
    configmap = one(monitoring, "ConfigMap", "remediator-grafana-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["grafana-dashboard.json"]) == dashboard()
    assert one(monitoring, "PrometheusRule", "remediator")["spec"] == rules()["spec"]
