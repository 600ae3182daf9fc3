"""One Incident through its phases: the entry point, the per-incident locks, this process's
own writes (so their watch events are skipped), and the step that picks the next phase's
work. Each call reads the Incident fresh, so an operator that restarts, or a replica that
takes over, continues where the status says the incident is."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import structlog

from .. import metrics
from ..core import bindings, reasons
from ..core.models import (
    Incident,
)
from ..view import IncidentSummary
from .act import _started
from .state import MAX_STEPS, Wait
from .verify import Verifying

log = structlog.get_logger("remediator.reconciler")


class Reconciler(Verifying):
    async def reconcile(
        self, namespace: str, name: str, *, body: dict[str, Any] | None = None
    ) -> None:
        """Advance the incident as far as it can go now; safe to call any number of times.
        Every log line on the way is bound to the incident (and its policy, once known).

        `body`: the incident as a watch event delivered it. It is used in place of a GET
        only when it cannot be older than what this process itself stored
        (`_may_be_stale`)."""
        async with self.lock(namespace, name):
            version = str(((body or {}).get("metadata") or {}).get("resourceVersion", ""))
            if body is not None and self._may_be_stale(namespace, name, version):
                body = None
            started = time.perf_counter()
            with structlog.contextvars.bound_contextvars(incident=f"{namespace}/{name}"):
                try:
                    try:
                        await self._reconcile(namespace, name, body)
                    finally:
                        # what was decided is stored even when a later step failed
                        await self._flush(namespace, name)
                except Exception:
                    metrics.RECONCILE_ERRORS.inc()
                    raise
                finally:
                    metrics.RECONCILE_DURATION.observe(time.perf_counter() - started)

    def retry_later(self, namespace: str, name: str, seconds: float) -> None:
        """Have the ticker reconcile the incident again in `seconds` (after a failure)."""
        self.retry_at[(namespace, name)] = time.monotonic() + seconds

    def forget(self, namespace: str, name: str) -> None:
        """The incident is gone: drop everything this process keeps about it."""
        self.retry_at.pop((namespace, name), None)
        self._own.pop((namespace, name), None)
        self._last_write.pop((namespace, name), None)
        metrics.INCIDENTS.forget(namespace, name)
        self.view.forget(namespace, name)

    async def _reconcile(self, namespace: str, name: str, body: dict[str, Any] | None) -> None:
        from_event = body is not None
        if body is None:
            body = await self.kube.get_custom(namespace, "incidents", name)
        if body is None:
            self.forget(namespace, name)
            return
        incident = Incident.model_validate(body)
        if not await self._sealed(incident) and from_event:
            # A watch far behind (past view.HORIZON) can deliver a body older than this
            # process's own writes, whose untouched status the ledger then contradicts: only
            # the stored one is judged.
            body = await self.kube.get_custom(namespace, "incidents", name)
            if body is None:
                self.forget(namespace, name)
                return
            incident = Incident.model_validate(body)
        if not await self._sealed(incident):
            await self._refuse_unsealed(incident, datetime.now(UTC))
            return
        policy = {"policy": incident.status.policy} if incident.status.policy else {}
        try:
            with structlog.contextvars.bound_contextvars(**policy):
                for _ in range(MAX_STEPS):
                    outcome = await self._step(incident)
                    if isinstance(outcome, Wait):
                        if outcome.at is None:
                            self.retry_at.pop((namespace, name), None)
                        else:
                            self.retry_at[(namespace, name)] = outcome.at
                        return
                    incident = outcome
        finally:
            self._unhold(namespace, name)  # what its guards held and no action took over

    def due(self, incident: Incident, now: datetime) -> bool:
        """Whether the ticker should look at this incident now (deadlines, retries, reverts)."""
        status = incident.status
        key = (incident.metadata.namespace, incident.metadata.name)
        if key in self.retry_at:
            return time.monotonic() >= self.retry_at[key]
        if status.phase in ("Pending", "Matched", "Remediating", "Verifying"):
            return True  # Verifying: its next poll is in retry_at, unless this process is new
        if status.phase == "AwaitingApproval":
            return status.respond_by is not None and now >= status.respond_by
        if status.phase in ("Remediated", "Resolved", "Escalated", "Failed"):
            return any(
                a.state == "Applied" and a.revert_at is not None and now >= a.revert_at
                for a in status.actions
            )
        return False

    def due_summary(self, summary: IncidentSummary, now: datetime) -> bool:
        """`due`, from the index's summary of the incident (the same rules)."""
        key = (summary.namespace, summary.name)
        if key in self.retry_at:
            return time.monotonic() >= self.retry_at[key]
        if summary.phase in ("Pending", "Matched", "Remediating", "Verifying"):
            return True
        if summary.phase == "AwaitingApproval":
            return summary.respond_by is not None and now >= summary.respond_by
        if summary.phase in ("Remediated", "Resolved", "Escalated", "Failed"):
            return any(now >= at for at in summary.revert_at)
        return False

    async def _step(self, incident: Incident) -> Incident | Wait:
        now = datetime.now(UTC)
        status = incident.status
        phase = status.phase
        resolved = incident.spec.alert_status == "resolved"
        if resolved and phase in ("Pending", "Matched", "AwaitingApproval"):
            return await self._transition(
                incident,
                "Resolved",
                reasons.RESOLVED,
                "the alert resolved before any action; nothing was changed",
                now,
            )
        if resolved and phase == "Remediated":
            return await self._transition(
                incident,
                "Resolved",
                reasons.RESOLVED,
                "the alert resolved after remediation",
                now,
            )
        if phase == "Pending":
            return await self._match(incident, now)
        if phase in ("Matched", "AwaitingApproval", "Remediating") and not _started(status):
            why = bindings.rebind_reason(incident, await self._policy_of(incident))
            if why is not None:
                return await self._replan(incident, why, now)
        if phase == "Matched":
            return await self._gate(incident, now)
        if phase == "AwaitingApproval":
            return await self._await_approval(incident, now)
        if phase == "Remediating":
            return await self._remediate(incident, now, dry_run=False)
        if phase == "Verifying":
            # A resolved alert does not end the verification: the check decides, and a
            # Remediated incident whose alert resolved becomes Resolved just after.
            reverted = await self._revert_due(incident, now)
            if isinstance(reverted, Incident):
                return reverted
            if reverted.at is not None:  # a revert refused for now: both go on at its retry
                return reverted
            return await self._verify(incident, now)
        return await self._revert_due(incident, now)
