"""Dry run: what would happen, validated by the API server with dryRun=All, nothing changed."""

from __future__ import annotations

from collections.abc import Callable

from remediator_devtools.testing import OperatorThread

from .conftest import NS, Cluster, actions, incident_spec, policy_spec, timeline

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


def test_policy_dry_run_records_what_would_happen(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web")
    cluster.policy("both", policy_spec(*STEPS, dryRun=True))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    _assert_dry_run(cluster, mark)


def test_global_dry_run_records_what_would_happen(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    start_operator(dry_run=True)
    cluster.deployment("web")
    cluster.policy("both", policy_spec(*STEPS))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    _assert_dry_run(cluster, mark)


def test_dry_run_skips_the_approval_gate_and_changes_nothing_for_p0(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web")
    cluster.policy("both", policy_spec(*STEPS, dryRun=True))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec(severity="P0"))
    _assert_dry_run(cluster, mark)
