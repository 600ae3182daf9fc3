"""Golden tests: recorded Alertmanager payloads and the decisions `remediator simulate` makes.

Each `tests/golden/alerts/NAME.json` is a webhook payload (version 4) as Alertmanager posts
it; `tests/golden/expected/NAME.json` is the `simulate --output json` decision for it,
against the policies in `remediations/` and the observed objects in `tests/golden/state/`,
at a fixed time. A policy change that alters a decision (another policy matches, a
different plan, another approval gate) fails here, in review, before it reaches a cluster.

When the change is intended, regenerate the expected files and review their diff:

    REMEDIATOR_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py -p no:cacheprovider
    git diff tests/golden/expected/

A new policy needs a recorded payload here too (`test_every_policy_has_a_golden_payload`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from remediator.cli import main
from remediator.cli.files import load_policies
from support.golden import GOLDEN, PAYLOADS, POLICIES, decided, decided_at, simulate

NOW = "2026-11-28T04:00:00Z"
UPDATE = os.environ.get("REMEDIATOR_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("payload", PAYLOADS, ids=[p.stem for p in PAYLOADS])
def test_decision_matches_golden(payload: Path) -> None:
    expected_file = GOLDEN / "expected" / payload.name
    decision = decided_at(payload, GOLDEN / "state", NOW)
    if UPDATE:
        expected_file.write_text(json.dumps(decision, indent=2, ensure_ascii=False) + "\n")
    assert expected_file.exists(), (
        f"no expected decision for {payload.name}; run with REMEDIATOR_UPDATE_GOLDEN=1"
    )
    expected = json.loads(expected_file.read_text())
    assert decision == expected, (
        f"the decision for {payload.name} changed; if intended, regenerate with"
        " REMEDIATOR_UPDATE_GOLDEN=1 and review the diff"
    )


def test_no_orphan_expected_files() -> None:
    expected = {p.name for p in (GOLDEN / "expected").glob("*.json")}
    assert expected == {p.name for p in PAYLOADS}


def test_every_policy_has_a_golden_payload() -> None:
    policies, problems = load_policies([POLICIES])
    assert not problems
    covered = {
        decision["policy"]
        for payload in PAYLOADS
        for decision in json.loads((GOLDEN / "expected" / payload.name).read_text())["decisions"]
        if decision["outcome"] not in ("NoPolicy", "Duplicate", "Resolved", "Dropped")
    }
    uncovered = sorted({p.metadata.name for p in policies} - covered)
    assert not uncovered, f"policies without a recorded payload in tests/golden/alerts: {uncovered}"


def test_golden_set_covers_the_special_cases() -> None:
    outcomes = {
        d["outcome"]
        for payload in PAYLOADS
        for d in json.loads((GOLDEN / "expected" / payload.name).read_text())["decisions"]
    }
    assert {"Duplicate", "Resolved", "NoPolicy", "AwaitingApproval", "Remediating"} <= outcomes


def test_text_output_tells_the_whole_decision() -> None:
    result = simulate(
        GOLDEN / "alerts" / "service-down.json", "--state", str(GOLDEN / "state"), "--now", NOW
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "incident:  shop/am-" in out
    assert "severity P0" in out
    assert "policy:    service-down-restart" in out
    assert "evict 3 pods of Deployment/api" in out
    assert "approval:  required, 1 approver(s), respond by 2026-11-28T04:13:00Z" in out
    assert "not checked offline" in out


def test_without_state_says_what_is_missing() -> None:
    (decision,) = decided(GOLDEN / "alerts" / "failed-deployment.json")["decisions"]
    assert decision["plan"] is None
    assert decision["missing"] == ["observed state (--state): the plan is not computed"]
    assert decision["policy"] == "failed-deployment-rollback"


def test_protected_namespace_and_dry_run_are_decided_offline(tmp_path: Path) -> None:
    payload = json.loads((GOLDEN / "alerts" / "memory-leak.json").read_text())
    payload["alerts"][0]["labels"]["namespace"] = "payments-prod"
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(payload))
    # a protected namespace is not allowed by `*`: the bridge routes it to the default
    (decision,) = decided(path, "--protected-namespace", "payments-prod")["decisions"]
    assert decision["outcome"] == "Dropped"
    (decision,) = decided(
        path, "--allow-namespace", "payments-prod", "--protected-namespace", "payments-prod"
    )["decisions"]
    assert (decision["outcome"], decision["reason"]) == ("Blocked", "ProtectedNamespace")
    (decision,) = decided(path, "--dry-run")["decisions"]
    assert decision["outcome"] == "DryRun"
    assert decision["guards"]["dryRun"] is True


def test_invalid_payload_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"version": "4", "alerts": [{"labels": {}}]}))
    result = CliRunner().invoke(main, ["simulate", "--alert", str(path)])
    assert result.exit_code == 1
    assert "invalid Alertmanager payload" in result.output


def _shipping_alone(tmp_path: Path, labels: str) -> dict[str, Any]:
    """The carrier alert's decision when the only object is Deployment shipping."""
    state = tmp_path / "state.yaml"
    state.write_text(
        "apiVersion: apps/v1\nkind: Deployment\n"
        f"metadata: {{name: shipping, namespace: shop, labels: {labels}}}\n"
        "spec: {replicas: 1, selector: {matchLabels: {app: shipping}}}\n"
    )
    payload = GOLDEN / "alerts" / "carrier-rate-limit.json"
    (decision,) = decided(payload, "--state", str(state), "--now", NOW)["decisions"]
    return dict(decision)


def test_missing_state_is_named(tmp_path: Path) -> None:
    decision = _shipping_alone(tmp_path, "{remediator.dev/managed: 'true'}")
    assert (decision["outcome"], decision["reason"]) == ("Blocked", "ConfigMapNotFound")
    assert decision["missing"] == ["ConfigMap/shipping-flags in namespace shop"]


def test_a_workload_outside_the_policy_bounds_is_refused(tmp_path: Path) -> None:
    """The playbook's policies act only on workloads labelled remediator.dev/managed=true:
    an alert naming any other workload of the namespace gets no plan."""
    decision = _shipping_alone(tmp_path, "{}")
    assert (decision["outcome"], decision["reason"]) == ("Blocked", "TargetNotAllowed")
    assert "remediator.dev/managed=true" in decision["message"]


def test_severity_mapping_like_the_bridge() -> None:
    payload = GOLDEN / "alerts" / "memory-leak.json"  # severity=warning: P2 by default
    (decision,) = decided(payload, "--severity", "warning=P1")["decisions"]
    assert decision["incident"]["severity"] == "P1"
    assert decision["approval"]["mode"] == "required"  # P1 default: a human approves
    bad = simulate(payload, "--output", "json", "--severity", "warning=P9")
    assert bad.exit_code == 2
