"""Approval: a human's decision on one plan, stamped with a verified identity. Purely
computational."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    StringConstraints,
)

from .base import (
    Metadata,
    Model,
    ResourceName,
    ShortText,
)


class ApprovalSpec(Model):
    incident: ResourceName = Field(description="The Incident, in the same namespace.")
    decision: Literal["approve", "reject"]
    plan_hash: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The plan this decision was made on (`status.plan.hash`)."
    )
    reason: ShortText = ""
    approver: ShortText | None = Field(
        None, description="Stamped by the admission webhook from the requester's identity."
    )
    approver_groups: list[ShortText] = Field(
        default_factory=list, description="Stamped by the admission webhook."
    )


class Approval(Model):
    api_version: Literal["remediator.dev/v1alpha1"] = "remediator.dev/v1alpha1"
    kind: Literal["Approval"] = "Approval"
    metadata: Metadata = Field(default_factory=Metadata)
    spec: ApprovalSpec
