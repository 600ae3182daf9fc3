"""The remediator.dev objects the tests create: their group, version and bodies, the
policy and incident specs most tests start from, and the steps they use most."""

from __future__ import annotations

from typing import Any

GROUP, VERSION = "remediator.dev", "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

RESTART = {"action": "restartPods"}  # a rolling restart
SCALE = {"action": "scale", "to": 5}


def resource(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The body of a remediator.dev object (RemediationPolicy, Incident, Approval)."""
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


def policy_spec(
    *steps: dict[str, Any],
    alert: str = "HighErrorRate",
    label: str = "deployment",
    kind: str = "Deployment",
    **extra: Any,
) -> dict[str, Any]:
    """A policy for `alert` on the workload (a `kind`) named by the incident label `label`."""
    return {
        "match": {"alertnames": [alert]},
        "target": {"kind": kind, "nameFromLabel": label},
        "steps": list(steps),
        **extra,
    }


def incident_spec(
    deployment: str = "web",
    severity: str = "P2",
    alert: str = "HighErrorRate",
    label: str = "deployment",
    **extra: Any,
) -> dict[str, Any]:
    """An incident of `alert` on the Deployment `deployment`, named by the label `label`."""
    return {"alertname": alert, "severity": severity, "labels": {label: deployment}, **extra}


APPROVED_AND_REMEDIATED = [
    "Matched",
    "AwaitingApproval",
    "ApprovalReceived",
    "Approved",
    "ActionApplied",
    "Remediated",
]
"""The timeline of an incident that waited for an approval, got it and was remediated."""

CAPTURED_THEN_APPLIED = ["EvidenceCaptured", "ActionApplied", "Remediated"]
"""How a timeline ends whose step replaces pods or a template: the evidence is captured
first (core/evidence.py), then the action applied."""


def approvals(incident: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """The approvals the operator recorded: (approver, decision, counted), oldest first."""
    return [
        (record["approver"], record["decision"], record["counted"])
        for record in incident["status"].get("approvals", [])
    ]


def approval(incident: str, plan_hash: str, decision: str = "approve", **spec: Any) -> Any:
    """The body of an Approval of `incident`'s plan `plan_hash`, named after the incident
    (`spec` adds fields a client might send, such as a claimed approver)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Approval",
        "metadata": {"generateName": f"{incident}-"},
        "spec": {"incident": incident, "decision": decision, "planHash": plan_hash, **spec},
    }
