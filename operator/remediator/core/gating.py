"""The human gate: who approved which plan, and by when they must respond.

An approval counts only if the admission webhook stamped who made it, that person is in
an allowed group, it names the current plan hash, and that person has not decided on it
already; everything else is recorded as ignored with its reason, never silently dropped.
Purely computational, no side effects: approvals, `now` and the time zone are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from remediator.core import reasons
from remediator.core.models import (
    Approval,
    ApprovalRecord,
    ApprovalRule,
    Phase,
    RemediationPolicy,
    Severity,
)

RESPONSE_WINDOWS: dict[Severity, timedelta] = {
    "P0": timedelta(minutes=15),
    "P1": timedelta(hours=1),
    "P2": timedelta(hours=4),
}
BUSINESS_DAY_START = time(9, 0)


ALWAYS_GATED = frozenset({"isolatePods"})
"""Actions a human always approves, whatever the policy's approval mode for the severity."""


def approval_rule(policy: RemediationPolicy, severity: Severity) -> ApprovalRule:
    """The policy's rule for this severity (defaults: P0, P1 required; P2, P3 auto).

    A policy with an isolatePods step is never auto: validation refuses an explicit
    `auto`, and the default `auto` of P2 and P3 becomes `required` here (notifyOnly stays:
    it changes nothing)."""
    rule = policy.spec.approval.rule(severity)
    if rule.mode == "auto" and any(s.action in ALWAYS_GATED for s in policy.spec.steps):
        return ApprovalRule(mode="required", approvers=rule.approvers)
    return rule


@dataclass(frozen=True)
class Gate:
    """What happens once the guards allow a plan: the next phase, its reason and message.
    `phase` is DryRun (the policy's or the operator's dry run: the plan is carried out with
    the API server's dryRun, or, for notifyOnly, only recorded), AwaitingApproval or
    Remediating."""

    phase: Phase
    reason: str
    message: str
    approvers: int = 0


def gate(
    policy: RemediationPolicy,
    severity: Severity,
    *,
    operator_dry_run: bool,
    plan_hash: str,
    deadline: datetime | None,
) -> Gate:
    """The gate of a plan, decided once for the operator and `remediator simulate` alike."""
    if policy.spec.dry_run or operator_dry_run:
        why = "policy spec.dryRun" if policy.spec.dry_run else "the operator's --dry-run"
        return Gate("DryRun", reasons.DRY_RUN, f"dry run ({why}): nothing is changed")
    rule = approval_rule(policy, severity)
    if rule.mode == "notifyOnly":
        return Gate(
            "DryRun",
            reasons.NOTIFY_ONLY,
            f"approval mode for {severity} is notifyOnly: the plan is recorded and no change"
            " is made",
        )
    if rule.mode == "required":
        by = f" by {deadline.isoformat()}" if deadline else ""
        return Gate(
            "AwaitingApproval",
            reasons.AWAITING_APPROVAL,
            f"{severity} needs {rule.approvers} approval(s) of plan {plan_hash}{by}",
            approvers=rule.approvers,
        )
    return Gate("Remediating", reasons.AUTO_APPROVED, f"approval mode for {severity} is auto")


@dataclass(frozen=True)
class Tally:
    """The count of the approvals on one plan.

    `records` has one ApprovalRecord per approval considered, in creation order. An
    ignored one has `counted` False and, in place of the approver's reason, why it was
    ignored: a reason constant, a colon and a message (`StalePlan: it approves ...`).
    """

    approved_by: tuple[str, ...]
    rejected_by: str | None
    records: tuple[ApprovalRecord, ...]


def _created(approval: Approval) -> tuple[datetime, str]:
    created = approval.metadata.creation_timestamp or datetime.min.replace(tzinfo=UTC)
    return created, approval.metadata.name


def _ignored_because(
    approval: Approval,
    plan_hash: str,
    approver_groups: Sequence[str],
    decided: Mapping[str, set[str]],
) -> str | None:
    """Why the approval does not count (`Reason: message`), or None when it counts."""
    spec = approval.spec
    if not spec.approver:
        return f"{reasons.APPROVER_NOT_VERIFIED}: no verified approver was stamped on it"
    if approver_groups and not set(approver_groups) & set(spec.approver_groups):
        return (
            f"{reasons.APPROVER_NOT_ALLOWED}: {spec.approver} is in none of the approver"
            f" groups {', '.join(approver_groups)}"
        )
    if spec.plan_hash != plan_hash:
        return (
            f"{reasons.STALE_PLAN}: it approves plan {spec.plan_hash},"
            f" but the current plan is {plan_hash}"
        )
    earlier = decided.get(spec.approver, set())
    if earlier and (spec.decision == "approve" or "reject" in earlier):
        return f"{reasons.DUPLICATE_APPROVER}: {spec.approver} has already decided on this plan"
    return None


def tally(
    approvals: Iterable[Approval],
    incident_name: str,
    plan_hash: str,
    approver_groups: Sequence[str],
    recorded: Sequence[str] = (),
) -> Tally:
    """Count the approvals of one incident's current plan, in creation order.

    A second approve by the same person is ignored (DuplicateApprover), but a reject by
    someone who approved earlier still counts: a change of mind must be able to stop a
    remediation. The first counted reject sets `rejected_by`.

    `recorded` names the approvals already recorded in the incident's status, in the order
    they were recorded: they come first, in that order, so an approval judged once is
    judged the same way again (creation timestamps have one-second resolution, and two
    approvals of the same second would otherwise be ordered by their generated names).
    """
    approved_by: list[str] = []
    rejected_by: str | None = None
    records: list[ApprovalRecord] = []
    decided: dict[str, set[str]] = {}
    position = {name: index for index, name in enumerate(recorded)}

    def order(approval: Approval) -> tuple[int, datetime, str]:
        created, name = _created(approval)
        if name in position:
            return (position[name], datetime.min.replace(tzinfo=UTC), name)
        return (len(position), created, name)

    mine = (a for a in approvals if a.spec.incident == incident_name)
    for approval in sorted(mine, key=order):
        spec = approval.spec
        approver = spec.approver or ""
        ignored = _ignored_because(approval, plan_hash, approver_groups, decided)
        if ignored is None:
            decided.setdefault(approver, set()).add(spec.decision)
            if spec.decision == "reject":
                rejected_by = rejected_by or approver
            else:
                approved_by.append(approver)
        records.append(
            ApprovalRecord(
                name=approval.metadata.name,
                approver=approver,
                decision=spec.decision,
                plan_hash=spec.plan_hash,
                reason=spec.reason if ignored is None else ignored,
                at=approval.metadata.creation_timestamp,
                counted=ignored is None,
            )
        )
    return Tally(tuple(approved_by), rejected_by, tuple(records))


def respond_by(severity: Severity, started: datetime, tz: tzinfo) -> datetime:
    """The deadline for a response, from the playbook: P0 15m, P1 1h, P2 4h, P3 next
    business day.

    For P3 the deadline is 09:00 in `tz` on a business day (Monday to Friday): the same
    day if the incident started on a business day before 09:00, else the next business
    day. Holidays are not known. The result is in UTC.
    """
    window = RESPONSE_WINDOWS.get(severity)
    if window is not None:
        return (started + window).astimezone(UTC)
    local = started.astimezone(tz)
    day = local.date()
    if not (day.weekday() < 5 and local.time() < BUSINESS_DAY_START):
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
    return datetime.combine(day, BUSINESS_DAY_START, tzinfo=tz).astimezone(UTC)
