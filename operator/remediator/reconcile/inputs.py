"""What a decision reads: policies, approvals, the workload and what it owns, the pause
switch, and the guard ledger (and the one write to it, as an action starts). Called by the
phases; it decides nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import ValidationError

from ..core import (
    approval_seal,
    guards,
    ledger,
    planning,
    reasons,
    targets,
)
from ..core.models import (
    Approval,
    Guards,
    Incident,
    PlannedStep,
    RemediationPolicy,
    TargetRef,
    parse_duration,
)
from ..view import paused
from .state import DONE_STATES, State

log = structlog.get_logger("remediator.reconciler")


class Inputs(State):
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
        entries = await self._ledger_entries()
        history = [e.action for e in entries.concerning(namespace, target, policy)]
        return history, active

    async def _ledger_entries(self) -> ledger.Index:
        """The ledger, read again from the API when older than the resync interval (another
        replica may have written it) and kept with this process's own writes meanwhile.

        One read at a time: the decisions that find it stale together (a storm: hundreds)
        wait for the same read rather than each GETting and decoding thousands of entries."""
        now = time.monotonic()
        if self._ledger_read_at is not None and now - self._ledger_read_at <= (
            self.config.resync_seconds
        ):
            return self._ledger
        if self._ledger_reading is None or self._ledger_reading.done():
            self._ledger_reading = asyncio.ensure_future(self._read_ledger())
        await asyncio.shield(self._ledger_reading)
        return self._ledger

    async def _read_ledger(self) -> None:
        before = self._ledger.keys()
        namespace = self.config.namespace
        read = await asyncio.gather(
            *(self.kube.get_configmap(namespace, name) for name in ledger.CONFIG_MAPS)
        )
        entries: dict[str, ledger.Entry] = {}
        home: dict[str, str] = {}
        for name, configmap in zip(ledger.CONFIG_MAPS, read, strict=True):
            stored = ledger.decode((configmap or {}).get("data") or {})
            entries.update(stored)
            home.update(dict.fromkeys(stored, name))
        self._ledger_shards = tuple(
            name for name, configmap in zip(ledger.CONFIG_MAPS, read, strict=True) if configmap
        ) or (ledger.CONFIG_MAP,)
        # keys this process stored meanwhile keep the home they were written to
        homes = {**self._ledger_home, **home}
        # what this process has not stored yet, or counted while the read was on its way,
        # stays counted (the answer may predate its write)
        for key in (self._ledger_pending | (self._ledger.keys() - before)) & self._ledger.keys():
            entries.setdefault(key, self._ledger[key])
        self._ledger = ledger.Index(entries.values())
        self._ledger_home = {key: name for key, name in homes.items() if key in self._ledger}
        self._ledger_read_at = time.monotonic()

    async def _reserve_in_ledger(
        self, incident: Incident, step: PlannedStep, started: datetime
    ) -> ledger.Entry:
        """Count the action in this process's guards from now on, before it is stored
        anywhere: two incidents on one target never both pass while the first one's entry
        is on its way (`_write_to_ledger` stores it)."""
        policy = await self._policy_of(incident)
        cooldown = (policy.spec.guards if policy else Guards()).cooldown
        meta = incident.metadata
        new = _entry(incident, step, started, parse_duration(cooldown))
        await self._ledger_entries()
        if new.key not in self._ledger or new.key in self._ledger_pending:
            # (stored already, on a resume: it stays counted whatever happens now)
            self._ledger.put(new)
            self._ledger_pending.add(new.key)
        held = self._held.get((meta.namespace, meta.name), [])
        if new.key in held:
            held.remove(new.key)  # taken over: released, if at all, with the action
        return new

    def _hold_in_ledger(self, incident: Incident, policy: RemediationPolicy, now: datetime) -> None:
        """Count the plan's actions in this process's guards from the moment its guards
        passed, before anything else is awaited: incidents that pass together cannot all go
        on while each is still on its way to acting (re-planning, evidence, the status
        write). `_remediate` takes each entry over as it starts the action; what is still
        held when the reconcile ends is released (`_unhold`)."""
        plan = incident.status.plan
        if plan is None:
            return
        meta = incident.metadata
        cooldown = parse_duration(policy.spec.guards.cooldown)
        held = self._held.setdefault((meta.namespace, meta.name), [])
        for step in plan.steps:
            record = incident.status.actions[step.index]
            if record.state in DONE_STATES:
                continue
            new = _entry(incident, step, record.started_at or now, cooldown)
            if new.key in self._ledger and new.key not in self._ledger_pending:
                continue  # stored already: it counts
            self._ledger.put(new)
            self._ledger_pending.add(new.key)
            if new.key not in held:
                held.append(new.key)

    def _unhold(self, namespace: str, name: str) -> None:
        """Release what the incident's guards held and its actions did not take over."""
        for key in self._held.pop((namespace, name), []):
            if key in self._ledger_pending:
                self._ledger_pending.discard(key)
                self._ledger.pop(key)

    def _release_from_ledger(self, entry: ledger.Entry) -> None:
        """The action was not started after all: it no longer counts (if not stored)."""
        if entry.key in self._ledger_pending:
            self._ledger_pending.discard(entry.key)
            self._ledger.pop(entry.key)

    async def _stored_in_ledger(self, uid: str) -> bool:
        """Whether the stored ledger holds an action of the incident with this uid."""
        entries = await self._ledger_entries()
        return any(key not in self._ledger_pending for key in entries.keys_of(uid))

    async def _write_to_ledger(self, entry: ledger.Entry) -> None:
        """Store the entry (dropping expired ones on the way); fails, and so stops the
        action, when the ledger cannot be written. Written again on a resume: its key is
        the incident's uid and the step, so a second write changes nothing.

        One write at a time per ConfigMap of the ledger, of every entry waiting for it:
        concurrent patches of one ConfigMap contend for one etcd key in kube-apiserver (in
        the bench its PATCH took 4.4 s at the median, a quarter answered 504, and the
        hanging patches held the client's connections), so the entries that arrive while a
        write is on its way go together in the next one; the ledger's several ConfigMaps
        (`ledger.CONFIG_MAPS`) are written side by side. Each caller returns once its own
        entry is stored, or raises what the write of its batch raised."""
        shard = self._ledger_home.get(entry.key) or ledger.shard_of(entry.key, self._ledger_shards)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ledger_waiting.setdefault(shard, {})[entry.key] = (ledger.encode(entry), done)
        async with self._ledger_writers.setdefault(shard, asyncio.Lock()):
            if not done.done():
                batch = self._ledger_waiting.pop(shard, {})
                gone = [
                    key
                    for key in ledger.expired(self._ledger.values(), datetime.now(UTC))
                    if self._ledger_home.get(key) == shard
                ]
                data: dict[str, str | None] = dict.fromkeys(gone)
                data.update({key: encoded for key, (encoded, _) in batch.items()})
                try:
                    await self.kube.merge_configmap(self.config.namespace, shard, data)
                except asyncio.CancelledError:
                    # this caller is gone; the others' entries go in the next one's write
                    waiting = self._ledger_waiting.setdefault(shard, {})
                    self._ledger_waiting[shard] = {**batch, **waiting}
                    raise
                except Exception as e:
                    for _, waiting_for in batch.values():
                        if not waiting_for.done():
                            waiting_for.set_exception(e)
                else:
                    for key in gone:
                        self._ledger.pop(key)
                        self._ledger_home.pop(key, None)
                    for key, (_, waiting_for) in batch.items():
                        self._ledger_pending.discard(key)
                        self._ledger_home[key] = shard
                        if not waiting_for.done():
                            waiting_for.set_result(None)
        await done

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
            sealed = approval_seal.verify(
                self.config.approval_key,
                approval.metadata.annotations.get(approval_seal.ANNOTATION),
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
        """The pause switch: from its watch while that is current, else from the API."""
        known = self.view.paused()
        if known is not None:
            return known
        return paused(await self.kube.get_configmap(self.config.namespace, self.config.config_map))

    async def _observe(
        self, namespace: str, target: TargetRef, policy: RemediationPolicy
    ) -> planning.Observed:
        workload = await self.kube.get_workload(target.kind, namespace, target.name)
        if workload is None:
            raise targets.TargetError(
                reasons.TARGET_NOT_FOUND, f"{target.kind}/{target.name} not found in {namespace}"
            )
        selector = targets.workload_selector(workload)
        actions = {s.action for s in policy.spec.steps}
        replicasets: tuple[dict[str, Any], ...] = ()
        pods: tuple[dict[str, Any], ...] = ()
        hpa = None
        uid = workload["metadata"].get("uid")
        # a workload that selects nothing has no pods or ReplicaSets of its own to list
        if "rollback" in actions and selector is not None:
            replicasets = tuple(
                rs
                for rs in await self.kube.list_replicasets(namespace, selector)
                if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])
            )
        if "restartPods" in actions and selector is not None:
            pods = tuple(await self.kube.list_pods(namespace, selector))
        if "scale" in actions:
            hpas = self.view.hpas(namespace)
            if hpas is None:
                hpas = await self.kube.list_hpas(namespace)
            for candidate in hpas:
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


def _entry(incident: Incident, step: PlannedStep, at: datetime, cooldown: float) -> ledger.Entry:
    """The ledger's entry of one planned action of the incident, started at `at`."""
    meta = incident.metadata
    return ledger.entry(
        uid=meta.uid,
        index=step.index,
        namespace=meta.namespace,
        incident=meta.name,
        policy=incident.status.policy or "",
        target=step.target,
        at=at,
        cooldown_seconds=cooldown,
    )
