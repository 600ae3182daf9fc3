"""The approval gate: which approvals count, and the response deadline per severity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from remediator.core import reasons
from remediator.core.gating import approval_rule, respond_by, tally
from remediator.core.models import Approval, RemediationPolicy, Severity

T0 = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
PLAN = "abcdef0123456789"


def policy(approval: dict[str, Any]) -> RemediationPolicy:
    return RemediationPolicy.model_validate(
        {
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": {
                "match": {},
                "target": {"name": "checkout"},
                "steps": [{"action": "restartPods"}],
                "approval": approval,
            },
        }
    )


@pytest.mark.parametrize(
    ("approval", "severity", "mode", "approvers"),
    [
        ({}, "P0", "required", 1),
        ({}, "P1", "required", 1),
        ({}, "P2", "auto", 1),
        ({}, "P3", "auto", 1),
        ({"P0": {"mode": "required", "approvers": 2}}, "P0", "required", 2),
        ({"P2": {"mode": "notifyOnly"}}, "P2", "notifyOnly", 1),
        ({"P2": {"mode": "notifyOnly"}}, "P1", "required", 1),
    ],
)
def test_approval_rule_per_severity_with_defaults(
    approval: dict[str, Any], severity: Severity, mode: str, approvers: int
) -> None:
    rule = approval_rule(policy(approval), severity)
    assert (rule.mode, rule.approvers) == (mode, approvers)


def approval(
    name: str,
    approver: str | None,
    decision: str = "approve",
    *,
    minute: int = 0,
    plan_hash: str = PLAN,
    groups: tuple[str, ...] = ("sre",),
    incident: str = "inc-1",
) -> Approval:
    spec: dict[str, Any] = {
        "incident": incident,
        "decision": decision,
        "planHash": plan_hash,
        "approverGroups": list(groups),
        "reason": "looks right",
    }
    if approver is not None:
        spec["approver"] = approver
    created = (T0 + timedelta(minutes=minute)).isoformat()
    return Approval.model_validate(
        {"metadata": {"name": name, "creationTimestamp": created}, "spec": spec}
    )


@pytest.mark.parametrize(
    ("approvals", "groups", "approved_by", "rejected_by", "ignored"),
    [
        pytest.param([], [], (), None, {}, id="none"),
        pytest.param(
            [approval("a1", "alice"), approval("a2", "bob", minute=1)],
            [],
            ("alice", "bob"),
            None,
            {},
            id="two distinct approvers",
        ),
        pytest.param(
            [approval("late", "bob", minute=5), approval("early", "alice", minute=1)],
            [],
            ("alice", "bob"),
            None,
            {},
            id="in creation order",
        ),
        pytest.param(
            [approval("a1", None)],
            [],
            (),
            None,
            {"a1": reasons.APPROVER_NOT_VERIFIED},
            id="unverified approver",
        ),
        pytest.param(
            [approval("a1", "alice", groups=("dev",)), approval("a2", "bob", groups=("sre",))],
            ["sre", "oncall"],
            ("bob",),
            None,
            {"a1": reasons.APPROVER_NOT_ALLOWED},
            id="approver not in an allowed group",
        ),
        pytest.param(
            [approval("a1", "alice", groups=())],
            [],
            ("alice",),
            None,
            {},
            id="any group when none required",
        ),
        pytest.param(
            [approval("a1", "alice", plan_hash="0000000000000000")],
            [],
            (),
            None,
            {"a1": reasons.STALE_PLAN},
            id="stale plan",
        ),
        pytest.param(
            [approval("a1", "alice"), approval("a2", "alice", minute=1)],
            [],
            ("alice",),
            None,
            {"a2": reasons.DUPLICATE_APPROVER},
            id="same approver twice",
        ),
        pytest.param(
            [approval("a1", "alice"), approval("r1", "bob", "reject", minute=1)],
            [],
            ("alice",),
            "bob",
            {},
            id="a reject",
        ),
        pytest.param(
            [approval("a1", "alice"), approval("r1", "alice", "reject", minute=1)],
            [],
            ("alice",),
            "alice",
            {},
            id="an approver may change their mind to reject",
        ),
        pytest.param(
            [approval("r1", "alice", "reject"), approval("a1", "alice", minute=1)],
            [],
            (),
            "alice",
            {"a1": reasons.DUPLICATE_APPROVER},
            id="but not back to approve",
        ),
        pytest.param(
            [approval("r1", "bob", "reject", plan_hash="0000000000000000")],
            [],
            (),
            None,
            {"r1": reasons.STALE_PLAN},
            id="a reject of a stale plan does not count",
        ),
    ],
)
def test_tally_counts_distinct_verified_approvers_of_the_current_plan(
    approvals: list[Approval],
    groups: list[str],
    approved_by: tuple[str, ...],
    rejected_by: str | None,
    ignored: dict[str, str],
) -> None:
    other = approval("x", "mallory", incident="inc-2")
    result = tally([*approvals, other], "inc-1", PLAN, groups)
    assert result.approved_by == approved_by
    assert result.rejected_by == rejected_by
    in_order = sorted(approvals, key=lambda a: a.metadata.creation_timestamp or T0)
    assert [r.name for r in result.records] == [a.metadata.name for a in in_order]
    assert {r.name: r.reason.split(":")[0] for r in result.records if not r.counted} == ignored
    assert all(r.reason == "looks right" for r in result.records if r.counted)


def test_an_ignored_approval_says_why_in_its_record() -> None:
    result = tally([approval("a1", "alice", plan_hash="0000000000000000")], "inc-1", PLAN, [])
    (record,) = result.records
    assert record.reason == (
        f"StalePlan: it approves plan 0000000000000000, but the current plan is {PLAN}"
    )
    assert (record.approver, record.counted, record.at) == ("alice", False, T0)


def test_approvals_already_recorded_keep_their_verdict_within_the_same_second() -> None:
    # Both were created in the same second; "a-zz" was recorded (and counted) first. A
    # later tally must not re-order them by name and count the later duplicate instead.
    first, second = approval("a-zz", "alice"), approval("a-aa", "alice")
    result = tally([first, second], "inc-1", PLAN, [], recorded=["a-zz"])
    assert [(r.name, r.counted) for r in result.records] == [("a-zz", True), ("a-aa", False)]
    assert result.approved_by == ("alice",)


NEW_YORK = ZoneInfo("America/New_York")


def ny(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("severity", "started", "deadline"),
    [
        pytest.param("P0", T0, T0 + timedelta(minutes=15), id="P0 15 minutes"),
        pytest.param("P1", T0, T0 + timedelta(hours=1), id="P1 an hour"),
        pytest.param("P2", T0, T0 + timedelta(hours=4), id="P2 four hours"),
        # 2025-03-04 is a Tuesday.
        pytest.param("P3", ny(4, 14), ny(5, 9), id="P3 Tuesday afternoon: Wednesday 9:00"),
        pytest.param("P3", ny(4, 7), ny(4, 9), id="P3 Tuesday early: Tuesday 9:00"),
        pytest.param("P3", ny(4, 9), ny(5, 9), id="P3 at 9:00 sharp: next day"),
        pytest.param("P3", ny(7, 17), ny(10, 9), id="P3 Friday: Monday"),
        pytest.param("P3", ny(8, 7), ny(10, 9), id="P3 Saturday early: Monday"),
        pytest.param("P3", ny(9, 23), ny(10, 9), id="P3 Sunday night: Monday"),
        pytest.param("P3", ny(7, 12), ny(10, 9), id="P3 across the DST change"),
        pytest.param(
            "P3",
            datetime(2025, 3, 5, 3, 0, tzinfo=UTC),  # Tuesday 22:00 in New York
            ny(5, 9),
            id="P3 by the local day, not the UTC day",
        ),
    ],
)
def test_respond_by_follows_the_playbook_windows(
    severity: Severity, started: datetime, deadline: datetime
) -> None:
    result = respond_by(severity, started.astimezone(UTC), NEW_YORK)
    assert result == deadline
    assert result.tzinfo == UTC
