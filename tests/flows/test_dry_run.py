"""Dry run: what would happen, validated by the API server with dryRun=All, nothing changed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from remediator_devtools.testing import OperatorThread
from support.policies import incident_spec, policy_spec

from .conftest import NS, Cluster, actions, timeline

STEPS = ({"action": "restartPods"}, {"action": "scale", "to": 4})


def _assert_dry_run(cluster: Cluster, mark: int) -> None:
    body = cluster.wait_phase("inc-1", "DryRun", "Remediated", "Blocked", "Failed")
    assert body["status"]["phase"] == "DryRun", body["status"]
    assert [a["state"] for a in actions(body)] == ["DryRun", "DryRun"]
    assert [a["result"] for a in actions(body)] == [
        "would restart the pods of Deployment/web (rolling)",
        "would scale Deployment/web from 2 to 4 replicas",
    ]
    assert timeline(body) == ["Matched", "DryRun", "DryRun", "DryRun"]
    cluster.event_reasons(body, "DryRun", "DryRun", "DryRun")
    # the server saw (and validated) both changes, and changed nothing
    assert cluster.writes(resource="deployments", since=mark) == []
    requests = [w for w in cluster.box.writes()[mark:] if w.resource == "deployments"]
    assert [(w.verb, w.subresource, w.dry_run, w.changed) for w in requests] == [
        ("patch", "", True, False),
        ("patch", "scale", True, False),
    ]
    deployment = cluster.apps.read_namespaced_deployment("web", NS)
    assert deployment.spec.replicas == 2
    assert not (deployment.spec.template.metadata.annotations or {})


@pytest.mark.parametrize(
    ("operator_dry_run", "severity"),
    [
        pytest.param(False, "P2", id="the policy's dryRun"),
        pytest.param(True, "P2", id="the operator's --dry-run"),
        pytest.param(False, "P0", id="P0: the approval gate skipped"),
    ],
)
def test_dry_run_records_what_would_happen_and_changes_nothing(
    cluster: Cluster,
    start_operator: Callable[..., OperatorThread],
    operator_dry_run: bool,
    severity: str,
) -> None:
    start_operator(dry_run=operator_dry_run)
    cluster.deployment("web")
    cluster.policy("both", policy_spec(*STEPS, **({} if operator_dry_run else {"dryRun": True})))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec(severity=severity))
    _assert_dry_run(cluster, mark)
