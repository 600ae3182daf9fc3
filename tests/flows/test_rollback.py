"""Failed deployment → rollback, as `kubectl rollout undo` does it."""

from __future__ import annotations

from remediator.testing import OperatorThread

from .conftest import NS, Cluster

ROLLBACK_POLICY = {
    "match": {"alertnames": ["DeploymentReplicasUnavailable"]},
    "target": {"kind": "Deployment", "nameFromLabel": "deployment"},
    "steps": [{"action": "rollback"}],
    "approval": {"P2": {"mode": "auto"}},
}


def test_auto_approved_rollback_restores_previous_template(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("checkout", image="v1")
    cluster.deployment("checkout", image="v2")
    cluster.policy("rollback-bad-deploys", ROLLBACK_POLICY)
    mark = cluster.mark()
    cluster.incident("inc-1", {
        "alertname": "DeploymentReplicasUnavailable", "severity": "P2",
        "labels": {"deployment": "checkout"},
    })
    body = cluster.wait_phase("inc-1", "Remediated", "Failed", "Blocked")
    assert body["status"]["phase"] == "Remediated", body["status"]
    deployment = cluster.apps.read_namespaced_deployment("checkout", NS)
    assert deployment.spec.template.spec.containers[0].image == "example/checkout:v1"
    assert len(cluster.writes("patch", "deployments", "checkout", since=mark)) == 1
