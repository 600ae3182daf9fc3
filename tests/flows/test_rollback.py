"""Failed deployment → rollback, as `kubectl rollout undo` does it."""

from __future__ import annotations

import time

from remediator_devtools.testing import OperatorThread
from support.policies import CAPTURED_THEN_APPLIED, incident_spec, policy_spec

from .conftest import NS, Cluster, actions, timeline

ALERT = "DeploymentReplicasUnavailable"
ROLLBACK_POLICY = policy_spec(
    {"action": "rollback"}, alert=ALERT, approval={"P2": {"mode": "auto"}}
)
INCIDENT = incident_spec("checkout", alert=ALERT)


def _rolled_out_twice(cluster: Cluster) -> None:
    """Deployment checkout at revision 2 (image v2), revision 1 (v1) before it."""
    cluster.deployment("checkout", image="v1")
    cluster.deployment("checkout", image="v2")


def _recent_rollouts_only(cluster: Cluster, window: str) -> int:
    """The rollback policy, for a rollout within `window` only; returns the mark after it."""
    step = {"action": "rollback", "onlyIfRolledOutWithin": window}
    cluster.policy("rollback-recent", {**ROLLBACK_POLICY, "steps": [step]})
    return cluster.mark()


def test_auto_approved_rollback_restores_previous_template(
    cluster: Cluster, operator: OperatorThread
) -> None:
    _rolled_out_twice(cluster)
    cluster.policy("rollback-bad-deploys", ROLLBACK_POLICY)
    mark = cluster.mark()
    cluster.incident("inc-1", INCIDENT)
    body = cluster.remediated("inc-1")
    deployment = cluster.apps.read_namespaced_deployment("checkout", NS)
    assert deployment.spec.template.spec.containers[0].image == "example/checkout:v1"
    writes = cluster.writes("patch", "deployments", "checkout", since=mark)
    assert len(writes) == 1 and writes[0].subresource == ""
    assert cluster.writes(resource="deployments", since=mark) == writes
    [action] = actions(body)
    assert action["state"] == "Applied"
    assert "from revision 2 to 1" in action["result"]
    assert timeline(body) == ["Matched", "AutoApproved", *CAPTURED_THEN_APPLIED]
    assert body["status"]["policy"] == "rollback-bad-deploys"
    assert cluster.event_reasons(body, "Remediated") == [
        "ActionApplied",
        "AutoApproved",
        "EvidenceCaptured",
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
    body = cluster.blocked("inc-1")
    assert timeline(body) == ["NoPreviousRevision"]
    assert "no revision before 1" in body["status"]["message"]
    assert cluster.writes(resource="deployments", since=mark) == []
    cluster.event_reasons(body, "NoPreviousRevision")
    events = cluster.events(body)
    assert [(e.reason, e.type) for e in events] == [("NoPreviousRevision", "Warning")]


def test_rollback_of_a_rollout_older_than_the_window_is_blocked(
    cluster: Cluster, operator: OperatorThread
) -> None:
    _rolled_out_twice(cluster)
    time.sleep(1.1)  # revision 2 is now more than 1 s old
    mark = _recent_rollouts_only(cluster, "1s")
    cluster.incident("inc-1", INCIDENT)
    body = cluster.blocked("inc-1")
    assert timeline(body) == ["RolloutTooOld"]
    assert "not within 1s" in body["status"]["message"]
    assert cluster.writes(resource="deployments", since=mark) == []
    deployment = cluster.apps.read_namespaced_deployment("checkout", NS)
    assert deployment.spec.template.spec.containers[0].image == "example/checkout:v2"


def test_rollback_of_a_recent_rollout_within_the_window_goes_ahead(
    cluster: Cluster, operator: OperatorThread
) -> None:
    _rolled_out_twice(cluster)
    mark = _recent_rollouts_only(cluster, "10m")
    cluster.incident("inc-1", INCIDENT)
    cluster.remediated("inc-1")
    assert len(cluster.writes("patch", "deployments", "checkout", since=mark)) == 1


def test_required_approval_is_stamped_with_the_approvers_identity(
    cluster: Cluster, operator: OperatorThread
) -> None:
    _rolled_out_twice(cluster)
    cluster.policy("rollback-bad-deploys", ROLLBACK_POLICY)
    cluster.incident("inc-p1", incident_spec("checkout", "P1", ALERT))
    cluster.wait_phase("inc-p1", "AwaitingApproval")
    approval = cluster.approve("inc-p1", "alice@example.com", groups=["sre"])
    assert approval["spec"]["approver"] == "alice@example.com"
    body = cluster.remediated("inc-p1")
    assert [a["approver"] for a in body["status"]["approvals"]] == ["alice@example.com"]
