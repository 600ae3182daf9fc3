"""What a plan is bound to: this incident (its uid), its severity and spec, and this version
of its policy. The plan hash covers the binding, so an approval of one plan never counts
for another, and `rebind_reason` tells when a waiting plan must be made again. Purely
computational."""

from __future__ import annotations

import hashlib
import json

from remediator.core.models import Incident, PlanBinding, PlannedStep, RemediationPolicy


def plan_hash(steps: list[PlannedStep], binding: PlanBinding | None = None) -> str:
    """First 16 hex digits of sha256 over the steps' action, target and desired state, and
    the binding: the same steps planned for another incident (or a re-created one of the
    same name), another severity or another version of the policy hash differently, so an
    approval of one never counts for the other."""
    canonical = json.dumps(
        {
            "steps": [
                {"action": s.action, "target": s.target, "desired": s.desired} for s in steps
            ],
            "binding": binding.dump() if binding is not None else None,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def spec_digest(incident: Incident) -> str:
    """A hash of what an Incident's creator asked for, but `alertStatus` (a resolution is
    news, not a new request): a plan made from one spec is not the plan for another."""
    spec = incident.spec.dump()
    spec.pop("alertStatus", None)
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def binding(incident: Incident, policy: RemediationPolicy) -> PlanBinding:
    return PlanBinding(
        incident_uid=incident.metadata.uid,
        severity=incident.spec.severity,
        spec_digest=spec_digest(incident),
        policy_uid=policy.metadata.uid,
        policy_generation=policy.metadata.generation,
        bounds=policy.spec.target.bounds(),
    )


def rebind_reason(incident: Incident, policy: RemediationPolicy | None) -> str | None:
    """Why the incident's plan no longer holds (its spec or its policy changed since it was
    made), None while it does. A plan without a binding holds for nothing."""
    plan = incident.status.plan
    if plan is None:
        return None
    bound = plan.binding
    if bound is None:
        return "the plan records no binding to its incident and policy"
    if bound.incident_uid != incident.metadata.uid:
        return "the plan was made for another Incident of this name"
    if bound.spec_digest != spec_digest(incident):
        changed = "spec.severity" if bound.severity != incident.spec.severity else "spec"
        detail = (
            f" ({bound.severity} → {incident.spec.severity})" if changed == "spec.severity" else ""
        )
        return f"{changed} changed after planning{detail}"
    if policy is not None and (policy.metadata.uid, policy.metadata.generation) != (
        bound.policy_uid,
        bound.policy_generation,
    ):
        return (
            f"policy {policy.metadata.name} changed after planning (generation"
            f" {bound.policy_generation} → {policy.metadata.generation})"
        )
    return None
