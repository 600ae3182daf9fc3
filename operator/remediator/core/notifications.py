"""The JSON message a notify step or a policy's `notifications` posts to a webhook.

Slack-compatible (`text` is what a Slack incoming webhook shows) with the incident's
structured fields next to it, for receivers that route or render them (PagerDuty and
Opsgenie bridges, a chat bot, an audit sink). `dedupKey` is the same for every resend of
one notification, so a receiver can drop the duplicates a retry or a crash produces.
Purely computational: the incident and the event are arguments.
"""

from __future__ import annotations

from typing import Any

from remediator.core.models import Incident


def payload(
    incident: Incident,
    *,
    event: str,
    text: str,
    reason: str = "",
    message: str = "",
) -> dict[str, Any]:
    """The message for one event: a phase entered (`Escalated`, ...) or `step-N` (notify)."""
    status = incident.status
    meta = incident.metadata
    plan = status.plan
    return {
        "text": text,
        "incident": f"{meta.namespace}/{meta.name}",
        "namespace": meta.namespace,
        "alertname": incident.spec.alertname,
        "severity": incident.spec.severity,
        "summary": incident.spec.summary,
        "phase": status.phase,
        "event": event,
        "reason": reason,
        "message": message,
        "policy": status.policy,
        "plan": (
            {"hash": plan.hash, "steps": [s.summary for s in plan.steps]}
            if plan is not None
            else None
        ),
        "actions": [
            {"action": a.action, "target": a.target, "state": a.state, "result": a.result}
            for a in status.actions
        ],
        "respondBy": status.respond_by.isoformat() if status.respond_by else None,
        "dedupKey": f"{meta.uid or meta.name}/{plan.hash if plan else '-'}/{event}",
    }


def transition_text(incident: Incident, phase: str, message: str) -> str:
    """The human line for a phase change: `[P0] Incident shop/x (Alert) is Escalated: ...`."""
    meta = incident.metadata
    return (
        f"[{incident.spec.severity}] Incident {meta.namespace}/{meta.name}"
        f" ({incident.spec.alertname}) is {phase}: {message}"
    )
