"""Drives one Incident through its lifecycle: gather inputs, let the core decide, act, record.

Each call reads the Incident and everything its next decision needs fresh from the API
(policies, approvals, other Incidents for the guards, the global pause switch), so the
outcome never depends on what this process remembers: an operator that restarts, or a
second replica that takes over, continues exactly where the status says the incident is.
Transitions are decided in memory and written to the Incident's status in as few writes as
the safety of the change allows (`_save`, `_flush`): always before anything outside the
Incident changes — so the planned desired state and the `Applying` mark are stored before
the action — and at the end of every reconcile. What one write stored is then told as one
Kubernetes Event on the Incident (and to the policy's webhook, when it asks to be told).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from pydantic import ValidationError

from . import metrics
from .adapters import notify
from .adapters.kube import KubeClient, KubeError
from .adapters.prometheus import PromClient, PrometheusUnavailable, PromQLError
from .core import (
    checks,
    gating,
    guards,
    ledger,
    lifecycle,
    matching,
    notifications,
    planning,
    reasons,
    stamps,
    status_seal,
    targets,
)
from .core.alerts import UNKNOWN_SEVERITY_ANNOTATION
from .core.models import (
    ActionRecord,
    Approval,
    ApprovalRecord,
    Guards,
    Incident,
    IncidentStatus,
    Phase,
    PlannedStep,
    RemediationPolicy,
    TargetRef,
    VerificationStatus,
    parse_duration,
)
from .executor import ActionFailed, Executor, NotNow, webhook_url
from .view import HORIZON, ClusterView, IncidentSummary, summarize

if TYPE_CHECKING:
    from .bridge import BridgeConfig

log = structlog.get_logger("remediator.reconciler")

DONE_STATES = ("Applied", "Skipped", "DryRun", "Reverted")
WARNING_REASONS = frozenset(
    {
        reasons.REJECTED,
        reasons.ACTION_FAILED,
        reasons.ESCALATED,
        reasons.APPROVAL_DEADLINE_PASSED,
        reasons.VERIFICATION_FAILED,
        reasons.NOTIFICATION_FAILED,
    }
    | reasons.GUARD_REASONS
    | reasons.PLANNING_REASONS
)
MAX_STEPS = 32
OWN_WRITES_KEPT = 1024  # incidents with unconfirmed own writes before old ones are dropped
EVENT_REASONS = "remediator.dev/reasons"  # on an Event telling several decisions: their reasons
NOT_REVERTED_ON_FAILURE = frozenset({"isolatePods"})


@dataclass(frozen=True)
class OperatorConfig:
    """Settings of this operator process (`remediator run` flags)."""

    namespace: str = "remediator-system"  # where ConfigMap remediator-config lives
    config_map: str = "remediator-config"
    protected_namespaces: frozenset[str] = frozenset(
        {"kube-system", "kube-public", "kube-node-lease"}
    )
    max_concurrent: int = 5
    dry_run: bool = False
    timezone: str = "UTC"
    identity: str = "remediator"
    tick_seconds: float = 1.0
    resync_seconds: float = 30.0  # the ticker's full LIST of incidents (safety net)
    approval_key: bytes = b""  # seals approver identities; shared by all replicas (a Secret)
    webhook_managed: bool = False  # register the admission webhooks (Kopf manages the config)
    webhook_port: int | None = None  # None: a free port
    webhook_host: str = "127.0.0.1"
    webhook_url_host: str | None = None
    webhook_insecure: bool = False
    webhook_cert: str | None = None
    webhook_key: str | None = None
    # Upper bound on the wait before retrying a "not now" (PDB refusal, MaxConcurrent).
    retry_seconds: float = 5.0
    # Prometheus for policies' preconditions and verify checks; None: such policies fail
    # closed (Blocked before acting, Escalated after).
    prometheus_url: str | None = None
    # The Alertmanager bridge served inside the operator (`run --bridge-port`); None: not.
    bridge: BridgeConfig | None = None
    # Attempts per webhook notification (exponential backoff in between).
    notify_attempts: int = 3
    # Hosts notifications may reach although they resolve to link-local addresses.
    notify_allowed_hosts: frozenset[str] = frozenset()
    # Identities allowed to create Incidents under the bridge's names (`am-…`); empty: the
    # names are not reserved at admission (the bridge still never takes over an Incident
    # it did not write, see `bridge`).
    bridge_users: frozenset[str] = frozenset()
    # Prometheus exposition (`GET /metrics`, `run --metrics-port`); None: not served.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"


@dataclass
class Wait:
    """Nothing to do until `at` (monotonic seconds) or an outside change."""

    at: float | None = None


@dataclass
class Unsaved:
    """Decisions about one Incident not yet written: its status as decided, the Events that
    tell them and what must happen only once they are stored (metrics, notifications)."""

    incident: Incident
    events: list[tuple[str, str]] = field(default_factory=list)
    after: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)


@dataclass
class Reconciler:
    kube: KubeClient
    config: OperatorConfig = field(default_factory=OperatorConfig)
    # one lock per incident being reconciled, with how many hold or wait for it (an entry
    # lives only that long: thousands of finished incidents keep none)
    _locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = field(default_factory=dict)
    retry_at: dict[tuple[str, str], float] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)  # notifications in flight
    _unsaved: dict[tuple[str, str], Unsaved] = field(default_factory=dict)
    # resourceVersions of this process's status writes whose watch events have not come yet
    _own: dict[tuple[str, str], list[tuple[str, float]]] = field(default_factory=dict)
    # the watched incidents and policies (`informer`), with this process's writes (see `view`)
    view: ClusterView = field(default_factory=ClusterView)
    # the guard ledger (`core.ledger`) as last read, with this process's writes since
    _ledger: dict[str, ledger.Entry] = field(default_factory=dict)
    _ledger_read_at: float | None = None

    def __post_init__(self) -> None:
        self.executor = Executor(
            self.kube,
            notify_attempts=self.config.notify_attempts,
            notify_allowed_hosts=self.config.notify_allowed_hosts,
        )
        self.prom: PromClient | None = (
            PromClient(self.config.prometheus_url) if self.config.prometheus_url else None
        )

    @contextlib.asynccontextmanager
    async def lock(self, namespace: str, name: str) -> AsyncIterator[None]:
        """Hold the incident: one reconcile (or notification note) at a time."""
        key = (namespace, name)
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def busy(self, namespace: str, name: str) -> bool:
        """Whether a reconcile holds (or waits for) the incident now."""
        return (namespace, name) in self._locks

    # ------------------------------------------------------------------ entry point
    async def reconcile(
        self, namespace: str, name: str, *, body: dict[str, Any] | None = None
    ) -> None:
        """Advance the incident as far as it can go now; safe to call any number of times.
        Every log line on the way is bound to the incident (and its policy, once known).

        `body`: the incident as a watch event delivered it. It is used in place of a GET
        only when this process has written nothing since that the watch has not delivered
        yet (else it may be older than what this process itself stored)."""
        async with self.lock(namespace, name):
            if body is not None and self._own.get((namespace, name)):
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
        if len(self._own) > OWN_WRITES_KEPT:
            # writes whose events were consumed before the write's answer came (the
            # reconcile then read the incident again) or never came: no longer waited for
            for key, mine in list(self._own.items()):
                mine[:] = [(w, at) for w, at in mine if now - at < HORIZON]
                if not mine:
                    del self._own[key]

    def retry_later(self, namespace: str, name: str, seconds: float) -> None:
        """Have the ticker reconcile the incident again in `seconds` (after a failure)."""
        self.retry_at[(namespace, name)] = time.monotonic() + seconds

    def forget(self, namespace: str, name: str) -> None:
        """The incident is gone: drop everything this process keeps about it."""
        self.retry_at.pop((namespace, name), None)
        self._own.pop((namespace, name), None)
        metrics.INCIDENTS.forget(namespace, name)
        self.view.forget(namespace, name)

    async def _reconcile(self, namespace: str, name: str, body: dict[str, Any] | None) -> None:
        if body is None:
            body = await self.kube.get_custom(namespace, "incidents", name)
        if body is None:
            self.forget(namespace, name)
            return
        incident = Incident.model_validate(body)
        if not await self._sealed(incident):
            await self._refuse_unsealed(incident, datetime.now(UTC))
            return
        policy = {"policy": incident.status.policy} if incident.status.policy else {}
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

    async def _sealed(self, incident: Incident) -> bool:
        """Whether the status is one this operator wrote for this incident, or one nobody
        has decided anything in yet. A status that looks untouched while the guard ledger
        holds actions of this incident was reset by someone: planning it again would act
        again, its own past actions not counting against it."""
        if status_seal.verifies(self.config.approval_key, incident):
            return True
        if not status_seal.untouched(incident.status):
            return False
        uid = incident.metadata.uid
        return not any(e.key.startswith(f"{uid}.") for e in await self._ledger_entries())

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

    # ---------------------------------------------------------------------- steps
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
            why = planning.rebind_reason(incident, await self._policy_of(incident))
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
            return await self._verify(incident, now)
        return await self._revert_due(incident, now)

    async def _replan(self, incident: Incident, why: str, now: datetime) -> Incident:
        """Back to Pending with no plan: the spec or the policy changed before anything was
        done. The next plan hashes differently, so approvals of this one no longer count."""
        old = incident.status.plan
        status = incident.status.model_copy(
            update={
                "plan": None,
                "action": None,
                "actions": [],
                "respond_by": None,
                "verification": None,
            }
        )
        return await self._transition(
            incident.model_copy(update={"status": status}),
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
            status = incident.status.model_copy(update={"policy": policy_name})
            incident = incident.model_copy(update={"status": status})
            try:
                target = targets.resolve_target(incident, policy)
                observed = await self._observe(namespace, target, policy)
                if observed.workload is not None:
                    targets.check_bounds(policy, target, observed.workload)
                plan = planning.plan(incident, policy, target, observed, now)
            except (planning.PlanningError, targets.TargetError) as e:
                if e.reason in reasons.FALL_THROUGH and rank + 1 < len(candidates):
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
        status = status.model_copy(
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

    async def _gate(self, incident: Incident, now: datetime) -> Incident | Wait:
        policy = await self._policy_of(incident)
        if policy is None:
            return await self._transition(
                incident,
                "Blocked",
                reasons.INVALID_POLICY,
                f"policy {incident.status.policy} is gone or no longer valid",
                now,
            )
        verdict = await self._guards(incident, policy, now)
        if verdict is not None:
            return verdict
        if policy.spec.dry_run or self.config.dry_run:
            return await self._remediate(incident, now, dry_run=True)
        rule = gating.approval_rule(policy, incident.spec.severity)
        if rule.mode == "notifyOnly":
            return await self._transition(
                incident,
                "DryRun",
                reasons.NOTIFY_ONLY,
                f"approval mode for {incident.spec.severity} is notifyOnly: the plan is recorded "
                "and no change is made",
                now,
            )
        if rule.mode == "required":
            deadline = incident.status.respond_by
            return await self._transition(
                incident,
                "AwaitingApproval",
                reasons.AWAITING_APPROVAL,
                f"{incident.spec.severity} needs {rule.approvers} approval(s) of plan "
                f"{incident.status.plan.hash if incident.status.plan else '?'}"
                + (f" by {deadline.isoformat()}" if deadline else ""),
                now,
            )
        return await self._transition(
            incident,
            "Remediating",
            reasons.AUTO_APPROVED,
            f"approval mode for {incident.spec.severity} is auto",
            now,
        )

    async def _guards(
        self, incident: Incident, policy: RemediationPolicy, now: datetime
    ) -> Incident | Wait | None:
        namespace = incident.metadata.namespace
        target = targets.resolve_target(incident, policy)
        history, active = await self._guard_inputs(
            namespace, f"{target.kind}/{target.name}", policy.metadata.name
        )
        config = guards.GlobalConfig(
            paused=await self._paused(),
            protected_namespaces=self.config.protected_namespaces,
            max_concurrent=self.config.max_concurrent,
            dry_run=self.config.dry_run,
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
            return await self._preconditions(incident, policy, now)
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
            return await self._transition(
                incident,
                "Blocked",
                reasons.INVALID_POLICY,
                f"policy {incident.status.policy} is gone or no longer valid",
                now,
            )
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
                # The action goes into the guard ledger, then the intent into the status,
                # before the change: a crash from here on resumes with a re-apply, which is a
                # no-op when the change already happened, and deleting the incident does not
                # erase what it did from the cooldowns and rate limits.
                await self._record_in_ledger(incident, step, record.started_at or now)
                incident = await self._update_action(
                    incident,
                    step.index,
                    state="Applying",
                    started_at=record.started_at or now,
                )
                await self._flush(incident.metadata.namespace, incident.metadata.name)
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
                key = (incident.metadata.namespace, incident.metadata.name)
                self.retry_at[key] = time.monotonic() + min(
                    e.retry_after, self.config.retry_seconds
                )
                last = incident.status.timeline[-1] if incident.status.timeline else None
                if last is None or (last.reason, last.message) != (
                    reasons.ACTION_DEFERRED,
                    e.message,
                ):  # one note per distinct refusal, not one per retry
                    await self._note(incident, reasons.ACTION_DEFERRED, e.message, now)
                return Wait(self.retry_at[key])
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
            status = incident.status.model_copy(update={"verification": verification})
            return await self._transition(
                incident.model_copy(update={"status": status}),
                "Verifying",
                reasons.VERIFYING,
                f"{results}; verifying {checks.describe(check)} every {check.interval} "
                f"for up to {check.within}",
                now,
            )
        return await self._transition(incident, "Remediated", reasons.REMEDIATED, results, now)

    # ------------------------------------------------------------- Prometheus checks
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
        status = incident.status.model_copy(update={"verification": verification})
        incident = incident.model_copy(update={"status": status})
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
        only its own `revertAfter`, or a human, removes it."""
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
            except ActionFailed as e:
                metrics.observe_action(record.action, "RevertFailed")
                log.warning(
                    "action revert failed",
                    policy=incident.status.policy,
                    action=record.action,
                    step=record.index,
                    error=e.message,
                )
                incident = await self._update_action(
                    incident,
                    record.index,
                    result=f"{record.result}; revert failed: {e.message}",
                    event=(reasons.ACTION_FAILED, f"revert failed: {e.message}"),
                )
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

    @staticmethod
    def _wait_until(at: datetime, now: datetime) -> Wait:
        """Wait for a wall-clock time (as the status records it) on the monotonic clock."""
        return Wait(time.monotonic() + max(0.0, (at - now).total_seconds()))

    async def _revert_due(self, incident: Incident, now: datetime) -> Incident | Wait:
        for record in incident.status.actions:
            if record.state != "Applied" or record.revert_at is None or now < record.revert_at:
                continue
            if record.revert is None:
                continue
            await self._flush(incident.metadata.namespace, incident.metadata.name)
            outcome = await self.executor.revert(
                incident.metadata.namespace, record.action, record.target, record.revert
            )
            return await self._update_action(
                incident,
                record.index,
                state="Reverted",
                result=f"{record.result}; {outcome.result}",
                event=(reasons.ACTION_REVERTED, outcome.result),
            )
        return Wait()

    # ----------------------------------------------------------------- inputs
    async def _guard_inputs(
        self, namespace: str, target: str, policy: str
    ) -> tuple[list[guards.PastAction], int]:
        """The actions taken in the namespace on `target` or under `policy` (the ones that
        can refuse) and the remediations running everywhere.

        The history comes from the guard ledger alone: every action is written there as it
        starts, by the operator only, and stays when its Incident is deleted. Incidents'
        statuses are not counted: whoever may write a status could make up past actions
        there and block a remediation with them."""
        if self.view.usable:
            active = self.view.active_remediations()
        else:
            active = guards.active_remediations(await self._incidents(None))
        history = [
            e.action
            for e in await self._ledger_entries()
            if e.action.namespace == namespace
            and (e.action.target == target or e.action.policy == policy)
        ]
        return history, active

    async def _ledger_entries(self) -> list[ledger.Entry]:
        """The ledger, read again from the API when older than the resync interval (another
        replica may have written it) and kept with this process's own writes meanwhile."""
        now = time.monotonic()
        if self._ledger_read_at is None or now - self._ledger_read_at > self.config.resync_seconds:
            configmap = await self.kube.get_configmap(self.config.namespace, ledger.CONFIG_MAP)
            self._ledger = ledger.decode((configmap or {}).get("data") or {})
            self._ledger_read_at = now
        return list(self._ledger.values())

    async def _record_in_ledger(
        self, incident: Incident, step: PlannedStep, started: datetime
    ) -> None:
        """Write the action's ledger entry (dropping expired ones on the way); fails, and
        so stops the action, when the ledger cannot be written."""
        policy = await self._policy_of(incident)
        cooldown = (policy.spec.guards if policy else Guards()).cooldown
        meta = incident.metadata
        new = ledger.entry(
            uid=meta.uid,
            index=step.index,
            namespace=meta.namespace,
            incident=meta.name,
            policy=incident.status.policy or "",
            target=step.target,
            at=started,
            cooldown_seconds=parse_duration(cooldown),
        )
        await self._ledger_entries()
        gone = ledger.expired(self._ledger.values(), datetime.now(UTC))
        data: dict[str, str | None] = dict.fromkeys(gone)
        data[new.key] = ledger.encode(new)
        await self.kube.merge_configmap(self.config.namespace, ledger.CONFIG_MAP, data)
        for key in gone:
            self._ledger.pop(key, None)
        self._ledger[new.key] = new

    async def _policies(self, namespace: str, alertname: str) -> list[RemediationPolicy]:
        """The valid policies of the namespace that may match an alert of this name."""
        if self.view.usable:
            return self.view.candidates(namespace, alertname)
        valid = []
        for body in await self.kube.list_custom("remediationpolicies", namespace):
            try:
                valid.append(RemediationPolicy.model_validate(body))
            except ValidationError:
                continue  # reported on the policy itself by its own handler
        return valid

    async def _policy_of(self, incident: Incident) -> RemediationPolicy | None:
        if not incident.status.policy:
            return None
        if self.view.usable:
            return self.view.policy(incident.metadata.namespace, incident.status.policy)
        # Until the watch-fed view is filled, list (the verb Kopf's watch already needs)
        # rather than get: the operator's role grants nothing on policies beyond that.
        for body in await self.kube.list_custom("remediationpolicies", incident.metadata.namespace):
            if (body.get("metadata") or {}).get("name") != incident.status.policy:
                continue
            try:
                return RemediationPolicy.model_validate(body)
            except ValidationError:
                return None
        return None

    async def _approvals(self, namespace: str) -> list[Approval]:
        """Approvals of the namespace; an approver whose seal does not verify is dropped, so
        the approval counts as unverified (never as whoever it claims to be)."""
        approvals = []
        for body in await self.kube.list_custom("approvals", namespace):
            try:
                approval = Approval.model_validate(body)
            except ValidationError:
                continue
            spec = approval.spec
            sealed = stamps.verify(
                self.config.approval_key,
                approval.metadata.annotations.get(stamps.ANNOTATION),
                namespace=namespace,
                incident=spec.incident,
                decision=spec.decision,
                plan_hash=spec.plan_hash,
                approver=spec.approver or "",
                groups=spec.approver_groups,
            )
            if spec.approver and not sealed:
                approval = approval.model_copy(
                    update={"spec": spec.model_copy(update={"approver": None})}
                )
            approvals.append(approval)
        return approvals

    async def _incidents(self, namespace: str | None) -> list[Incident]:
        incidents = []
        for body in await self.kube.list_custom("incidents", namespace):
            try:
                incidents.append(Incident.model_validate(body))
            except ValidationError:
                continue
        return incidents

    async def _paused(self) -> bool:
        configmap = await self.kube.get_configmap(self.config.namespace, self.config.config_map)
        data = (configmap or {}).get("data") or {}
        return str(data.get("paused", "false")).lower() == "true"

    async def _observe(
        self, namespace: str, target: TargetRef, policy: RemediationPolicy
    ) -> planning.Observed:
        workload = await self.kube.get_workload(target.kind, namespace, target.name)
        if workload is None:
            raise targets.TargetError(
                reasons.TARGET_NOT_FOUND, f"{target.kind}/{target.name} not found in {namespace}"
            )
        selector = _selector(workload)
        actions = {s.action for s in policy.spec.steps}
        replicasets: tuple[dict[str, Any], ...] = ()
        pods: tuple[dict[str, Any], ...] = ()
        hpa = None
        uid = workload["metadata"].get("uid")
        if "rollback" in actions:
            replicasets = tuple(
                rs
                for rs in await self.kube.list_replicasets(namespace, selector)
                if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])
            )
        if "restartPods" in actions:
            pods = tuple(await self.kube.list_pods(namespace, selector))
        if "scale" in actions:
            for candidate in await self.kube.list_hpas(namespace):
                ref = candidate.get("spec", {}).get("scaleTargetRef", {})
                if ref.get("kind") == target.kind and ref.get("name") == target.name:
                    hpa = candidate
        config_maps = {}
        for step in policy.spec.steps:
            if step.action == "circuitBreaker" and step.config_map:
                config_maps[step.config_map] = await self.kube.get_configmap(
                    namespace, step.config_map
                )
        cron_jobs: tuple[dict[str, Any], ...] = ()
        if "suspendCronJobs" in actions:  # planning.select_cron_jobs picks among them
            cron_jobs = tuple(await self.kube.list_cronjobs(namespace))
        return planning.Observed(
            workload=workload,
            replicasets=replicasets,
            pods=pods,
            hpa=hpa,
            config_maps=config_maps,
            cron_jobs=cron_jobs,
        )

    # ---------------------------------------------------------------- outputs
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

    # ------------------------------------------------------------- notifications
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
        try:
            url = await webhook_url(self.kube, meta.namespace, ref)
            code = await notify.post_json(
                url,
                body,
                attempts=self.config.notify_attempts,
                allowed_hosts=self.config.notify_allowed_hosts,
            )
        except ActionFailed as e:
            error = e.message
        except notify.NotifyError as e:
            error = e.message
        except KubeError as e:
            error = str(e)
        else:
            log.info("notification sent", incident=meta.name, phase=phase, status=code)
            await self._event(
                incident,
                reasons.NOTIFICATION_SENT,
                f"{phase} notified to {notify.redact(url)} (Secret {ref['name']})",
            )
            return
        log.warning("notification not sent", incident=meta.name, phase=phase, error=error)
        async with self.lock(meta.namespace, meta.name):
            current = await self.kube.get_custom(meta.namespace, "incidents", meta.name)
            if current is None:
                return
            await self._note(
                Incident.model_validate(current),
                reasons.NOTIFICATION_FAILED,
                f"notification of {phase} not sent (Secret {ref['name']}): {error}",
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
            status = incident.status.model_copy(
                update={"observed_generation": incident.metadata.generation}
            )
            incident = incident.model_copy(update={"status": status})
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


def _started(status: IncidentStatus) -> bool:
    """Whether any action of the plan has begun (from then on the plan is carried out as
    approved, whatever changes)."""
    return any(a.state != "Pending" for a in status.actions)


def _selector(workload: dict[str, Any]) -> str:
    labels = (workload.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
