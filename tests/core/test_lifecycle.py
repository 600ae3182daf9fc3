"""The lifecycle table, and the timeline and conditions every transition leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest

from remediator.core import reasons
from remediator.core.conditions import set_condition
from remediator.core.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    InvalidTransition,
    note,
    transition,
)
from remediator.core.models import Condition, IncidentStatus, Phase

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
PHASES: tuple[Phase, ...] = get_args(Phase)


def status(phase: Phase = "Pending", **conditions: str) -> IncidentStatus:
    return IncidentStatus.model_validate(
        {
            "phase": phase,
            "conditions": [
                {"type": t, "status": s, "reason": "Before", "lastTransitionTime": NOW.isoformat()}
                for t, s in conditions.items()
            ],
        }
    )


def condition_statuses(result: IncidentStatus) -> dict[str, str]:
    return {c.type: c.status for c in result.conditions}


def test_the_happy_path_is_allowed_and_recorded() -> None:
    path: list[tuple[Phase, str]] = [
        ("Matched", reasons.MATCHED),
        ("AwaitingApproval", reasons.AWAITING_APPROVAL),
        ("Remediating", reasons.APPROVED),
        ("Verifying", reasons.VERIFYING),
        ("Remediated", reasons.REMEDIATED),
        ("Resolved", reasons.RESOLVED),
    ]
    current = status()
    for n, (phase, reason) in enumerate(path):
        current = transition(current, phase, reason, f"step {n}", NOW + timedelta(seconds=n))
        assert current.phase == phase
        assert current.message == f"step {n}"
    assert [(e.reason, e.message) for e in current.timeline] == [
        (reason, f"step {n}") for n, (_, reason) in enumerate(path)
    ]
    assert condition_statuses(current) == {
        "Matched": "True",
        "Approved": "True",
        "Remediated": "True",
        "Verified": "True",
    }


@pytest.mark.parametrize("phase", [p for p in PHASES if p not in TERMINAL])
def test_resolved_is_reachable_from_every_phase_that_is_not_terminal(phase: Phase) -> None:
    assert transition(status(phase), "Resolved", reasons.RESOLVED, "", NOW).phase == "Resolved"


@pytest.mark.parametrize("phase", sorted(TERMINAL))
def test_nothing_follows_a_terminal_phase(phase: Phase) -> None:
    assert TRANSITIONS[phase] == frozenset()
    for target in PHASES:
        with pytest.raises(InvalidTransition):
            transition(status(phase), target, "Any", "", NOW)


@pytest.mark.parametrize(
    ("start", "to"),
    [
        ("Pending", "Remediating"),
        ("Pending", "AwaitingApproval"),
        ("Matched", "Remediated"),
        ("Matched", "Rejected"),
        ("AwaitingApproval", "Verifying"),
        ("Remediating", "AwaitingApproval"),
        ("Remediated", "Failed"),
        ("Remediated", "Remediating"),
        ("Failed", "Remediating"),
        ("Resolved", "Pending"),
    ],
)
def test_a_move_the_table_does_not_allow_is_refused(start: Phase, to: Phase) -> None:
    with pytest.raises(InvalidTransition, match=f"from {start} to {to}"):
        transition(status(start), to, "Any", "", NOW)


def test_a_same_phase_transition_points_to_note() -> None:
    with pytest.raises(InvalidTransition, match="note"):
        transition(status("AwaitingApproval"), "AwaitingApproval", "Any", "", NOW)


def test_every_phase_has_a_row_in_the_table() -> None:
    assert set(TRANSITIONS) == set(PHASES)
    assert all(to in PHASES for targets in TRANSITIONS.values() for to in targets)


@pytest.mark.parametrize(
    ("start", "before", "to", "reason", "after"),
    [
        pytest.param("Pending", {}, "Matched", reasons.MATCHED, {"Matched": ("True", "Matched")}),
        pytest.param(
            "Pending",
            {},
            "NoPolicy",
            reasons.NO_MATCHING_POLICY,
            {"Matched": ("False", "NoMatchingPolicy")},
        ),
        pytest.param(
            "Matched",
            {"Matched": "True"},
            "AwaitingApproval",
            reasons.AWAITING_APPROVAL,
            {"Matched": ("True", "Before"), "Approved": ("Unknown", "AwaitingApproval")},
        ),
        pytest.param(
            "AwaitingApproval",
            {"Approved": "Unknown"},
            "Remediating",
            reasons.APPROVED,
            {"Approved": ("True", "Approved")},
            id="approved once waiting",
        ),
        pytest.param(
            "Matched",
            {},
            "Remediating",
            reasons.AUTO_APPROVED,
            {},
            id="no Approved condition without a gate",
        ),
        pytest.param(
            "AwaitingApproval",
            {"Approved": "Unknown"},
            "Rejected",
            reasons.REJECTED,
            {"Approved": ("False", "Rejected")},
        ),
        pytest.param(
            "Remediating",
            {},
            "Verifying",
            reasons.VERIFYING,
            {"Remediated": ("True", "Verifying"), "Verified": ("Unknown", "Verifying")},
        ),
        pytest.param(
            "Remediating",
            {},
            "Remediated",
            reasons.REMEDIATED,
            {"Remediated": ("True", "Remediated")},
            id="remediated without verification",
        ),
        pytest.param(
            "Verifying",
            {"Remediated": "True", "Verified": "Unknown"},
            "Failed",
            reasons.VERIFICATION_FAILED,
            {
                "Remediated": ("False", "VerificationFailed"),
                "Verified": ("False", "VerificationFailed"),
            },
        ),
        pytest.param(
            "Matched",
            {"Matched": "True"},
            "Blocked",
            reasons.COOLDOWN,
            {"Matched": ("True", "Before"), "Remediated": ("False", "Cooldown")},
        ),
        pytest.param(
            "AwaitingApproval",
            {"Approved": "Unknown"},
            "Escalated",
            reasons.APPROVAL_DEADLINE_PASSED,
            {
                "Approved": ("False", "ApprovalDeadlinePassed"),
                "Remediated": ("False", "ApprovalDeadlinePassed"),
            },
            id="escalated settles a pending approval",
        ),
        pytest.param("Matched", {}, "DryRun", reasons.DRY_RUN, {"Remediated": ("False", "DryRun")}),
        pytest.param(
            "AwaitingApproval",
            {"Approved": "Unknown"},
            "Resolved",
            reasons.RESOLVED,
            {"Approved": ("Unknown", "Before")},
            id="resolved leaves the conditions",
        ),
    ],
)
def test_each_phase_sets_its_conditions(
    start: Phase,
    before: dict[str, str],
    to: Phase,
    reason: str,
    after: dict[str, tuple[str, str]],
) -> None:
    result = transition(status(start, **before), to, reason, "why", LATER, generation=4)
    assert {c.type: (c.status, c.reason) for c in result.conditions} == after
    for c in result.conditions:
        changed = c.type not in before or before[c.type] != c.status
        assert c.last_transition_time == (LATER if changed else NOW)


def test_a_transition_records_actor_generation_and_leaves_the_input_alone() -> None:
    original = status("Pending")
    result = transition(
        original, "Matched", reasons.MATCHED, "policy p", NOW, actor="alice", generation=7
    )
    assert original.phase == "Pending"
    assert original.timeline == []
    assert result.observed_generation == 7
    assert result.conditions[0].observed_generation == 7
    (entry,) = result.timeline
    assert (entry.time, entry.reason, entry.message, entry.actor) == (
        NOW,
        "Matched",
        "policy p",
        "alice",
    )


def test_note_adds_to_the_timeline_without_changing_phase() -> None:
    result = note(status("AwaitingApproval"), reasons.STALE_PLAN, "ignored", NOW, actor="bob")
    assert result.phase == "AwaitingApproval"
    assert [(e.reason, e.actor) for e in result.timeline] == [("StalePlan", "bob")]


def test_the_timeline_keeps_the_first_and_the_latest_entries() -> None:
    current = transition(status(), "Matched", reasons.MATCHED, "first", NOW)
    for n in range(80):
        current = note(current, reasons.APPROVAL_IGNORED, f"note {n}", NOW + timedelta(seconds=n))
    messages = [e.message for e in current.timeline]
    assert len(messages) == 50
    assert messages[0] == "first"
    assert messages[1:] == [f"note {n}" for n in range(31, 80)]


def _condition(type: str, status: str, at: datetime) -> Condition:
    return Condition.model_validate(
        {"type": type, "status": status, "reason": "Old", "lastTransitionTime": at.isoformat()}
    )


@pytest.mark.parametrize(
    ("existing", "type", "new_status", "expected_types", "transition_time"),
    [
        pytest.param([], "Matched", "True", ["Matched"], LATER, id="added"),
        pytest.param(
            [_condition("Matched", "True", NOW), _condition("Approved", "Unknown", NOW)],
            "Matched",
            "True",
            ["Matched", "Approved"],
            NOW,
            id="same status keeps its transition time",
        ),
        pytest.param(
            [_condition("Matched", "True", NOW), _condition("Approved", "Unknown", NOW)],
            "Approved",
            "True",
            ["Matched", "Approved"],
            LATER,
            id="new status, new transition time, same place",
        ),
    ],
)
def test_set_condition_replaces_by_type(
    existing: list[Condition],
    type: str,
    new_status: Any,
    expected_types: list[str],
    transition_time: datetime,
) -> None:
    before = [c.model_copy() for c in existing]
    result = set_condition(existing, type, new_status, "New", "message", LATER, 3)
    assert existing == before
    assert [c.type for c in result] == expected_types
    (changed,) = [c for c in result if c.type == type]
    assert (changed.status, changed.reason, changed.message) == (new_status, "New", "message")
    assert changed.last_transition_time == transition_time
    assert changed.observed_generation == 3
