"""Incident: what was asked for (spec) and what the operator decided and did (status).
Purely computational."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StringConstraints,
)

from .base import (
    ActionName,
    Condition,
    LongText,
    Metadata,
    Model,
    Phase,
    Severity,
    ShortText,
    WorkloadKind,
    WorkloadName,
)
from .policy import TargetBounds, VerificationStatus


class TargetRef(Model):
    """A workload in the Incident's namespace."""

    kind: WorkloadKind = Field("Deployment", description="Kind of the workload.")
    name: WorkloadName = Field(description="Name of the workload (DNS-1123 label).")


class IncidentSpec(Model):
    source: Literal["alertmanager", "manual"] = Field(
        "manual", description="Who reported it: the Alertmanager bridge or a person."
    )
    alertname: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        description="The alert's name; policies match on it."
    )
    severity: Severity = Field(description="P0 (critical) to P3 (low), as in the playbook.")
    summary: LongText = Field("", description="One line for humans.")
    labels: dict[str, Annotated[str, StringConstraints(max_length=1024)]] = Field(
        default_factory=dict, description="The alert's labels; policies match on them."
    )
    annotations: dict[str, LongText] = Field(default_factory=dict)
    fingerprint: Annotated[str, StringConstraints(max_length=64)] = ""
    starts_at: datetime | None = None
    alert_status: Literal["firing", "resolved"] = Field(
        "firing", description="`resolved` cancels a pending plan and closes the incident."
    )
    target: TargetRef | None = Field(
        None, description="Explicit target; else the policy takes it from a label."
    )


class PlannedStep(Model):
    """One action with the concrete state it will set, fixed before anything changes."""

    index: int = Field(ge=0)
    action: ActionName
    target: str = Field(description="What it acts on, e.g. `Deployment/checkout`.")
    summary: ShortText = ""
    desired: dict[str, Any] = Field(
        default_factory=dict,
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
        description="The action's desired state (applying it twice changes nothing).",
    )


class PlanBinding(Model):
    """What a plan was made for: an approval of the plan holds for exactly this incident
    (its uid: a re-created Incident is another one), this severity, this spec and this
    version of the policy. The plan hash covers it."""

    incident_uid: str = Field(description="The Incident's metadata.uid.")
    severity: Severity
    spec_digest: str = Field(description="Hash of the spec the plan was made from.")
    policy_uid: str = ""
    policy_generation: int = 0
    bounds: TargetBounds | None = Field(
        None, description="The policy's target bounds, checked again just before acting."
    )


class Plan(Model):
    hash: Annotated[str, StringConstraints(max_length=64)] = Field(
        description="Approvals bind to this hash of the steps and the binding."
    )
    steps: list[PlannedStep] = Field(default_factory=list)
    created_at: datetime | None = None
    binding: PlanBinding | None = None


ActionState = Literal["Pending", "Applying", "Applied", "Skipped", "Failed", "Reverted", "DryRun"]


class ActionRecord(Model):
    index: int = Field(ge=0)
    action: ActionName
    target: str = ""
    state: ActionState = "Pending"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: LongText = ""
    revert: dict[str, Any] | None = Field(
        None,
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
        description="What restores the previous state, where the action records it.",
    )
    revert_at: datetime | None = None


class ApprovalRecord(Model):
    name: str = Field(description="The Approval object.")
    approver: ShortText
    decision: Literal["approve", "reject"]
    plan_hash: str = ""
    reason: ShortText = ""
    at: datetime | None = None
    counted: bool = Field(True, description="False when ignored (stale plan, duplicate, ...).")


class TimelineEntry(Model):
    time: datetime
    reason: str
    message: LongText = ""
    actor: ShortText = "remediator"


class PodEvidence(Model):
    """One pod of the target as it was just before the action (see `evidence`)."""

    name: str
    phase: str = ""
    ready: bool = False
    restarts: int = 0
    last_termination: ShortText = Field(
        "", description="The last termination's reason and exit code (OOMKilled, exit 137)."
    )
    node: str = ""
    image: ShortText = ""


class EvidenceSummary(Model):
    """What was captured before the action, in short; the whole of it is in the Secret."""

    secret: str = Field(description="The Secret (owned by the Incident) holding it.")
    captured_at: datetime
    took_ms: int = Field(0, ge=0)
    pods: list[PodEvidence] = Field(default_factory=list, max_length=20)
    missing: list[ShortText] = Field(
        default_factory=list, max_length=50, description="What did not arrive, and why."
    )
    bytes: int = Field(0, ge=0)
    truncated: bool = Field(False, description="Whether logs were cut to fit the cap.")


class IncidentStatus(Model):
    phase: Phase = "Pending"
    message: LongText = ""
    policy: str | None = None
    action: str | None = Field(None, description="The plan's actions, for the printer column.")
    plan: Plan | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    approvals: list[ApprovalRecord] = Field(default_factory=list)
    respond_by: datetime | None = None
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    verification: VerificationStatus | None = Field(
        None, description="The PromQL check after acting (phase Verifying and after)."
    )
    evidence: EvidenceSummary | None = Field(
        None, description="What the target looked like just before the first change."
    )
    seal: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        None,
        description="The operator's HMAC over this status and the Incident's uid: a status"
        " written by anyone else does not verify, and the operator acts on none of it.",
    )


class Incident(Model):
    """An alert to act on: what was asked (`spec`, the creator's) and what the operator
    decided and did (`status`, sealed by it)."""

    api_version: Literal["remediator.dev/v1alpha1"] = "remediator.dev/v1alpha1"
    kind: Literal["Incident"] = "Incident"
    metadata: Metadata = Field(default_factory=Metadata)
    spec: IncidentSpec
    status: IncidentStatus = Field(default_factory=IncidentStatus)

    def with_status(self, **changes: Any) -> Incident:
        """A copy whose status has these fields changed."""
        return self.model_copy(update={"status": self.status.model_copy(update=changes)})
