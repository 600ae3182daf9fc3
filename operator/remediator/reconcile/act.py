"""Acting: the PromQL preconditions just before, then each planned step in order, with the
action written to the guard ledger and its `Applying` mark stored before the change."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import structlog

from ..adapters.kube import KubeError
from ..adapters.prometheus import PrometheusUnavailable, PromQLError
from ..core import (
    checks,
    evidence,
    reasons,
)
from ..core.models import (
    Incident,
    IncidentStatus,
    RemediationPolicy,
    VerificationStatus,
    parse_duration,
)
from ..executor import ActionFailed, NotNow
from .record import Recording
from .state import DONE_STATES, Wait

log = structlog.get_logger("remediator.reconciler")


class Acting(Recording):
    async def _remediate(
        self, incident: Incident, now: datetime, *, dry_run: bool
    ) -> Incident | Wait:
        plan = incident.status.plan
        if plan is None:
            return await self._transition(
                incident, "Failed", reasons.ACTION_FAILED, "no plan recorded", now
            )
        for step in plan.steps:
            record = incident.status.actions[step.index]
            if record.state in DONE_STATES:
                continue
            if record.state == "Failed":
                return await self._transition(
                    incident, "Failed", reasons.ACTION_FAILED, record.result, now
                )
            if not dry_run:
                # The intent goes into the status, then the action into the guard ledger,
                # before the change: a crash from here on resumes with a re-apply, which is a
                # no-op when the change already happened, and deleting the incident does not
                # erase what it did from the cooldowns and rate limits. (In this order a
                # status that looks untouched while the ledger holds the incident's actions
                # can only be one someone reset.)
                # The reservation takes over what the guards held when they passed (see
                # `_hold_in_ledger`): the action counts from then, through its evidence.
                entry = await self._reserve_in_ledger(incident, step, record.started_at or now)
                try:
                    if incident.status.evidence is None:
                        # evidence before the first change: after approval, before `Applying`
                        incident = await self._capture_evidence(incident, now)
                    incident = await self._update_action(
                        incident,
                        step.index,
                        state="Applying",
                        started_at=record.started_at or now,
                    )
                    await self._flush(incident.metadata.namespace, incident.metadata.name)
                    await self._write_to_ledger(entry)
                except BaseException:
                    self._release_from_ledger(entry)  # nothing changed: no action to count
                    raise
            try:
                outcome = await self.executor.apply(
                    incident.metadata.namespace,
                    step,
                    dry_run=dry_run,
                    now=now,
                    incident=incident,
                    bounds=plan.binding.bounds if plan.binding else None,
                )
            except NotNow as e:
                message = self._refused_too_long(e, record.started_at or now, now)
                if message is not None:
                    incident = await self._update_action(
                        incident, step.index, state="Failed", finished_at=now, result=message
                    )
                    return await self._transition(
                        incident, "Failed", reasons.ACTION_FAILED, message, now
                    )
                return await self._deferred(incident, e, now)
            except ActionFailed as e:
                incident = await self._update_action(
                    incident,
                    step.index,
                    state="Failed",
                    finished_at=now,
                    result=e.message,
                )
                return await self._transition(incident, "Failed", e.reason, e.message, now)
            incident = await self._update_action(
                incident,
                step.index,
                state=outcome.state,
                finished_at=datetime.now(UTC),
                result=outcome.result,
                revert=outcome.revert,
                revert_at=outcome.revert_at,
                event=(
                    reasons.DRY_RUN
                    if dry_run
                    else (
                        reasons.ACTION_SKIPPED
                        if outcome.state == "Skipped"
                        else reasons.ACTION_APPLIED
                    ),
                    outcome.result,
                ),
            )
        results = "; ".join(a.result for a in incident.status.actions)
        now = datetime.now(UTC)  # the actions took time: the outcome is recorded as of now
        if dry_run:
            return await self._transition(
                incident, "DryRun", reasons.DRY_RUN, f"dry run, nothing changed: {results}", now
            )
        policy = await self._policy_of(incident)
        if policy is not None and policy.spec.verify is not None:
            check = policy.spec.verify
            verification = VerificationStatus(
                check=check,
                started_at=now,
                deadline=now + timedelta(seconds=parse_duration(check.within)),
            )
            return await self._transition(
                incident.with_status(verification=verification),
                "Verifying",
                reasons.VERIFYING,
                f"{results}; verifying {checks.describe(check)} every {check.interval} "
                f"for up to {check.within}",
                now,
            )
        return await self._transition(incident, "Remediated", reasons.REMEDIATED, results, now)

    async def _deferred(self, incident: Incident, e: NotNow, now: datetime) -> Wait:
        """The cluster said "not now" to an action or a revert: the ticker tries again in
        `e.retry_after` (at most `retry_seconds`), and the trail tells each distinct refusal
        once, not once per retry."""
        key = (incident.metadata.namespace, incident.metadata.name)
        self.retry_at[key] = time.monotonic() + min(e.retry_after, self.config.retry_seconds)
        last = incident.status.timeline[-1] if incident.status.timeline else None
        if last is None or (last.reason, last.message) != (reasons.ACTION_DEFERRED, e.message):
            await self._note(incident, reasons.ACTION_DEFERRED, e.message, now)
        return Wait(self.retry_at[key])

    def _refused_too_long(self, e: NotNow, since: datetime, now: datetime) -> str | None:
        """A 403 is waited out for `forbidden_grace_seconds` from `since` (a restarting
        kube-apiserver's); past that, the message the failure records. None: keep trying."""
        grace = self.config.forbidden_grace_seconds
        refused = (now - since).total_seconds()
        if not e.forbidden or refused < grace:
            return None
        return f"{e.message} (refused for {refused:.0f}s; retried for {grace:.0f}s)"

    async def _capture_evidence(self, incident: Incident, now: datetime) -> Incident:
        """Before the first change: what the target looks like, kept in a Secret the Incident
        owns and told in the status. It never stops the remediation: what cannot be read is
        listed as missing, and evidence that cannot be stored is noted as such."""
        policy = await self._policy_of(incident)
        plan = incident.status.plan
        if policy is None or plan is None or not evidence.wanted(policy, plan):
            return incident
        document, summary = await self.capture.capture(incident, policy)
        try:
            summary = await self.capture.keep(incident, document, summary)
        except KubeError as e:
            log.warning("evidence not kept", error=str(e))
            why = f"the Secret {summary.secret} could not be written ({e.status} {e.reason})"
            kept = summary.model_copy(update={"secret": "", "missing": [*summary.missing, why]})
            return await self._note(
                incident.with_status(evidence=kept),
                reasons.EVIDENCE_NOT_KEPT,
                evidence.describe(kept),
                now,
            )
        return await self._note(
            incident.with_status(evidence=summary),
            reasons.EVIDENCE_CAPTURED,
            evidence.describe(summary),
            now,
        )

    async def _preconditions(
        self, incident: Incident, policy: RemediationPolicy, now: datetime
    ) -> Incident | None:
        """None when every PromQL precondition holds; else the incident, Blocked (fail
        closed: no answer from Prometheus is no permission to act)."""
        preconditions = policy.spec.guards.preconditions
        if not preconditions:
            return None
        if self.prom is None:
            return await self._transition(
                incident,
                "Blocked",
                reasons.PROMETHEUS_UNAVAILABLE,
                f"policy {policy.metadata.name} has {len(preconditions)} PromQL precondition(s) "
                "and no Prometheus is configured (--prometheus-url); nothing was changed",
                now,
            )
        held = []
        for check in preconditions:
            try:
                samples = await self.prom.instant(check.query)
            except PrometheusUnavailable as e:
                return await self._transition(
                    incident,
                    "Blocked",
                    reasons.PROMETHEUS_UNAVAILABLE,
                    f"cannot evaluate precondition {checks.describe(check)}: {e}; "
                    "nothing was changed",
                    now,
                )
            except PromQLError as e:
                return await self._transition(
                    incident,
                    "Blocked",
                    reasons.PROMQL_ERROR,
                    f"precondition {checks.describe(check)}: {e}; nothing was changed",
                    now,
                )
            result = checks.evaluate(check, samples)
            if not result.holds:
                return await self._transition(
                    incident,
                    "Blocked",
                    reasons.PRECONDITION_FAILED,
                    f"precondition {checks.describe(check)} does not hold: observed "
                    f"{result.observed}; nothing was changed",
                    now,
                )
            held.append(f"{checks.describe(check)}: {result.observed}")
        # An Event (not a timeline entry: the caller goes on with the incident it has) so
        # that `kubectl describe` shows what the decision to act was based on.
        message = "preconditions hold: " + "; ".join(held)
        log.info("preconditions hold", incident=incident.metadata.name, checks=held)
        self._unsaved_of(incident).events.append((reasons.PRECONDITIONS_MET, message))
        return None


def _started(status: IncidentStatus) -> bool:
    """Whether any action of the plan has begun (from then on the plan is carried out as
    approved, whatever changes)."""
    return any(a.state != "Pending" for a in status.actions)
