"""The admit phase (match, gate, guards, approvals) driven alone, with a narrow fake of its
inputs: what it reads (policies, approvals, the guard ledger, the pause switch, the workload)
is given, and what it decides is read from the Incident it returns, before anything is
written. The client points at a closed port, so a read the fake does not answer fails the
test instead of reaching a cluster.

These pin each decision of the phase on its own; the flows (tests/flows) run the same
phases end to end against the emulator and the real API server."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from remediator.core import guards, planning, reasons, targets
from remediator.core.models import (
    Approval,
    Incident,
    RemediationPolicy,
    TargetRef,
)
from remediator.reconcile import OperatorConfig
from remediator.reconcile.admit import Admitting
from remediator.reconcile.state import Wait
from support.workloads import deployment

from .fakes import unreachable_kube

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
NS = "shop"


@dataclass
class Given:
    """Everything the admit phase reads, as the test states it."""

    policies: list[RemediationPolicy] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[guards.PastAction] = field(default_factory=list)
    active: int = 0
    paused: bool = False
    in_ledger: set[str] = field(default_factory=set)
    reads: list[str] = field(default_factory=list)


class AdmitWith(Admitting):
    """The admit phase whose inputs (the `Inputs` reads) are answered from `given`."""

    given: Given

    async def _policies(self, namespace: str, alertname: str) -> list[RemediationPolicy]:
        self.given.reads.append("policies")
        return [p for p in self.given.policies if p.metadata.namespace == namespace]

    async def _policy_of(self, incident: Incident) -> RemediationPolicy | None:
        self.given.reads.append("policy")
        return next(
            (p for p in self.given.policies if p.metadata.name == incident.status.policy), None
        )

    async def _approvals(self, namespace: str) -> list[Approval]:
        self.given.reads.append("approvals")
        return list(self.given.approvals)

    async def _guard_inputs(
        self, namespace: str, target: str, policy: str
    ) -> tuple[list[guards.PastAction], int]:
        self.given.reads.append("ledger")
        return list(self.given.history), self.given.active

    async def _paused(self) -> bool:
        return self.given.paused

    async def _stored_in_ledger(self, uid: str) -> bool:
        return uid in self.given.in_ledger

    async def _observe(
        self, namespace: str, target: TargetRef, policy: RemediationPolicy
    ) -> planning.Observed:
        self.given.reads.append(f"workload {target.name}")
        workload = self.given.workloads.get(target.name)
        if workload is None:
            raise targets.TargetError(reasons.TARGET_NOT_FOUND, f"{target.name} not found")
        return planning.Observed(workload=workload)


def phase(given: Given, **config: Any) -> AdmitWith:
    admit = AdmitWith(unreachable_kube(), OperatorConfig(**config))
    admit.given = given
    return admit


def policy(
    name: str = "scale-checkout",
    *,
    priority: int = 0,
    names: list[str] | None = None,
    approval: dict[str, Any] | None = None,
    groups: list[str] | None = None,
    cooldown: str = "10m",
) -> RemediationPolicy:
    target: dict[str, Any] = {"nameFromLabel": "deployment"}
    if names is not None:
        target["names"] = names
    spec: dict[str, Any] = {
        "match": {"alertnames": ["HighLatency"]},
        "priority": priority,
        "target": target,
        "steps": [{"action": "scale", "factor": 2, "max": 5}],
        "guards": {"cooldown": cooldown},
        "approval": {**(approval or {}), **({"approverGroups": groups} if groups else {})},
    }
    return RemediationPolicy.model_validate(
        {"metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}"}, "spec": spec}
    )


def incident(severity: str = "P2", name: str = "inc-1") -> Incident:
    return Incident.model_validate(
        {
            "metadata": {
                "name": name,
                "namespace": NS,
                "uid": f"uid-{name}",
                "creationTimestamp": (NOW - timedelta(minutes=1)).isoformat(),
            },
            "spec": {
                "alertname": "HighLatency",
                "severity": severity,
                "labels": {"deployment": "checkout"},
            },
        }
    )


def approval(
    decision: str, plan_hash: str, approver: str | None = "alice", groups: tuple[str, ...] = ()
) -> Approval:
    return Approval.model_validate(
        {
            "metadata": {"name": f"{decision}-{approver}", "namespace": NS},
            "spec": {
                "incident": "inc-1",
                "decision": decision,
                "planHash": plan_hash,
                "approver": approver,
                "approverGroups": list(groups),
            },
        }
    )


def given(*policies: RemediationPolicy, **more: Any) -> Given:
    return Given(
        policies=list(policies) or [policy()],
        workloads={"checkout": deployment("checkout", namespace=NS)},
        **more,
    )


async def matched(admit: AdmitWith, severity: str = "P2") -> Incident:
    result = await admit._match(incident(severity), NOW)
    assert isinstance(result, Incident)
    assert result.status.phase == "Matched", result.status.timeline[-1].message
    return result


def last(result: Incident | Wait) -> tuple[str, str]:
    assert isinstance(result, Incident)
    entry = result.status.timeline[-1]
    return entry.reason, entry.message


# ------------------------------------------------------------------------- match
async def test_no_policy_for_the_alert_is_no_policy_and_reads_no_workload() -> None:
    inputs = Given(policies=[])
    result = await phase(inputs)._match(incident(), NOW)
    assert isinstance(result, Incident) and result.status.phase == "NoPolicy"
    assert last(result)[0] == reasons.NO_MATCHING_POLICY
    assert inputs.reads == ["policies"]


async def test_a_match_records_the_plan_and_its_steps_before_anything_is_decided() -> None:
    result = await matched(phase(given()))
    plan = result.status.plan
    assert plan is not None and result.status.policy == "scale-checkout"
    assert [(a.action, a.target) for a in result.status.actions] == [
        ("scale", "Deployment/checkout")
    ]
    assert result.status.respond_by is not None  # P2: its response window is set at match


async def test_a_policy_whose_bounds_exclude_the_workload_falls_through_to_the_next() -> None:
    narrow = policy("only-cart", priority=10, names=["cart"])
    broad = policy("any-deployment")
    result = await matched(phase(given(narrow, broad)))
    assert result.status.policy == "any-deployment"
    reason, message = last(result)
    assert reason == reasons.MATCHED
    assert message.startswith(f"policy only-cart does not apply ({reasons.TARGET_NOT_ALLOWED}")


async def test_the_last_candidate_whose_bounds_exclude_the_workload_is_blocked() -> None:
    result = await phase(given(policy(names=["cart"])))._match(incident(), NOW)
    assert isinstance(result, Incident) and result.status.phase == "Blocked"
    assert last(result)[0] == reasons.TARGET_NOT_ALLOWED


async def test_a_missing_workload_blocks_the_incident() -> None:
    inputs = given()
    inputs.workloads.clear()
    result = await phase(inputs)._match(incident(), NOW)
    assert isinstance(result, Incident) and result.status.phase == "Blocked"
    assert last(result)[0] == reasons.TARGET_NOT_FOUND


# -------------------------------------------------------------------------- gate
@pytest.mark.parametrize(
    ("severity", "approval_rules", "phase_after", "reason"),
    [
        ("P2", None, "Remediating", reasons.AUTO_APPROVED),
        ("P1", None, "AwaitingApproval", reasons.AWAITING_APPROVAL),
        ("P2", {"P2": {"mode": "required"}}, "AwaitingApproval", reasons.AWAITING_APPROVAL),
        ("P2", {"P2": {"mode": "notifyOnly"}}, "DryRun", reasons.NOTIFY_ONLY),
    ],
)
async def test_the_gate_follows_the_severity_rule(
    severity: str,
    approval_rules: dict[str, Any] | None,
    phase_after: str,
    reason: str,
) -> None:
    admit = phase(given(policy(approval=approval_rules)))
    result = await admit._gate(await matched(admit, severity), NOW)
    assert isinstance(result, Incident)
    assert (result.status.phase, last(result)[0]) == (phase_after, reason)


async def test_a_cooldown_from_the_ledger_blocks_and_names_the_earlier_incident() -> None:
    earlier = guards.PastAction(
        NS, "Deployment/checkout", "scale-checkout", "inc-0", NOW - timedelta(minutes=3)
    )
    admit = phase(given(history=[earlier]))
    result = await admit._gate(await matched(admit), NOW)
    assert isinstance(result, Incident) and result.status.phase == "Blocked"
    reason, message = last(result)
    assert reason == reasons.COOLDOWN and "incident inc-0" in message


async def test_the_pause_switch_blocks_before_the_gate() -> None:
    admit = phase(given(paused=True))
    result = await admit._gate(await matched(admit), NOW)
    assert isinstance(result, Incident) and result.status.phase == "Blocked"
    assert last(result)[0] == reasons.PAUSED


async def test_too_many_remediations_at_once_waits_and_notes_it_once() -> None:
    admit = phase(given(active=2), max_concurrent=2, retry_seconds=0.5)
    incident = await matched(admit)
    first = await admit._gate(incident, NOW)
    assert isinstance(first, Wait) and first.at is not None
    again = await admit._gate(incident, NOW)
    assert isinstance(again, Wait)
    unsaved = admit._unsaved[(NS, "inc-1")]
    notes = [e.reason for e in unsaved.incident.status.timeline]
    assert notes.count(reasons.MAX_CONCURRENT) == 1


async def test_a_policy_gone_since_the_match_blocks() -> None:
    inputs = given()
    admit = phase(inputs)
    incident = await matched(admit)
    inputs.policies.clear()
    result = await admit._gate(incident, NOW)
    assert isinstance(result, Incident) and result.status.phase == "Blocked"
    assert last(result)[0] == reasons.INVALID_POLICY


# --------------------------------------------------------------------- approvals
async def awaiting(inputs: Given, severity: str = "P1") -> tuple[AdmitWith, Incident, str]:
    admit = phase(inputs)
    result = await admit._gate(await matched(admit, severity), NOW)
    assert isinstance(result, Incident) and result.status.phase == "AwaitingApproval"
    assert result.status.plan is not None
    return admit, result, result.status.plan.hash


async def test_an_approval_of_the_plan_by_a_verified_approver_starts_the_remediation() -> None:
    inputs = given()
    admit, incident, plan_hash = await awaiting(inputs)
    inputs.approvals.append(approval("approve", plan_hash))
    result = await admit._await_approval(incident, NOW)
    assert isinstance(result, Incident) and result.status.phase == "Remediating"
    assert last(result) == (reasons.APPROVED, f"plan {plan_hash} approved by alice")
    assert [(r.approver, r.counted) for r in result.status.approvals] == [("alice", True)]


@pytest.mark.parametrize(
    ("approver", "of_plan", "groups", "why"),
    [
        (None, True, ("sre",), reasons.APPROVER_NOT_VERIFIED),
        ("alice", False, ("sre",), reasons.STALE_PLAN),
        ("alice", True, ("dev",), reasons.APPROVER_NOT_ALLOWED),
    ],
)
async def test_an_approval_that_does_not_count_is_recorded_and_the_incident_waits(
    approver: str | None, of_plan: bool, groups: tuple[str, ...], why: str
) -> None:
    inputs = given(policy(groups=["sre"]))
    admit, incident, plan_hash = await awaiting(inputs)
    stale = "0" * len(plan_hash)
    inputs.approvals.append(approval("approve", plan_hash if of_plan else stale, approver, groups))
    result = await admit._await_approval(incident, NOW)
    assert isinstance(result, Wait)
    [record] = admit._unsaved[(NS, "inc-1")].incident.status.approvals
    assert not record.counted and record.reason.startswith(why)


async def test_a_rejection_ends_the_incident_as_rejected_by_whom() -> None:
    inputs = given()
    admit, incident, plan_hash = await awaiting(inputs)
    inputs.approvals.append(approval("reject", plan_hash, "bob"))
    result = await admit._await_approval(incident, NOW)
    assert isinstance(result, Incident) and result.status.phase == "Rejected"
    assert last(result) == (reasons.REJECTED, "rejected by bob")


async def test_no_decision_by_the_response_deadline_escalates() -> None:
    admit, incident, _ = await awaiting(given())
    deadline = incident.status.respond_by
    assert deadline is not None
    result = await admit._await_approval(incident, deadline + timedelta(seconds=1))
    assert isinstance(result, Incident) and result.status.phase == "Escalated"
    assert last(result)[0] == reasons.APPROVAL_DEADLINE_PASSED


# ------------------------------------------------------------------------- seal
async def test_an_untouched_status_is_its_own_unless_the_ledger_holds_its_actions() -> None:
    inputs = given()
    admit = phase(inputs, approval_key=b"k" * 32)
    assert await admit._sealed(incident())
    inputs.in_ledger.add("uid-inc-1")
    assert not await admit._sealed(incident())


async def test_a_stray_read_fails_instead_of_reaching_a_cluster() -> None:
    admit = phase(given())
    with pytest.raises(aiohttp.ClientConnectionError):
        await admit._incidents(NS)
