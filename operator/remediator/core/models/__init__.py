"""The resources of `remediator.dev/v1alpha1`: the one source of truth for their shape.

`Incident`, `RemediationPolicy` and `Approval` are pydantic models here; the CRDs in
`crds/` are generated from them (`remediator crds`) and a test fails when they drift, so
what the API server validates and what the operator parses are the same thing. Models
forbid unknown fields and use the camelCase names of the Kubernetes API. Purely
computational: only the standard library and pydantic.
"""

from . import base
from .approval import (
    Approval,
    ApprovalSpec,
)
from .base import *  # noqa: F403  (its __all__: the shared types and constants)
from .incident import (
    ActionRecord,
    ActionState,
    ApprovalRecord,
    EvidenceSummary,
    Incident,
    IncidentSpec,
    IncidentStatus,
    Plan,
    PlanBinding,
    PlannedStep,
    PodEvidence,
    TargetRef,
    TimelineEntry,
)
from .policy import (
    NOTIFY_DEFAULT_EVENTS,
    ApprovalPolicy,
    ApprovalRule,
    EvidencePolicy,
    EvidenceQuery,
    Guards,
    LabelExpression,
    LabelSelector,
    Match,
    Notifications,
    PolicyTarget,
    PromCheck,
    RemediationPolicy,
    RemediationPolicySpec,
    RemediationPolicyStatus,
    SecretKeyRef,
    Step,
    TargetBounds,
    VerificationStatus,
    Verify,
)

__all__ = [
    *base.__all__,
    "EvidencePolicy",
    "EvidenceQuery",
    "EvidenceSummary",
    "PodEvidence",
    "NOTIFY_DEFAULT_EVENTS",
    "ActionRecord",
    "ActionState",
    "Approval",
    "ApprovalPolicy",
    "ApprovalRecord",
    "ApprovalRule",
    "ApprovalSpec",
    "Guards",
    "Incident",
    "IncidentSpec",
    "IncidentStatus",
    "LabelExpression",
    "LabelSelector",
    "Match",
    "Notifications",
    "Plan",
    "PlanBinding",
    "PlannedStep",
    "PolicyTarget",
    "PromCheck",
    "RemediationPolicy",
    "RemediationPolicySpec",
    "RemediationPolicyStatus",
    "SecretKeyRef",
    "Step",
    "TargetBounds",
    "TargetRef",
    "TimelineEntry",
    "VerificationStatus",
    "Verify",
]
