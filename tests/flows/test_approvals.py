"""The human gate: P0/P1 wait for verified approvers of the exact plan."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from remediator_devtools.testing import OperatorThread
from support.policies import (
    APPROVED_AND_REMEDIATED,
    CAPTURED_THEN_APPLIED,
    GROUP,
    VERSION,
    approvals,
    incident_spec,
)

from .conftest import NS, Cluster, actions, timeline


def _awaiting(cluster: Cluster, name: str = "inc-1") -> dict[str, Any]:
    body = cluster.wait_phase(name, "AwaitingApproval", "Remediated", "Blocked", "Failed")
    assert body["status"]["phase"] == "AwaitingApproval", body["status"]
    return body


def _restart_awaiting_approval(cluster: Cluster, severity: str, **policy: Any) -> int:
    """Deployment web, the policy restart (`policy` added) and the incident inc-1 of
    `severity`, awaiting approval; returns the write mark from before the incident."""
    mark = cluster.restart_web(**policy)
    cluster.incident("inc-1", incident_spec(severity=severity))
    _awaiting(cluster)
    return mark


def _approvals_seen(cluster: Cluster, count: int, name: str = "inc-1") -> dict[str, Any]:
    """Wait until the operator has recorded `count` approvals in the incident's status."""
    body: dict[str, Any] = cluster.wait_for(
        f"{count} approval record(s)",
        lambda: (
            (b := cluster.get("incidents", name))
            and len(b["status"].get("approvals", [])) >= count
            and b
        ),
    )
    return body


def test_p1_waits_for_approval_by_default(cluster: Cluster, operator: OperatorThread) -> None:
    mark = cluster.restart_web()
    cluster.incident("inc-1", incident_spec(severity="P1"))
    body = _awaiting(cluster)
    status = body["status"]
    assert timeline(body) == ["Matched", "AwaitingApproval"]
    assert status["plan"]["hash"] in status["message"]
    assert actions(body)[0]["state"] == "Pending"
    created = datetime.fromisoformat(body["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    respond_by = datetime.fromisoformat(status["respondBy"].replace("Z", "+00:00"))
    assert respond_by - created == timedelta(hours=1)
    approved = next(c for c in status["conditions"] if c["type"] == "Approved")
    assert approved["status"] == "Unknown"
    assert cluster.event_reasons(body, "AwaitingApproval") == ["AwaitingApproval", "Matched"]
    assert cluster.writes(resource="deployments", since=mark) == []


def test_approval_runs_the_plan_and_records_the_approver(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark = _restart_awaiting_approval(cluster, "P0")
    cluster.approve("inc-1", "alice@example.com")
    body = cluster.remediated("inc-1")
    assert approvals(body) == [("alice@example.com", "approve", True)]
    assert body["status"]["approvals"][0]["planHash"] == body["status"]["plan"]["hash"]
    # the restart replaces the pods: their evidence is captured once approved, before acting
    assert timeline(body) == [
        *APPROVED_AND_REMEDIATED[:4],
        *CAPTURED_THEN_APPLIED,
    ]
    entries = body["status"]["timeline"]
    assert [e["actor"] for e in entries[2:4]] == ["alice@example.com"] * 2
    assert "approved by alice@example.com" in entries[3]["message"]
    approved = next(c for c in body["status"]["conditions"] if c["type"] == "Approved")
    assert approved["status"] == "True"
    assert len(cluster.writes("patch", "deployments", "web", since=mark)) == 1
    cluster.event_reasons(
        body, "ApprovalReceived", "Approved", "EvidenceCaptured", "ActionApplied", "Remediated"
    )


def test_reject_ends_the_incident_and_changes_nothing(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark = _restart_awaiting_approval(cluster, "P1")
    cluster.approve("inc-1", "bob@example.com", decision="reject")
    body = cluster.wait_phase("inc-1", "Rejected", "Remediated", "Failed")
    assert body["status"]["phase"] == "Rejected"
    assert body["status"]["timeline"][-1]["actor"] == "bob@example.com"
    assert timeline(body)[-1] == "Rejected"
    assert actions(body)[0]["state"] == "Pending"
    assert cluster.writes(resource="deployments", since=mark) == []
    cluster.event_reasons(body, "Rejected")
    assert ("Rejected", "Warning") in [(e.reason, e.type) for e in cluster.events(body)]


def test_approval_of_a_stale_plan_is_ignored(cluster: Cluster, operator: OperatorThread) -> None:
    mark = _restart_awaiting_approval(cluster, "P1")
    cluster.approve("inc-1", "alice@example.com", plan_hash="0123456789abcdef")
    body = _approvals_seen(cluster, 1)
    assert body["status"]["phase"] == "AwaitingApproval"
    [record] = body["status"]["approvals"]
    assert record["counted"] is False
    assert record["reason"].startswith("StalePlan:")
    entry = body["status"]["timeline"][-1]
    assert entry["reason"] == "ApprovalIgnored" and "StalePlan" in entry["message"]
    cluster.event_reasons(body, "ApprovalIgnored")
    assert cluster.writes(resource="deployments", since=mark) == []
    # the current plan's hash still counts
    cluster.approve("inc-1", "alice@example.com")
    cluster.remediated("inc-1")
    assert len(cluster.writes("patch", "deployments", "web", since=mark)) == 1


def test_two_approver_policy_needs_two_distinct_approvers(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark = _restart_awaiting_approval(
        cluster, "P0", approval={"P0": {"mode": "required", "approvers": 2}}
    )
    cluster.approve("inc-1", "alice@example.com")
    _approvals_seen(cluster, 1)
    cluster.approve("inc-1", "alice@example.com")
    body = _approvals_seen(cluster, 2)
    assert body["status"]["phase"] == "AwaitingApproval"
    second = body["status"]["approvals"][1]
    assert second["counted"] is False and second["reason"].startswith("DuplicateApprover:")
    assert cluster.writes(resource="deployments", since=mark) == []
    cluster.approve("inc-1", "bob@example.com")
    body = cluster.remediated("inc-1")
    assert [(r["approver"], r["counted"]) for r in body["status"]["approvals"]] == [
        ("alice@example.com", True),
        ("alice@example.com", False),
        ("bob@example.com", True),
    ]
    [approved] = [e for e in body["status"]["timeline"] if e["reason"] == "Approved"]
    assert "approved by alice@example.com, bob@example.com" in approved["message"]
    assert len(cluster.writes("patch", "deployments", "web", since=mark)) == 1


def test_approval_without_a_verified_approver_is_ignored(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark = cluster.restart_web()
    cluster.incident("inc-1", incident_spec(severity="P1"))
    plan_hash = _awaiting(cluster)["status"]["plan"]["hash"]
    # stored as if the admission webhook was not in the path (straight into the emulator's
    # storage; on the real cluster with the webhook configurations removed meanwhile): it
    # claims an approver, but no webhook stamped (and sealed) it
    forged = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Approval",
        "metadata": {"name": "inc-1-forged", "namespace": NS},
        "spec": {
            "incident": "inc-1",
            "decision": "approve",
            "planHash": plan_hash,
            "approver": "alice@example.com",
        },
    }
    cluster.create_unadmitted("approvals", forged)
    body = _approvals_seen(cluster, 1)
    assert body["status"]["phase"] == "AwaitingApproval"
    record = next(r for r in body["status"]["approvals"] if r["name"] == "inc-1-forged")
    assert record["counted"] is False
    assert record["approver"] != "alice@example.com"
    assert record["reason"].startswith("ApproverNotVerified:")
    assert "ApprovalIgnored" in timeline(body)
    assert cluster.writes(resource="deployments", since=mark) == []


def test_policy_approver_groups_limit_who_counts(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark = _restart_awaiting_approval(cluster, "P1", approval={"approverGroups": ["sre"]})
    cluster.approve("inc-1", "dev@example.com", groups=["developers"])
    body = _approvals_seen(cluster, 1)
    assert body["status"]["phase"] == "AwaitingApproval"
    [record] = body["status"]["approvals"]
    assert record["counted"] is False and record["reason"].startswith("ApproverNotAllowed:")
    assert cluster.writes(resource="deployments", since=mark) == []
    cluster.approve("inc-1", "sre@example.com", groups=["developers", "sre"])
    body = cluster.remediated("inc-1")
    assert body["status"]["approvals"][-1]["approver"] == "sre@example.com"
    assert len(cluster.writes("patch", "deployments", "web", since=mark)) == 1


def test_no_decision_by_the_deadline_escalates(cluster: Cluster, operator: OperatorThread) -> None:
    mark = cluster.restart_web()
    started = (datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cluster.incident("inc-1", incident_spec(severity="P0", startsAt=started))
    body = cluster.wait_phase("inc-1", "Escalated", "AwaitingApproval", "Remediated")
    if body["status"]["phase"] == "AwaitingApproval":
        body = cluster.wait_phase("inc-1", "Escalated", "Remediated")
    assert body["status"]["phase"] == "Escalated"
    assert timeline(body) == ["Matched", "AwaitingApproval", "ApprovalDeadlinePassed"]
    assert "0 of 1 approval(s)" in body["status"]["message"]
    assert ("ApprovalDeadlinePassed", "Warning") in [
        (e.reason, e.type) for e in cluster.events(body)
    ]
    assert cluster.writes(resource="deployments", since=mark) == []


def test_alert_resolved_while_awaiting_approval_resolves_without_change(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark = _restart_awaiting_approval(cluster, "P1")
    cluster.patch("incidents", "inc-1", {"spec": {"alertStatus": "resolved"}})
    body = cluster.wait_phase("inc-1", "Resolved", "Remediated")
    assert body["status"]["phase"] == "Resolved"
    assert timeline(body)[-1] == "Resolved"
    assert "nothing was changed" in body["status"]["message"]
    assert actions(body)[0]["state"] == "Pending"
    assert cluster.writes(resource="deployments", since=mark) == []
    # an approval arriving afterwards changes nothing either
    cluster.approve("inc-1", "alice@example.com")
    time.sleep(0.5)
    assert cluster.get("incidents", "inc-1")["status"]["phase"] == "Resolved"
    assert cluster.writes(resource="deployments", since=mark) == []


def test_alert_resolved_after_remediation_resolves_the_incident(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark = cluster.restart_web()
    cluster.incident("inc-1", incident_spec())
    assert cluster.wait_phase("inc-1", "Remediated")["status"]["phase"] == "Remediated"
    cluster.patch("incidents", "inc-1", {"spec": {"alertStatus": "resolved"}})
    body = cluster.wait_phase("inc-1", "Resolved")
    assert timeline(body)[-2:] == ["Remediated", "Resolved"]
    assert "after remediation" in body["status"]["message"]
    assert actions(body)[0]["state"] == "Applied"
    assert len(cluster.writes(resource="deployments", since=mark)) == 1
    cluster.event_reasons(body, "Resolved")
