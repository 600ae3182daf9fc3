"""Recording decisions: transitions and notes are kept in memory (`_save`) and written in one
status patch (`_flush`) before anything outside the Incident changes and when a reconcile
ends; what one write stored is told as one Event, and to the policy's webhook when it asks.
The status is sealed as it is written (`core.status_seal`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from .. import metrics
from ..adapters import notify
from ..adapters.kube import KubeError
from ..core import (
    lifecycle,
    notifications,
    reasons,
    status_seal,
)
from ..core.models import (
    Incident,
    IncidentStatus,
    Phase,
)
from ..view import HORIZON, summarize
from .inputs import Inputs
from .state import EVENT_REASONS, OWN_WRITES_KEPT, WARNING_REASONS, Unsaved

log = structlog.get_logger("remediator.reconciler")


class Recording(Inputs):
    def own_write(self, namespace: str, name: str, rv: str) -> bool:
        """Whether a watch event delivers a status this process wrote (then forgotten,
        with any earlier one the watch folded into it)."""
        key = (namespace, name)
        mine = self._own.get(key)
        if not mine:
            return False
        now = time.monotonic()
        for index, (written, _) in enumerate(mine):
            if written == rv:
                del mine[: index + 1]
                break
        else:
            # a version from elsewhere; writes whose events never came (a watch that
            # restarted past them) stop counting after a while
            mine[:] = [(w, at) for w, at in mine if now - at < HORIZON]
            return False
        if not mine:
            del self._own[key]
        return True

    def _remember_own(self, namespace: str, name: str, rv: str) -> None:
        now = time.monotonic()
        self._own.setdefault((namespace, name), []).append((rv, now))
        self._last_write[(namespace, name)] = (rv, now)
        if len(self._own) > OWN_WRITES_KEPT:
            # writes whose events were consumed before the write's answer came (the
            # reconcile then read the incident again) or never came: no longer waited for
            for key, mine in list(self._own.items()):
                mine[:] = [(w, at) for w, at in mine if now - at < HORIZON]
                if not mine:
                    del self._own[key]
        if len(self._last_write) > OWN_WRITES_KEPT:
            for key, (_, at) in list(self._last_write.items()):
                if now - at >= HORIZON:
                    del self._last_write[key]

    def _may_be_stale(self, namespace: str, name: str, rv: str) -> bool:
        """Whether a watch event's body may be older than what this process stored: a write
        of its own is still to be delivered, or it wrote the incident lately and this is
        another version. (An event queued behind a reconcile's lock can come out after the
        event of that reconcile's last write was skipped: its body is then older, and acting
        on it would take a step again.)"""
        key = (namespace, name)
        if self._own.get(key):
            return True
        last = self._last_write.get(key)
        return last is not None and last[0] != rv and time.monotonic() - last[1] < HORIZON

    async def _transition(
        self,
        incident: Incident,
        to: Phase,
        reason: str,
        message: str,
        now: datetime,
        *,
        actor: str | None = None,
    ) -> Incident:
        status = lifecycle.transition(
            incident.status,
            to,
            reason,
            message,
            now,
            actor=actor or self.config.identity,
            generation=incident.metadata.generation,
        )
        status = status.model_copy(update={"observed_generation": incident.metadata.generation})
        log.info(
            "incident transition",
            incident=f"{incident.metadata.namespace}/{incident.metadata.name}",
            policy=status.policy,
            action=status.action,
            phase=to,
            reason=reason,
            actor=actor or self.config.identity,
            message=message,
        )
        saved = await self._save(incident, status, events=[(reason, message)])
        meta, spec = incident.metadata, incident.spec
        waited_since = next(
            (
                e.time
                for e in reversed(incident.status.timeline)
                if e.reason == reasons.AWAITING_APPROVAL
            ),
            None,
        )
        after = self._unsaved_of(saved).after
        after.append(
            lambda: metrics.observe_transition(
                meta.namespace,
                meta.name,
                previous=incident.status.phase,
                phase=to,
                reason=reason,
                severity=spec.severity,
                started=spec.starts_at or meta.creation_timestamp,
                waited_since=waited_since,
                respond_by=status.respond_by,
                now=now,
            )
        )
        after.append(lambda: self._notify_transition(saved, to, reason, message))
        return saved

    async def _notify_transition(
        self, incident: Incident, phase: Phase, reason: str, message: str
    ) -> None:
        """Start the policy's webhook notification of this phase, if it asks for one.

        Sent in the background: a slow or failing webhook never holds up the incident. A
        notification that cannot be sent (after the retries) is noted in the timeline."""
        if not incident.status.policy:
            return
        try:
            policy = await self._policy_of(incident)
        except KubeError as e:
            log.warning("notification skipped: policy unreadable", error=str(e))
            return
        wanted = policy.spec.notifications if policy is not None else None
        if wanted is None or phase not in wanted.events:
            return
        body = notifications.payload(
            incident,
            event=phase,
            text=notifications.transition_text(incident, phase, message),
            reason=reason,
            message=message,
        )
        task = asyncio.create_task(
            self._send_notification(incident, wanted.webhook_secret_ref.dump(), body, phase)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_notification(
        self, incident: Incident, ref: dict[str, Any], body: dict[str, Any], phase: str
    ) -> None:
        meta = incident.metadata
        delivery = await notify.deliver(
            self.kube,
            meta.namespace,
            ref,
            body,
            attempts=self.config.notify_attempts,
            allowed_hosts=self.config.notify_allowed_hosts,
        )
        if delivery.sent:
            log.info("notification sent", incident=meta.name, phase=phase, status=delivery.status)
            await self._event(incident, reasons.NOTIFICATION_SENT, f"{phase} {delivery.told}")
            return
        log.warning("notification not sent", incident=meta.name, phase=phase, error=delivery.told)
        async with self.lock(meta.namespace, meta.name):
            current = await self.kube.get_custom(meta.namespace, "incidents", meta.name)
            if current is None:
                return
            await self._note(
                Incident.model_validate(current),
                reasons.NOTIFICATION_FAILED,
                f"notification of {phase} {delivery.told}",
                datetime.now(UTC),
            )
            await self._flush(meta.namespace, meta.name)

    async def _note(self, incident: Incident, reason: str, message: str, now: datetime) -> Incident:
        status = lifecycle.note(incident.status, reason, message, now, actor=self.config.identity)
        return await self._save(incident, status, events=[(reason, message)])

    async def _update_action(
        self,
        incident: Incident,
        index: int,
        *,
        event: tuple[str, str] | None = None,
        **changes: Any,
    ) -> Incident:
        actions = list(incident.status.actions)
        before = actions[index]
        actions[index] = actions[index].model_copy(update=changes)
        status = incident.status.model_copy(update={"actions": actions})
        if event is not None:
            status = lifecycle.note(
                status, event[0], event[1], datetime.now(UTC), actor=self.config.identity
            )
        saved = await self._save(incident, status, events=[event] if event else [])
        after = actions[index]
        if after.state != before.state:
            log.info(
                f"action {after.state.lower()}",
                incident=f"{incident.metadata.namespace}/{incident.metadata.name}",
                policy=status.policy,
                action=after.action,
                step=index,
                target=after.target,
                state=after.state,
                result=after.result,
            )
            if after.state in metrics.ACTION_RESULTS:
                action, state = after.action, after.state
                self._unsaved_of(saved).after.append(lambda: metrics.observe_action(action, state))
        return saved

    async def _save(
        self, incident: Incident, status: IncidentStatus, *, events: Sequence[tuple[str, str]]
    ) -> Incident:
        """Decide: the incident now has this status. Written by the next `_flush` — before
        any change outside the Incident, and at the latest when the reconcile ends — so a
        remediation costs two status writes (intent, outcome) however many steps it takes.
        This process's guards see the decision at once (`view.wrote`)."""
        meta = incident.metadata
        decided = incident.model_copy(update={"status": status})
        unsaved = self._unsaved_of(incident)
        unsaved.incident = decided
        unsaved.events.extend(events)
        # no resourceVersion yet: it wins over the index until the write records its own
        self.view.wrote(summarize(meta.namespace, meta.name, "", status))
        return decided

    def _unsaved_of(self, incident: Incident) -> Unsaved:
        key = (incident.metadata.namespace, incident.metadata.name)
        unsaved = self._unsaved.get(key)
        if unsaved is None:
            unsaved = self._unsaved[key] = Unsaved(incident)
        return unsaved

    async def _flush(self, namespace: str, name: str) -> None:
        """Write what was decided about the incident in one status patch; then tell it: one
        Event for the write, metrics, the policy's notifications. Nothing is told of a
        decision that could not be stored (it is made again on the next attempt)."""
        unsaved = self._unsaved.pop((namespace, name), None)
        if unsaved is None:
            return
        incident = unsaved.incident
        if incident.status.observed_generation != incident.metadata.generation:
            # the spec this reconcile read has been seen (`needs_work` compares the two)
            incident = incident.with_status(observed_generation=incident.metadata.generation)
        # sealed last, over exactly what is written (see core.status_seal)
        status = status_seal.sealed(self.config.approval_key, incident, incident.status)
        incident = incident.model_copy(update={"status": status})
        try:
            saved = await self.kube.patch_status(namespace, "incidents", name, status.dump())
        except BaseException:
            self.view.forget_write(namespace, name)  # the index holds what is stored
            raise
        rv = str((saved or {}).get("metadata", {}).get("resourceVersion", ""))
        self.view.wrote(summarize(namespace, name, rv, incident.status))
        self._remember_own(namespace, name, rv)
        if unsaved.events:
            # Events are best effort (the status is the audit trail): posted in the
            # background, so that the next step does not wait for them.
            reason, message = merge_events(unsaved.events)
            told = [r for r, _ in unsaved.events]
            task = asyncio.create_task(self._event(incident, reason, message, told=told))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for after in unsaved.after:
            result = after()
            if result is not None:
                await result

    async def _event(
        self, incident: Incident, reason: str, message: str, *, told: Sequence[str] = ()
    ) -> None:
        """Post an Event on the incident; `told`: every decision's reason it tells, kept in
        an annotation when there is more than one (tools can select by any of them)."""
        meta = incident.metadata
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        metadata: dict[str, Any] = {
            # named like client-go names events, so a listing sorts them by time
            "name": f"{meta.name}.{time.time_ns():x}",
            "namespace": meta.namespace,
        }
        if len(told) > 1:
            metadata["annotations"] = {EVENT_REASONS: ",".join(told)}
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": metadata,
            "involvedObject": {
                "apiVersion": incident.api_version,
                "kind": "Incident",
                "name": meta.name,
                "namespace": meta.namespace,
                "uid": meta.uid,
                "resourceVersion": meta.resource_version,
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if reason in WARNING_REASONS else "Normal",
            "source": {"component": "remediator"},
            "reportingComponent": "remediator.dev/operator",
            "reportingInstance": self.config.identity,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            await self.kube.post_event(meta.namespace, event)
        except KubeError as e:  # the audit trail in status is authoritative; Events are best effort
            log.warning("event not posted", reason=reason, error=str(e))


def merge_events(events: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """One Event for the decisions one status write stored: named by the last warning among
    them (else the last decision), its message telling each decision in order."""
    if len(events) == 1:
        return events[0]
    warnings = [reason for reason, _ in events if reason in WARNING_REASONS]
    reason = warnings[-1] if warnings else events[-1][0]
    return reason, "; ".join(f"{r}: {m}" for r, m in events)
