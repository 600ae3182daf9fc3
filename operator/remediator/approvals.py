"""Creating an Approval for an incident's current plan (what `remediator approve` does).

The Approval binds to the plan hash the person saw (which covers the incident's uid, its
severity and its policy's version); the approver's identity is not sent — the admission
webhook stamps it from the API server's authenticated user. The Incident owns the
Approval, so garbage collection removes it with the Incident.
"""

from __future__ import annotations

from .adapters.kube import KubeClient, KubeError, load_configuration
from .core.models import API_VERSION


async def create_approval(
    incident: str,
    namespace: str,
    decision: str,
    reason: str,
    kubeconfig: str | None,
    context: str | None = None,
) -> tuple[str, str]:
    kube = KubeClient(load_configuration(kubeconfig, context))
    try:
        body = await kube.get_custom(namespace, "incidents", incident)
        if body is None:
            raise LookupError(f"incident {namespace}/{incident} not found")
        status = body.get("status") or {}
        plan_hash = (status.get("plan") or {}).get("hash")
        if not plan_hash:
            raise LookupError(
                f"incident {namespace}/{incident} has no plan to {decision} "
                f"(phase {status.get('phase', 'Pending')})"
            )
        approval = {
            "apiVersion": API_VERSION,
            "kind": "Approval",
            "metadata": {
                "generateName": f"{incident}-{decision}-",
                "namespace": namespace,
                "ownerReferences": [
                    {
                        "apiVersion": API_VERSION,
                        "kind": "Incident",
                        "name": incident,
                        "uid": body["metadata"]["uid"],
                    }
                ],
            },
            "spec": {
                "incident": incident,
                "decision": decision,
                "planHash": plan_hash,
                "reason": reason,
            },
        }
        try:
            created = await kube.create_custom(namespace, "approvals", approval)
        except KubeError as e:
            raise LookupError(f"the API server refused the approval: {e.message}") from None
        return str(created["metadata"]["name"]), str(plan_hash)
    finally:
        await kube.close()
