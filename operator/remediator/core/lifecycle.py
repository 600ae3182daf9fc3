"""The Incident lifecycle: one table of allowed phase changes, and the record each leaves.

`Pending → Matched → AwaitingApproval → Remediating → Verifying → Remediated`, with the
exits NoPolicy, Rejected, Blocked, DryRun, Failed, Escalated and Resolved. Every change
goes through `transition`, which refuses a move the table does not allow and records it
in the timeline and the conditions, so `kubectl describe` tells the whole story.
Purely computational, no side effects: `now` is an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from remediator.core import reasons
from remediator.core.conditions import ConditionStatus, get_condition, set_condition
from remediator.core.models import Condition, IncidentStatus, Phase, TimelineEntry

TERMINAL: frozenset[Phase] = frozenset(
    {"NoPolicy", "Rejected", "Blocked", "DryRun", "Failed", "Escalated", "Resolved"}
)
"""Phases nothing follows. Remediated is final too, except that the alert may resolve."""

ACTIVE: frozenset[Phase] = frozenset({"Remediating", "Verifying"})
"""Phases in which the operator is changing or checking a workload."""


def needs_work(body: Mapping[str, Any]) -> bool:
    """Whether an Incident, as the API serves it, may have a next step (the reconcile decides
    which): a phase not yet finished, a revert due by time, a resolution to record, or a spec
    the status has not yet seen (`metadata.generation` ahead of `status.observedGeneration`).
    A cheap look at the raw body: most incidents are finished."""
    status = body.get("status") or {}
    spec = body.get("spec") or {}
    generation = (body.get("metadata") or {}).get("generation")
    if generation is not None and status.get("observedGeneration") != generation:
        return True
    phase = status.get("phase", "Pending")
    if phase == "Remediated" and spec.get("alertStatus") == "resolved":
        return True
    reverting = any(
        a.get("state") == "Applied" and a.get("revertAt") for a in status.get("actions") or []
    )
    return unfinished(phase, reverting=reverting)


def unfinished(phase: str, *, reverting: bool) -> bool:
    """Whether a status has a next step whatever the spec says: a phase not yet finished,
    or an applied action that reverts by time."""
    return reverting or (phase not in TERMINAL and phase != "Remediated")


TRANSITIONS: Mapping[Phase, frozenset[Phase]] = {
    "Pending": frozenset({"Matched", "NoPolicy", "Blocked", "Failed", "Resolved"}),
    # back to Pending: the spec or the policy changed before anything was done (re-plan)
    "Matched": frozenset(
        {"Pending", "AwaitingApproval", "Remediating", "Blocked", "DryRun", "Failed", "Resolved"}
    ),
    # any exit but NoPolicy (a plan exists); Escalated when no decision comes in time
    "AwaitingApproval": frozenset(("Pending", "Remediating", *(TERMINAL - {"NoPolicy"}))),
    "Remediating": frozenset({"Pending", "Verifying", "Remediated", "Failed", "Resolved"}),
    "Verifying": frozenset({"Remediated", "Failed", "Escalated", "Resolved"}),
    "Remediated": frozenset({"Resolved"}),
    **{phase: frozenset() for phase in TERMINAL},
}

TIMELINE_LIMIT = 50


class InvalidTransition(ValueError):  # noqa: N818  (reads as a sentence: raise InvalidTransition)
    """The lifecycle table does not allow this phase change."""


def _appended(timeline: list[TimelineEntry], entry: TimelineEntry) -> list[TimelineEntry]:
    """The timeline with the entry added, keeping the first and the latest entries."""
    entries = [*timeline, entry]
    if len(entries) <= TIMELINE_LIMIT:
        return entries
    return [entries[0], *entries[-(TIMELINE_LIMIT - 1) :]]


def note(
    status: IncidentStatus, reason: str, message: str, now: datetime, actor: str = "remediator"
) -> IncidentStatus:
    """A new status with a timeline entry and the phase unchanged."""
    entry = TimelineEntry(time=now, reason=reason, message=message, actor=actor)
    return status.model_copy(update={"timeline": _appended(status.timeline, entry)})


def _conditions_for(
    conditions: list[Condition],
    to: Phase,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None,
) -> list[Condition]:
    def put(kind: str, value: ConditionStatus, why: str = reason) -> None:
        nonlocal conditions
        conditions = set_condition(conditions, kind, value, why, message, now, generation)

    def settle_unknown(kind: str, value: ConditionStatus) -> None:
        current = get_condition(conditions, kind)
        if current is not None and current.status == "Unknown":
            put(kind, value)

    match to:
        case "Matched":
            put(reasons.CONDITION_MATCHED, "True")
        case "NoPolicy":
            put(reasons.CONDITION_MATCHED, "False")
        case "AwaitingApproval":
            put(reasons.CONDITION_APPROVED, "Unknown")
        case "Remediating":
            current = get_condition(conditions, reasons.CONDITION_APPROVED)
            if current is not None and current.status == "Unknown":
                put(reasons.CONDITION_APPROVED, "True", reasons.APPROVED)
        case "Rejected":
            put(reasons.CONDITION_APPROVED, "False")
        case "Verifying":
            put(reasons.CONDITION_REMEDIATED, "True")
            put(reasons.CONDITION_VERIFIED, "Unknown")
        case "Remediated":
            put(reasons.CONDITION_REMEDIATED, "True")
            settle_unknown(reasons.CONDITION_VERIFIED, "True")
        case "Failed" | "Blocked" | "Escalated" | "DryRun":
            put(reasons.CONDITION_REMEDIATED, "False")
            settle_unknown(reasons.CONDITION_APPROVED, "False")
            settle_unknown(reasons.CONDITION_VERIFIED, "False")
        case _:  # Pending, Resolved: the conditions keep what they said
            pass
    return conditions


def transition(
    status: IncidentStatus,
    to: Phase,
    reason: str,
    message: str,
    now: datetime,
    *,
    actor: str = "remediator",
    generation: int | None = None,
) -> IncidentStatus:
    """A new status in phase `to`, with a timeline entry and the conditions updated.

    Raises InvalidTransition when the table does not allow the move (a same-phase
    update is a `note`, not a transition).
    """
    if to not in TRANSITIONS[status.phase]:
        hint = " (use note() to record something without changing phase)"
        raise InvalidTransition(
            f"an incident cannot go from {status.phase} to {to}"
            + (hint if to == status.phase else "")
        )
    entry = TimelineEntry(time=now, reason=reason, message=message, actor=actor)
    update: dict[str, object] = {
        "phase": to,
        "message": message,
        "timeline": _appended(status.timeline, entry),
        "conditions": _conditions_for(
            list(status.conditions), to, reason, message, now, generation
        ),
    }
    if generation is not None:
        update["observed_generation"] = generation
    return status.model_copy(update=update)
