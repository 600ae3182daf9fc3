"""After acting: the `verify` PromQL check polled until it holds or its deadline passes
(then what the actions recorded is reverted and a human is told), and reverts due by time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import structlog

from .. import metrics
from ..adapters.prometheus import PrometheusUnavailable, PromQLError
from ..core import (
    checks,
    planning,
    reasons,
)
from ..core.models import (
    ActionRecord,
    Incident,
    parse_duration,
)
from ..executor import ActionFailed, NotNow
from .admit import Admitting
from .state import NOT_REVERTED_ON_FAILURE, Wait

log = structlog.get_logger("remediator.reconciler")


class Verifying(Admitting):
    async def _verify(self, incident: Incident, now: datetime) -> Incident | Wait:
        """One poll of the verify check when it is due: Remediated when it holds; past the
        deadline Escalated (and what the actions recorded reverted); else wait."""
        verification = incident.status.verification
        if verification is None:  # a status written without one: nothing to check
            return await self._transition(
                incident, "Remediated", reasons.REMEDIATED, "no verification recorded", now
            )
        check = verification.check
        interval = timedelta(seconds=parse_duration(check.interval))
        due_at = min(
            (verification.last_check_at or verification.started_at) + interval,
            verification.deadline,
        )
        if now < due_at:
            return self._wait_until(due_at, now)
        had_error = bool(verification.error)
        error = ""
        observed = verification.observed
        holds = False
        try:
            if self.prom is None:
                raise PrometheusUnavailable("no Prometheus is configured (--prometheus-url)")
            samples = await self.prom.instant(check.query)
        except PrometheusUnavailable as e:
            error = str(e)
        except PromQLError as e:  # asking again gives the same answer: escalate now
            return await self._transition(
                incident,
                "Escalated",
                reasons.PROMQL_ERROR,
                f"cannot verify {checks.describe(check)}: {e}; nothing was reverted",
                datetime.now(UTC),
            )
        else:
            result = checks.evaluate(check, samples)
            holds, observed = result.holds, result.observed
        now = datetime.now(UTC)  # the query took time
        verification = verification.model_copy(
            update={
                "last_check_at": now,
                "checks": verification.checks + 1,
                "observed": observed,
                "error": error[:1024],
            }
        )
        incident = incident.with_status(verification=verification)
        took = planning.format_duration((now - verification.started_at).total_seconds())
        if holds:
            return await self._transition(
                incident,
                "Remediated",
                reasons.VERIFIED,
                f"verified after {took}: {checks.describe(check)} holds, observed {observed}",
                now,
            )
        if now >= verification.deadline:
            return await self._verification_failed(incident, now)
        if error and not had_error:  # one note per outage, not one per poll
            incident = await self._note(
                incident,
                reasons.PROMETHEUS_UNAVAILABLE,
                f"cannot verify {checks.describe(check)} now: {error}; retrying every "
                f"{check.interval} until {verification.deadline.isoformat()}",
                now,
            )
        else:
            incident = await self._save(incident, incident.status, events=[])
        return self._wait_until(min(now + interval, verification.deadline), now)

    async def _verification_failed(self, incident: Incident, now: datetime) -> Incident:
        """Past the deadline: revert what the actions recorded (when the check answered and
        said no, and the policy asks for it), then escalate to a human."""
        verification = incident.status.verification
        assert verification is not None
        check = verification.check
        last = verification.observed or "nothing"
        if verification.error:
            # No answer is not a "no": changing the workload again on a guess would be an
            # action nobody checked, so nothing is reverted and a human decides.
            return await self._transition(
                incident,
                "Escalated",
                reasons.PROMETHEUS_UNAVAILABLE,
                f"could not verify {checks.describe(check)} within {check.within}: "
                f"{verification.error}; last observed: {last}; nothing was reverted",
                now,
            )
        message = (
            f"{checks.describe(check)} did not hold within {check.within} "
            f"({verification.checks} check(s)); last observed: {last}"
        )
        if check.revert_on_failure:
            incident, reverted = await self._revert_applied(incident)
            message += ("; reverted: " + "; ".join(reverted)) if reverted else "; nothing to revert"
        return await self._transition(
            incident, "Escalated", reasons.VERIFICATION_FAILED, message, datetime.now(UTC)
        )

    async def _revert_applied(self, incident: Incident) -> tuple[Incident, list[str]]:
        """Revert, last first, every Applied action that recorded how (scale, circuitBreaker,
        suspendCronJobs). An isolation is never undone because the metrics did not recover:
        only its own `revertAfter`, or a human, removes it. A revert the cluster refuses for
        now (a 403 after a restart, a conflict, no answer) is made due at once, and the
        ticker tries it again as it does a `revertAfter` (`_revert_due`)."""
        done = []
        for record in reversed(incident.status.actions):
            if record.state != "Applied" or record.revert is None:
                continue
            if record.action in NOT_REVERTED_ON_FAILURE:
                continue
            await self._flush(incident.metadata.namespace, incident.metadata.name)
            try:
                outcome = await self.executor.revert(
                    incident.metadata.namespace, record.action, record.target, record.revert
                )
            except NotNow as e:
                incident = await self._update_action(
                    incident,
                    record.index,
                    revert_at=datetime.now(UTC),
                    event=(reasons.ACTION_DEFERRED, e.message),
                )
                done.append(f"revert of {record.target} deferred ({e.message}), tried again")
                continue
            except ActionFailed as e:
                incident = await self._revert_failed(incident, record, e.message)
                done.append(f"revert of {record.target} failed ({e.message})")
                continue
            incident = await self._update_action(
                incident,
                record.index,
                state="Reverted" if outcome.state == "Reverted" else record.state,
                result=f"{record.result}; {outcome.result}",
                event=(reasons.ACTION_REVERTED, outcome.result),
            )
            done.append(outcome.result)
        return incident, done

    async def _revert_failed(
        self, incident: Incident, record: ActionRecord, message: str
    ) -> Incident:
        """A revert that cannot be done: told in the action's result and the trail, and not
        tried again (its `revertAt` is cleared): what the action changed stays for a human."""
        metrics.observe_action(record.action, "RevertFailed")
        log.warning(
            "action revert failed",
            policy=incident.status.policy,
            action=record.action,
            step=record.index,
            error=message,
        )
        return await self._update_action(
            incident,
            record.index,
            result=f"{record.result}; revert failed: {message}",
            revert_at=None,
            event=(reasons.ACTION_FAILED, f"revert failed: {message}"),
        )

    @staticmethod
    def _wait_until(at: datetime, now: datetime) -> Wait:
        """Wait for a wall-clock time (as the status records it) on the monotonic clock."""
        return Wait(time.monotonic() + max(0.0, (at - now).total_seconds()))

    async def _revert_due(self, incident: Incident, now: datetime) -> Incident | Wait:
        """The first Applied action whose `revertAt` has come, reverted. Wait(at): a revert
        the cluster refused for now, tried again then; a 403 for `forbidden_grace_seconds`
        from when the revert came due, then it fails as any other refusal does."""
        for record in incident.status.actions:
            if record.state != "Applied" or record.revert_at is None or now < record.revert_at:
                continue
            if record.revert is None:
                continue
            await self._flush(incident.metadata.namespace, incident.metadata.name)
            try:
                outcome = await self.executor.revert(
                    incident.metadata.namespace, record.action, record.target, record.revert
                )
            except NotNow as e:
                message = self._refused_too_long(e, record.revert_at, now)
                if message is None:
                    return await self._deferred(incident, e, now)
                return await self._revert_failed(incident, record, message)
            except ActionFailed as e:
                return await self._revert_failed(incident, record, e.message)
            return await self._update_action(
                incident,
                record.index,
                state="Reverted",
                result=f"{record.result}; {outcome.result}",
                event=(reasons.ACTION_REVERTED, outcome.result),
            )
        return Wait()
