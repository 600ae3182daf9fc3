"""`remediator validate`: schema and lint of RemediationPolicy files, one test per rule.

Each broken policy is written to tmp_path and must fail naming the file, the object
(`RemediationPolicy/name`) and the field (`spec.steps[0].max`).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from remediator.cli import main
from remediator.core.alert_catalog import catalog_from, labels_of_rule
from remediator.core.lint import Document, lint
from remediator.core.matching import can_overlap
from remediator.core.models import Match

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_ALERTS = ROOT / "tests" / "golden" / "alerts"


def policy(name: str = "p", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "match": {"alertnames": ["ContainerMemoryLeak"]},
        "target": {
            "kind": "Deployment",
            "nameFromLabel": "deployment",
            "selector": {"matchLabels": {"remediator.dev/managed": "true"}},
        },
        "steps": [{"action": "restartPods", "mode": "rolling"}],
    }
    body.update(spec)
    return {
        "apiVersion": "remediator.dev/v1alpha1",
        "kind": "RemediationPolicy",
        "metadata": {"name": name},
        "spec": body,
    }


def write(tmp_path: Path, *documents: Any, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def validate(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args])


def rules(result: Result) -> list[dict[str, str]]:
    findings: list[dict[str, str]] = json.loads(result.stdout)["findings"]
    return findings


# ------------------------------------------------------------------- the real policies
def test_the_repository_policies_pass() -> None:
    result = validate(str(ROOT / "remediations"))
    assert result.exit_code == 0, result.output
    assert " 0 error(s)" in result.output


def test_the_repository_policies_pass_against_the_recorded_alerts() -> None:
    result = validate(str(ROOT / "remediations"), "--alerts", str(GOLDEN_ALERTS))
    assert result.exit_code == 0, result.output
    assert "label checks skipped" not in result.output


def test_kustomization_is_skipped_and_other_kinds_ignored(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [policy.yaml]\n")
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    write(tmp_path, policy(), configmap)
    result = validate(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "1 policies in 1 files" in result.output


# ---------------------------------------------------------------------------- schema
@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (
            {"steps": [{"action": "scale", "to": 2, "max": 3, "maxx": 4}]},
            "spec.steps[0].maxx",
            "Extra inputs",
        ),
        (
            {"steps": [{"action": "scale", "to": "two", "max": 3}]},
            "spec.steps[0].to",
            "valid integer",
        ),
        (
            {"steps": [{"action": "scale", "to": 2, "by": 1, "max": 3}]},
            "spec.steps[0]",
            "exactly one of",
        ),
        ({"steps": [{"action": "restartPods", "max": 3}]}, "spec.steps[0]", "max: not a field"),
        ({"target": {"kind": "Deployment"}}, "spec.target", "exactly one of nameFromLabel"),
        ({"target": {"kind": "Pod", "name": "x"}}, "spec.target.kind", "Deployment"),
        ({"steps": []}, "spec.steps", "at least 1"),
        ({"priority": 5000}, "spec.priority", "less than or equal"),
        ({"guards": {"cooldown": "ten minutes"}}, "spec.guards.cooldown", "pattern"),
        ({"approval": {"P0": {"mode": "yolo"}}}, "spec.approval.P0.mode", "auto"),
    ],
)
def test_schema_errors_name_file_object_and_field(
    tmp_path: Path, spec: dict[str, Any], field: str, words: str
) -> None:
    path = write(tmp_path, policy("broken", **spec))
    result = validate(str(path))
    assert result.exit_code == 1
    line = next(line for line in result.output.splitlines() if "[schema]" in line)
    assert line.startswith(f"{path}: error: RemediationPolicy/broken {field}: "), line
    assert words in line


def test_every_document_of_a_file_is_checked(tmp_path: Path) -> None:
    path = write(tmp_path, policy("good"), policy("bad", priority="high"))
    result = validate(str(path), "--output", "json")
    assert result.exit_code == 1
    (finding,) = rules(result)
    assert finding["object"] == "RemediationPolicy/bad"
    assert finding["field"] == "spec.priority"
    assert finding["file"] == str(path)


def test_not_an_object_and_bad_yaml(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("- just\n- a list\n")
    (tmp_path / "b.yaml").write_text("key: [unclosed\n")
    result = validate(str(tmp_path), "--output", "json")
    assert result.exit_code == 1
    assert {f["rule"] for f in rules(result)} == {"not-an-object", "yaml"}


def test_unknown_kind_of_our_group(tmp_path: Path) -> None:
    body = policy()
    body["kind"] = "RemediationPolicyy"
    result = validate(str(write(tmp_path, body)), "--output", "json")
    assert result.exit_code == 1
    assert [(f["rule"], f["field"]) for f in rules(result)] == [("unknown-kind", "kind")]


# --------------------------------------------------------------------- the lint rules
def findings(*documents: Any, catalog: Any = None) -> list[tuple[str, str, str, str]]:
    result = lint([Document("p.yaml", i, d) for i, d in enumerate(documents)], catalog)
    return [(f.level, f.rule, f.obj, f.field) for f in result.findings]


def test_scale_without_max() -> None:
    body = policy("scaler", steps=[{"action": "scale", "factor": 2}])
    assert findings(body) == [
        ("error", "scale-without-max", "RemediationPolicy/scaler", "spec.steps[0].max")
    ]
    body["spec"]["steps"][0]["max"] = 10
    assert findings(body) == []


@pytest.mark.parametrize("severity", ["P0", "P1"])
def test_auto_for_p0_and_p1_needs_an_acknowledgement(severity: str) -> None:
    body = policy("fast", approval={severity: {"mode": "auto"}})
    assert findings(body) == [
        (
            "error",
            "auto-p0-unacknowledged",
            "RemediationPolicy/fast",
            f"spec.approval.{severity}.mode",
        )
    ]
    body["metadata"]["annotations"] = {f"remediator.dev/allow-auto-{severity.lower()}": "true"}
    assert findings(body) == []


def test_auto_p0_is_fine_when_the_policy_never_sees_p0() -> None:
    body = policy("fast", approval={"P0": {"mode": "auto"}})
    body["spec"]["match"]["severities"] = ["P2", "P3"]
    assert findings(body) == []


def test_acknowledging_p0_does_not_acknowledge_p1() -> None:
    body = policy("fast", approval={"P0": {"mode": "auto"}, "P1": {"mode": "auto"}})
    body["metadata"]["annotations"] = {"remediator.dev/allow-auto-p0": "true"}
    assert [f[3] for f in findings(body)] == ["spec.approval.P1.mode"]


def test_circuit_breaker_without_revert_is_a_warning() -> None:
    step = {"action": "circuitBreaker", "configMap": "flags", "key": "carrier-a"}
    assert findings(policy("cb", steps=[step])) == [
        (
            "warning",
            "circuit-breaker-without-revert",
            "RemediationPolicy/cb",
            "spec.steps[0].revertAfter",
        )
    ]


def test_rollback_without_window_is_a_warning() -> None:
    steps = [{"action": "restartPods"}, {"action": "rollback"}]
    assert findings(policy("rb", steps=steps)) == [
        (
            "warning",
            "rollback-without-window",
            "RemediationPolicy/rb",
            "spec.steps[1].onlyIfRolledOutWithin",
        )
    ]


UNBOUNDED = {"kind": "Deployment", "nameFromLabel": "deployment"}


def test_a_target_from_a_label_without_bounds_is_a_warning() -> None:
    body = policy("any-service", target=UNBOUNDED)
    assert findings(body) == [
        ("warning", "unbounded-target", "RemediationPolicy/any-service", "spec.target")
    ]
    (finding,) = lint([Document("p.yaml", 0, body)]).findings
    assert '"deployment"' in finding.message
    assert "one service could get another one acted on" in finding.message
    assert "target.selector" in finding.message and "target.names" in finding.message


@pytest.mark.parametrize(
    "target",
    [
        {**UNBOUNDED, "selector": {"matchLabels": {"remediator.dev/managed": "true"}}},
        {**UNBOUNDED, "names": ["web", "api"]},
        {
            **UNBOUNDED,
            "selector": {"matchLabels": {"team": "shop"}},
            "names": ["web"],
        },
        {"kind": "Deployment", "name": "web"},  # a fixed name is its own bound
        {"kind": "Deployment", "name": "web", "selector": {"matchLabels": {"team": "shop"}}},
    ],
    ids=["selector", "names", "both", "fixed-name", "fixed-name-and-selector"],
)
def test_a_bounded_or_fixed_target_is_not_warned_about(target: dict[str, Any]) -> None:
    assert findings(policy("bounded", target=target)) == []


def test_an_unbounded_target_fails_strict_validation(tmp_path: Path) -> None:
    path = write(tmp_path, policy("any-service", target=UNBOUNDED))
    result = validate(str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}: warning: RemediationPolicy/any-service spec.target: " in result.output
    assert "[unbounded-target]" in result.output
    assert "0 error(s), 1 warning(s)" in result.output
    strict = validate(str(path), "--strict", "--output", "json")
    assert strict.exit_code == 1
    report = json.loads(strict.stdout)
    assert report["ok"] is False
    assert [(f["rule"], f["level"], f["field"]) for f in report["findings"]] == [
        ("unbounded-target", "warning", "spec.target")
    ]


def test_the_repository_policies_are_bounded_and_pass_strict() -> None:
    result = validate(str(ROOT / "remediations"), "--strict", "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["findings"] == []
    assert len(report["policies"]) >= 10


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    path = write(tmp_path, policy("rb", steps=[{"action": "rollback"}]))
    result = validate(str(path))
    assert result.exit_code == 0, result.output
    assert (
        f"{path}: warning: RemediationPolicy/rb spec.steps[0].onlyIfRolledOutWithin"
        in result.output
    )
    assert validate(str(path), "--strict").exit_code == 1


def test_overlapping_matchers_at_equal_priority_name_both_policies(tmp_path: Path) -> None:
    a = write(tmp_path, policy("restart-a"), name="a.yaml")
    b = write(tmp_path, policy("restart-b"), name="b.yaml")
    result = validate(str(tmp_path), "--output", "json")
    assert result.exit_code == 1
    (finding,) = rules(result)
    assert finding["rule"] == "overlapping-match"
    assert (finding["file"], finding["object"], finding["field"]) == (
        str(b),
        "RemediationPolicy/restart-b",
        "spec.match",
    )
    assert "RemediationPolicy/restart-a" in finding["message"]
    assert str(a) in finding["message"]


def test_priority_specificity_namespace_or_disjoint_matchers_resolve_the_overlap() -> None:
    assert findings(policy("a"), policy("b", priority=10)) == []
    specific = policy("b")
    specific["spec"]["match"]["severities"] = ["P2"]
    assert findings(policy("a"), specific) == []
    elsewhere = policy("b")
    elsewhere["metadata"]["namespace"] = "other"
    assert findings(policy("a"), elsewhere) == []
    other_alert = policy("b")
    other_alert["spec"]["match"]["alertnames"] = ["ServiceDown"]
    assert findings(policy("a"), other_alert) == []


def test_duplicate_names() -> None:
    assert [f[1] for f in findings(policy("same"), policy("same"))] == ["duplicate-name"]


@pytest.mark.parametrize(
    ("left", "right", "overlap"),
    [
        ({"labels": {"tier": "web"}}, {"labels": {"tier": "db"}}, False),
        ({"labels": {"tier": "web"}}, {"labels": {"team": "a"}}, True),
        (
            {"labels": {"tier": "web"}},
            {"expressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]},
            True,
        ),
        (
            {"labels": {"tier": "web"}},
            {"expressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]},
            False,
        ),
        (
            {"expressions": [{"key": "tier", "operator": "Exists"}]},
            {"expressions": [{"key": "tier", "operator": "DoesNotExist"}]},
            False,
        ),
        (
            {"expressions": [{"key": "tier", "operator": "DoesNotExist"}]},
            {"expressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]},
            True,
        ),
        (
            {"labels": {"tier": "web"}},
            {"expressions": [{"key": "tier", "operator": "Regex", "values": ["db-.*"]}]},
            False,
        ),
        (
            {"expressions": [{"key": "tier", "operator": "Regex", "values": ["a.*"]}]},
            {"expressions": [{"key": "tier", "operator": "Regex", "values": ["b.*"]}]},
            True,
        ),
        ({"severities": ["P0"]}, {"severities": ["P1"]}, False),
        ({"alertnames": ["A"]}, {}, True),
    ],
)
def test_matcher_overlap(left: dict[str, Any], right: dict[str, Any], overlap: bool) -> None:
    a, b = Match.model_validate(left), Match.model_validate(right)
    assert can_overlap(a, b) is overlap
    assert can_overlap(b, a) is overlap


# ------------------------------------------------------------- labels of the alerts
def alerts_dir(tmp_path: Path, name: str = "alerts", **labels: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": "r",
        "alerts": [{"labels": {"alertname": "ContainerMemoryLeak", **labels}}],
    }
    (folder / "leak.json").write_text(json.dumps(payload))
    return folder


def test_target_label_never_set_by_the_recorded_alerts(tmp_path: Path) -> None:
    path = write(tmp_path, policy("leak"))
    folder = alerts_dir(tmp_path, pod="x", namespace="shop")
    result = validate(str(path), "--alerts", str(folder), "--output", "json")
    assert result.exit_code == 1
    (finding,) = rules(result)
    assert (finding["rule"], finding["object"], finding["field"]) == (
        "target-label-never-set",
        "RemediationPolicy/leak",
        "spec.target.nameFromLabel",
    )
    assert '"deployment"' in finding["message"]
    # without alerts the check is skipped; with an alert that sets it, it passes
    assert validate(str(path)).exit_code == 0
    setting = alerts_dir(tmp_path, "setting", deployment="payments")
    assert validate(str(path), "--alerts", str(setting)).exit_code == 0


def test_match_label_never_set_and_unknown_alertname() -> None:
    body = policy("leak")
    body["spec"]["match"]["labels"] = {"team": "payments"}
    body["spec"]["match"]["alertnames"] = ["ContainerMemoryLeak", "ContainerMemoryLeek"]
    catalog = {"ContainerMemoryLeak": frozenset({"alertname", "deployment"})}
    assert findings(body, catalog=catalog) == [
        ("warning", "unknown-alertname", "RemediationPolicy/leak", "spec.match.alertnames[1]"),
        ("error", "match-label-never-set", "RemediationPolicy/leak", "spec.match.labels.team"),
    ]


def test_unknowable_labels_skip_the_check() -> None:
    catalog = {"ContainerMemoryLeak": None}
    assert findings(policy("leak"), catalog=catalog) == []


def test_prometheus_rule_files_give_the_labels(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(
        textwrap.dedent(
            """
            groups:
              - name: shop
                rules:
                  - alert: ContainerMemoryLeak
                    expr: sum by (namespace, pod) (rate(mem_bytes{job="kubelet"}[1h])) > 0
                    labels: {severity: warning}
                  - alert: Raw
                    expr: up == 0
            """
        )
    )
    catalog = catalog_from(yaml.safe_load_all(rules_file.read_text()))
    assert catalog["ContainerMemoryLeak"] == frozenset({"namespace", "pod", "job", "severity"})
    assert catalog["Raw"] is None  # no aggregation: the series' labels are unknown
    path = write(tmp_path, policy("leak"))
    result = validate(str(path), "--alerts", str(rules_file), "--output", "json")
    assert [f["rule"] for f in rules(result)] == ["target-label-never-set"]


def test_label_replace_counts() -> None:
    rule = {
        "alert": "A",
        "expr": 'label_replace(sum by (pod) (x), "deployment", "$1", "pod", "(.*)-.*")',
    }
    assert labels_of_rule(rule) == frozenset({"pod", "deployment"})
