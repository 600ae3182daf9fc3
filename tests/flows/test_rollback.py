"""Failed deployment → rollback, as `kubectl rollout undo` does it."""

from __future__ import annotations

import time

from remediator_devtools.testing import OperatorThread

from .conftest import NS, Cluster, actions, timeline

ROLLBACK_POLICY = {
    "match": {"alertnames": ["DeploymentReplicasUnavailable"]},
    "target": {"kind": "Deployment", "nameFromLabel": "deployment"},
    "steps": [{"action": "rollback"}],
    "approval": {"P2": {"mode": "auto"}},
}
INCIDENT = {
    "alertname": "DeploymentReplicasUnavailable",
    "severity": "P2",
    "labels": {"deployment": "checkout"},
}


def test_auto_approved_rollback_restores_previous_template(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("checkout", image="v1")
    cluster.deployment("checkout", image="v2")
    cluster.policy("rollback-bad-deploys", ROLLBACK_POLICY)
    mark = cluster.mark()
    cluster.incident("inc-1", INCIDENT)
    body = cluster.wait_phase("inc-1", "Remediated", "Failed", "Blocked")
    assert body["status"]["phase"] == "Remediated", body["status"]
    deployment = cluster.apps.read_namespaced_deployment("checkout", NS)
    assert deployment.spec.template.spec.containers[0].image == "example/checkout:v1"
    writes = cluster.writes("patch", "deployments", "checkout", since=mark)
    assert len(writes) == 1 and writes[0].subresource == ""
    assert cluster.writes(resource="deployments", since=mark) == writes
    [action] = actions(body)
    assert action["state"] == "Applied"
    assert "from revision 2 to 1" in action["result"]
    assert timeline(body) == ["Matched", "AutoApproved", "ActionApplied", "Remediated"]
    assert body["status"]["policy"] == "rollback-bad-deploys"
    assert cluster.event_reasons(body, "Remediated") == [
        "ActionApplied",
        "AutoApproved",
        "Matched",
        "Remediated",
    ]
    # the fixture controller brings the revision-1 template back as revision 3
    cluster.box.settle()
    deployment = cluster.apps.read_namespaced_deployment("checkout", NS)
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "3"


def test_rollback_without_previous_revision_is_blocked(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("checkout", image="v1")
    cluster.policy("rollback-bad-deploys", ROLLBACK_POLICY)
    mark = cluster.mark()
    cluster.incident("inc-1", INCIDENT)
    body = cluster.wait_phase("inc-1", "Blocked", "Remediated", "Failed")
    assert body["status"]["phase"] == "Blocked"
    assert timeline(body) == ["NoPreviousRevision"]
    assert "no revision before 1" in body["status"]["message"]
    assert cluster.writes(resource="deployments", since=mark) == []
    cluster.event_reasons(body, "NoPreviousRevision")
    events = cluster.events(body)
    assert [(e.reason, e.type) for e in events] == [("NoPreviousRevision", "Warning")]


def test_rollback_of_a_rollout_older_than_the_window_is_blocked(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("checkout", image="v1")
    cluster.deployment("checkout", image="v2")
    time.sleep(1.1)  # revision 2 is now more than 1 s old
    cluster.policy(
        "rollback-recent",
        {
            **ROLLBACK_POLICY,
            "steps": [{"action": "rollback", "onlyIfRolledOutWithin": "1s"}],
        },
    )
    mark = cluster.mark()
    cluster.incident("inc-1", INCIDENT)
    body = cluster.wait_phase("inc-1", "Blocked", "Remediated", "Failed")
    assert body["status"]["phase"] == "Blocked"
    assert timeline(body) == ["RolloutTooOld"]
    assert "not within 1s" in body["status"]["message"]
    assert cluster.writes(resource="deployments", since=mark) == []
    deployment = cluster.apps.read_namespaced_deployment("checkout", NS)
    assert deployment.spec.template.spec.containers[0].image == "example/checkout:v2"


def test_rollback_of_a_recent_rollout_within_the_window_goes_ahead(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("checkout", image="v1")
    cluster.deployment("checkout", image="v2")
    cluster.policy(
        "rollback-recent",
        {
            **ROLLBACK_POLICY,
            "steps": [{"action": "rollback", "onlyIfRolledOutWithin": "10m"}],
        },
    )
    mark = cluster.mark()
    cluster.incident("inc-1", INCIDENT)
    body = cluster.wait_phase("inc-1", "Remediated", "Blocked", "Failed")
    assert body["status"]["phase"] == "Remediated", body["status"]
    assert len(cluster.writes("patch", "deployments", "checkout", since=mark)) == 1


def test_required_approval_is_stamped_with_the_approvers_identity(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("checkout", image="v1")
    cluster.deployment("checkout", image="v2")
    cluster.policy("rollback-bad-deploys", ROLLBACK_POLICY)
    cluster.incident(
        "inc-p1",
        {
            "alertname": "DeploymentReplicasUnavailable",
            "severity": "P1",
            "labels": {"deployment": "checkout"},
        },
    )
    cluster.wait_phase("inc-p1", "AwaitingApproval")
    approval = cluster.approve("inc-p1", "alice@example.com", groups=["sre"])
    assert approval["spec"]["approver"] == "alice@example.com"
    body = cluster.wait_phase("inc-p1", "Remediated", "Failed", "Blocked")
    assert body["status"]["phase"] == "Remediated", body["status"]
    assert [a["approver"] for a in body["status"]["approvals"]] == ["alice@example.com"]
