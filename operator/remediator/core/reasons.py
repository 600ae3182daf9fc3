"""Every reason string the operator writes, in one place.

Condition reasons, Event reasons, guard refusals and planning refusals are what users
grep for and alert on, so they are CamelCase constants here and nowhere else as literals.
Purely computational: constants only.
"""

from __future__ import annotations

from typing import Final

# ------------------------------------------------------------------- condition types
CONDITION_MATCHED: Final = "Matched"
CONDITION_APPROVED: Final = "Approved"
APPROVAL_RECEIVED: Final = "ApprovalReceived"
CONDITION_REMEDIATED: Final = "Remediated"
CONDITION_VERIFIED: Final = "Verified"
CONDITION_VALID: Final = "Valid"

# ----------------------------------------------------------------- matching, policies
MATCHED: Final = "Matched"
NO_MATCHING_POLICY: Final = "NoMatchingPolicy"
VALID: Final = "Valid"
INVALID_POLICY: Final = "InvalidPolicy"

# ------------------------------------------------------------------ planning, approval
PLAN_READY: Final = "PlanReady"
AWAITING_APPROVAL: Final = "AwaitingApproval"
AUTO_APPROVED: Final = "AutoApproved"
NOTIFY_ONLY: Final = "NotifyOnly"
APPROVED: Final = "Approved"
APPROVAL_IGNORED: Final = "ApprovalIgnored"
STALE_PLAN: Final = "StalePlan"
DUPLICATE_APPROVER: Final = "DuplicateApprover"
APPROVER_NOT_VERIFIED: Final = "ApproverNotVerified"
APPROVER_NOT_ALLOWED: Final = "ApproverNotAllowed"
REJECTED: Final = "Rejected"
APPROVAL_DEADLINE_PASSED: Final = "ApprovalDeadlinePassed"

# ----------------------------------------------------------------------------- actions
ACTION_STARTED: Final = "ActionStarted"
ACTION_DEFERRED: Final = "ActionDeferred"
ACTION_APPLIED: Final = "ActionApplied"
ACTION_SKIPPED: Final = "ActionSkipped"
ACTION_FAILED: Final = "ActionFailed"
ACTION_REVERTED: Final = "ActionReverted"
NOTIFICATION_SENT: Final = "NotificationSent"
NOTIFICATION_FAILED: Final = "NotificationFailed"
POLICY_SKIPPED: Final = "PolicySkipped"

# ---------------------------------------------------------------- the safety boundary
STATUS_NOT_SEALED: Final = "StatusNotSealed"  # status written by someone else than us
REPLANNED: Final = "Replanned"  # the spec or the policy changed: a new plan, approvals void
TARGET_NOT_ALLOWED: Final = "TargetNotAllowed"  # outside the policy's fixed name or bounds
UNKNOWN_SEVERITY: Final = "UnknownSeverity"  # the bridge did not know the alert's severity

# -------------------------------------------------------------------------- outcomes
VERIFYING: Final = "Verifying"
VERIFIED: Final = "Verified"
VERIFICATION_FAILED: Final = "VerificationFailed"
REMEDIATED: Final = "Remediated"
DRY_RUN: Final = "DryRun"
RESOLVED: Final = "Resolved"
ESCALATED: Final = "Escalated"

# ---------------------------------------------------------------------------- guards
PAUSED: Final = "Paused"
PROTECTED_NAMESPACE: Final = "ProtectedNamespace"
COOLDOWN: Final = "Cooldown"
TARGET_RATE_LIMIT: Final = "TargetRateLimit"
POLICY_RATE_LIMIT: Final = "PolicyRateLimit"
MAX_CONCURRENT: Final = "MaxConcurrent"

# ------------------------------------------------------- target and planning refusals
SCALE_BOUNDS: Final = "ScaleBounds"
TARGET_LABEL_MISSING: Final = "TargetLabelMissing"
INVALID_TARGET: Final = "InvalidTarget"
TARGET_NOT_FOUND: Final = "TargetNotFound"
NO_PREVIOUS_REVISION: Final = "NoPreviousRevision"
REVISION_NOT_FOUND: Final = "RevisionNotFound"
WORKLOAD_PAUSED: Final = "WorkloadPaused"
TEMPLATE_ALREADY_MATCHES: Final = "TemplateAlreadyMatches"
ROLLOUT_TOO_OLD: Final = "RolloutTooOld"
NO_PODS_SELECTED: Final = "NoPodsSelected"
CONFIG_MAP_NOT_FOUND: Final = "ConfigMapNotFound"
NO_CRON_JOBS_SELECTED: Final = "NoCronJobsSelected"
CRON_JOB_NOT_FOUND: Final = "CronJobNotFound"
SECRET_NOT_FOUND: Final = "SecretNotFound"
PRECONDITION_FAILED: Final = "PreconditionFailed"
PROMETHEUS_UNAVAILABLE: Final = "PrometheusUnavailable"
PROMQL_ERROR: Final = "PromQLError"
PRECONDITIONS_MET: Final = "PreconditionsMet"
EVIDENCE_CAPTURED: Final = "EvidenceCaptured"
EVIDENCE_NOT_KEPT: Final = "EvidenceNotKept"

GUARD_REASONS: Final = frozenset(
    {
        PAUSED,
        PROTECTED_NAMESPACE,
        COOLDOWN,
        TARGET_RATE_LIMIT,
        POLICY_RATE_LIMIT,
        MAX_CONCURRENT,
        PRECONDITION_FAILED,
        PROMETHEUS_UNAVAILABLE,
        PROMQL_ERROR,
    }
)
PLANNING_REASONS: Final = frozenset(
    {
        SCALE_BOUNDS,
        TARGET_LABEL_MISSING,
        INVALID_TARGET,
        TARGET_NOT_FOUND,
        NO_PREVIOUS_REVISION,
        REVISION_NOT_FOUND,
        WORKLOAD_PAUSED,
        TEMPLATE_ALREADY_MATCHES,
        ROLLOUT_TOO_OLD,
        NO_PODS_SELECTED,
        CONFIG_MAP_NOT_FOUND,
        NO_CRON_JOBS_SELECTED,
        CRON_JOB_NOT_FOUND,
        TARGET_NOT_ALLOWED,
        STATUS_NOT_SEALED,
    }
)
FALL_THROUGH: Final = frozenset({ROLLOUT_TOO_OLD, NO_PREVIOUS_REVISION, TARGET_NOT_ALLOWED})
"""Planning refusals that mean "this policy does not apply here": the next matching policy
(lower priority) is tried, e.g. restart when a rollback finds no recent deployment, or a
policy whose bounds do not take this workload."""
