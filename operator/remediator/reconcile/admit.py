"""Admitting: whether the operator may act at all. The status must be its own (sealed);
a plan whose incident or policy changed is made again; the policy is matched (with
fall-through), the gate decided by severity, the guards checked, the approvals counted."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from .. import metrics
from ..core import (
    gating,
    guards,
    lifecycle,
    matching,
    planning,
    reasons,
    status_seal,
    targets,
)
from ..core.alerts import UNKNOWN_SEVERITY_ANNOTATION
from ..core.models import (
    ActionRecord,
    ApprovalRecord,
    Incident,
    IncidentStatus,
    RemediationPolicy,
)
from .act import Acting
from .state import Wait

log = structlog.get_logger("remediator.reconciler")


class Admitting(Acting):
    async def _sealed(self, incident: Incident) -> bool:
        """Whether the status is one this operator wrote for this incident, or one nobody
        has decided anything in yet. A status that looks untouched while the guard ledger
        holds actions of this incident was reset by someone: planning it again would act
        again, its own past actions not counting against it."""
        if status_seal.verifies(self.config.approval_key, incident):
            return True
        if not status_seal.untouched(incident.status):
            return False
        return not await self._stored_in_ledger(incident.metadata.uid)

    async def _refuse_unsealed(self, incident: Incident, now: datetime) -> Incident:
        """A status someone else wrote (a phase, a plan, a revert by hand): act on none of
        it. The incident is Blocked with a clean status, so nothing forged stays in it."""
        forged = incident.status
        clean = incident.model_copy(update={"status": IncidentStatus()})
        log.warning(
            "status not written by the operator",
            incident=f"{incident.metadata.namespace}/{incident.metadata.name}",
            phase=forged.phase,
        )
        return await self._transition(
            clean,
            "Blocked",
            reasons.STATUS_NOT_SEALED,
            f"the status (phase {forged.phase}"
            + (f", plan {forged.plan.hash}" if forged.plan else "")
            + ") was not written by the operator: its seal does not verify; nothing in it"
            " is acted on. File a new Incident to remediate",
            now,
        )

    async def _replan(self, incident: Incident, why: str, now: datetime) -> Incident:
        """Back to Pending with no plan: the spec or the policy changed before anything was
        done. The next plan hashes differently, so approvals of this one no longer count."""
        old = incident.status.plan
        unplanned = incident.with_status(
            plan=None, action=None, actions=[], respond_by=None, verification=None
        )
        return await self._transition(
            unplanned,
            "Pending",
            reasons.REPLANNED,
            f"{why}: planning again; approvals of plan {old.hash if old else '?'} no longer count",
            now,
        )

    async def _match(self, incident: Incident, now: datetime) -> Incident | Wait:
        namespace = incident.metadata.namespace
        policies = await self._policies(namespace, incident.spec.alertname)
        candidates = matching.ranked(incident, policies)
        if not candidates:
            return await self._transition(
                incident,
                "NoPolicy",
                reasons.NO_MATCHING_POLICY,
                f"no valid RemediationPolicy in namespace {namespace} matches alert "
                f"{incident.spec.alertname} ({incident.spec.severity})",
                now,
            )
        skipped: list[str] = []
        for rank, policy in enumerate(candidates):
            policy_name = policy.metadata.name
            incident = incident.with_status(policy=policy_name)
            try:
                target = targets.resolve_target(incident, policy)
                observed = await self._observe(namespace, target, policy)
                if observed.workload is not None:
                    targets.check_bounds(policy, target, observed.workload)
                plan = planning.plan(incident, policy, target, observed, now)
            except (planning.PlanningError, targets.TargetError) as e:
                if matching.falls_through(e.reason, rank, len(candidates)):
                    # "rollback only if recently deployed, else restart", or a policy
                    # whose bounds do not take this workload: the next policy
                    skipped.append(f"policy {policy_name} does not apply ({e.reason}: {e})")
                    continue
                return await self._transition(incident, "Blocked", e.reason, str(e), now)
            break
        started = incident.spec.starts_at or incident.metadata.creation_timestamp or now
        respond_by = gating.respond_by(
            incident.spec.severity, started, ZoneInfo(self.config.timezone)
        )
        status = incident.status.model_copy(
            update={
                "plan": plan,
                "action": "+".join(s.action for s in plan.steps),
                "actions": [
                    ActionRecord(index=s.index, action=s.action, target=s.target)
                    for s in plan.steps
                ],
                "respond_by": respond_by,
            }
        )
        unknown = incident.metadata.annotations.get(UNKNOWN_SEVERITY_ANNOTATION)
        if unknown is not None and incident.spec.source == "alertmanager":
            status = lifecycle.note(
                status,
                reasons.UNKNOWN_SEVERITY,
                f"the alert's severity {unknown!r} is not one the bridge knows: it was filed"
                f" as {incident.spec.severity}, which needs approval unless the policy says"
                " otherwise",
                now,
                actor=self.config.identity,
            )
        summary = "; ".join(s.summary for s in plan.steps)
        fell = "; ".join(skipped) + "; " if skipped else ""
        return await self._transition(
            incident.model_copy(update={"status": status}),
            "Matched",
            reasons.MATCHED,
            f"{fell}policy {policy_name} matched; plan {plan.hash}: {summary}",
            now,
        )

    async def _policy_gone(self, incident: Incident, now: datetime) -> Incident:
        return await self._transition(
            incident,
            "Blocked",
            reasons.INVALID_POLICY,
            f"policy {incident.status.policy} is gone or no longer valid",
            now,
        )

    async def _gate(self, incident: Incident, now: datetime) -> Incident | Wait:
        policy = await self._policy_of(incident)
        if policy is None:
            return await self._policy_gone(incident, now)
        verdict = await self._guards(incident, policy, now)
        if verdict is not None:
            return verdict
        plan = incident.status.plan
        decided = gating.gate(
            policy,
            incident.spec.severity,
            operator_dry_run=self.config.dry_run,
            plan_hash=plan.hash if plan else "?",
            deadline=incident.status.respond_by,
        )
        if decided.phase != "Remediating":  # nothing acts now: what the guards held goes
            self._unhold(incident.metadata.namespace, incident.metadata.name)
        if decided.reason == reasons.DRY_RUN:
            return await self._remediate(incident, now, dry_run=True)
        return await self._transition(incident, decided.phase, decided.reason, decided.message, now)

    async def _guards(
        self, incident: Incident, policy: RemediationPolicy, now: datetime
    ) -> Incident | Wait | None:
        namespace = incident.metadata.namespace
        target = targets.resolve_target(incident, policy)
        config = guards.GlobalConfig(
            paused=await self._paused(),
            protected_namespaces=self.config.protected_namespaces,
            max_concurrent=self.config.max_concurrent,
            dry_run=self.config.dry_run,
        )
        # From the history read to the hold below nothing else is awaited: incidents checked
        # at the same time each see the actions the ones before them were allowed.
        history, active = await self._guard_inputs(
            namespace, f"{target.kind}/{target.name}", policy.metadata.name
        )
        verdict = guards.check_guards(
            incident,
            policy,
            target,
            config,
            history,
            active,
            now,
        )
        if verdict.allowed:
            self._hold_in_ledger(incident, policy, now)  # before anything is awaited
            blocked = await self._preconditions(incident, policy, now)
            if blocked is not None:
                self._unhold(namespace, incident.metadata.name)
            return blocked
        if verdict.retry_after is not None:
            key = (namespace, incident.metadata.name)
            first = key not in self.retry_at
            self.retry_at[key] = time.monotonic() + min(
                verdict.retry_after, self.config.retry_seconds
            )
            if first:
                metrics.observe_deferral(verdict.reason)
                await self._note(incident, verdict.reason, verdict.message + "; will retry", now)
            return Wait(self.retry_at[key])
        return await self._transition(incident, "Blocked", verdict.reason, verdict.message, now)

    async def _await_approval(self, incident: Incident, now: datetime) -> Incident | Wait:
        policy = await self._policy_of(incident)
        plan = incident.status.plan
        if policy is None or plan is None:
            return await self._policy_gone(incident, now)
        approvals = await self._approvals(incident.metadata.namespace)
        tally = gating.tally(
            approvals,
            incident.metadata.name,
            plan.hash,
            policy.spec.approval.approver_groups,
            recorded=[r.name for r in incident.status.approvals],
        )
        incident = await self._record_approvals(incident, tally.records, now)
        if tally.rejected_by:
            return await self._transition(
                incident,
                "Rejected",
                reasons.REJECTED,
                f"rejected by {tally.rejected_by}",
                now,
                actor=tally.rejected_by,
            )
        rule = gating.approval_rule(policy, incident.spec.severity)
        if len(tally.approved_by) >= rule.approvers:
            verdict = await self._guards(incident, policy, now)
            if verdict is not None:
                return verdict
            who = ", ".join(tally.approved_by)
            return await self._transition(
                incident,
                "Remediating",
                reasons.APPROVED,
                f"plan {plan.hash} approved by {who}",
                now,
                actor=who,
            )
        deadline = incident.status.respond_by
        if deadline is not None and now >= deadline:
            return await self._transition(
                incident,
                "Escalated",
                reasons.APPROVAL_DEADLINE_PASSED,
                f"no decision by {deadline.isoformat()} ({incident.spec.severity} response "
                f"window); {len(tally.approved_by)} of {rule.approvers} approval(s)",
                now,
            )
        return Wait()

    async def _record_approvals(
        self, incident: Incident, records: Sequence[ApprovalRecord], now: datetime
    ) -> Incident:
        known = {r.name for r in incident.status.approvals}
        fresh = [r for r in records if r.name not in known]
        if not fresh:
            return incident
        status = incident.status.model_copy(
            update={"approvals": [*incident.status.approvals, *fresh]}
        )
        for record in fresh:
            if record.counted:
                status = lifecycle.note(
                    status,
                    reasons.APPROVAL_RECEIVED,
                    f"{record.decision} by {record.approver} for plan {record.plan_hash}",
                    now,
                    actor=record.approver,
                )
            else:
                status = lifecycle.note(
                    status,
                    reasons.APPROVAL_IGNORED,
                    f"approval {record.name} by {record.approver or '<unverified>'} ignored: "
                    f"{record.reason}",
                    now,
                    actor=record.approver or "unknown",
                )
        return await self._save(
            incident,
            status,
            events=[
                (
                    reasons.APPROVAL_IGNORED if not r.counted else reasons.APPROVAL_RECEIVED,
                    f"{r.decision} by {r.approver or '<unverified>'}"
                    + ("" if r.counted else f" ignored: {r.reason}"),
                )
                for r in fresh
            ],
        )
