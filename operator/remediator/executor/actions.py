"""The only place where a planned action touches the cluster.

Each action applies a desired state that was computed and stored in the Incident's status
before anything changed. Applying reads the target first and writes only when it differs
from the desired state, so applying the same step twice — after a crash, a retry or a
second operator replica — changes nothing the second time. Dry runs go through the same
path with the API server's `dryRun=All`, so they are validated by the server too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import aiohttp

from ..adapters import notify
from ..adapters.kube import JSON_PATCH, KubeClient, KubeError
from ..core import notifications, planning, reasons, targets
from ..core.models import Incident, PlannedStep, TargetBounds
from ..core.planning import semantic
from .common import (
    RESTARTED_AT,
    WORKLOAD_ACTIONS,
    ActionFailed,
    NotNow,
    Outcome,
    after,
    refused,
    split_target,
    webhook_url,
)
from .reverts import Reverting


class Executor(Reverting):
    def __init__(
        self,
        kube: KubeClient,
        *,
        notify_attempts: int = 3,
        notify_allowed_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self.kube = kube
        self.notify_attempts = notify_attempts
        self.notify_allowed_hosts = notify_allowed_hosts

    async def apply(
        self,
        namespace: str,
        step: PlannedStep,
        *,
        dry_run: bool,
        now: datetime,
        incident: Incident | None = None,
        bounds: TargetBounds | None = None,
    ) -> Outcome:
        """Apply one planned step. `bounds`: the policy's target bounds as the plan recorded
        them, checked once more on the live workload just before it is changed (its labels
        may have changed since planning)."""
        handler = {
            "rollback": self._rollback,
            "restartPods": self._restart,
            "scale": self._scale,
            "circuitBreaker": self._circuit_breaker,
            "suspendCronJobs": self._suspend_cron_jobs,
        }.get(step.action)
        try:
            if bounds is not None and step.action in WORKLOAD_ACTIONS:
                await self._within_bounds(namespace, step.target, bounds)
            if step.action == "isolatePods":
                outcome = await self._isolate(namespace, step, dry_run, now, incident)
            elif step.action == "notify":
                outcome = await self._notify(namespace, step, dry_run, incident)
            else:
                assert handler is not None, step.action
                outcome = await handler(namespace, step, dry_run, now)
        except KubeError as e:
            raise refused(e, step.target) from None
        except (TimeoutError, aiohttp.ClientError) as e:
            # No answer after the client's own retries: maybe applied, maybe not. The same
            # read-compare-write re-apply later tells which.
            raise NotNow(f"{step.target}: no answer from the API server ({e!r})") from None
        except notify.NotifyError as e:
            raise ActionFailed(reasons.ACTION_FAILED, f"{step.target}: {e.message}") from None
        return outcome

    async def _workload(self, namespace: str, target: str) -> tuple[str, str, dict[str, Any]]:
        kind, name = split_target(target)
        workload = await self.kube.get_workload(kind, namespace, name)
        if workload is None:
            raise ActionFailed(reasons.TARGET_NOT_FOUND, f"{target} not found in {namespace}")
        return kind, name, workload

    async def _within_bounds(self, namespace: str, target: str, bounds: TargetBounds) -> None:
        """ActionFailed (TargetNotAllowed) unless the live workload is within the bounds."""
        _, _, workload = await self._workload(namespace, target)
        why = targets.out_of_bounds(bounds, target, workload)
        if why is not None:
            raise ActionFailed(
                reasons.TARGET_NOT_ALLOWED, f"{why}: the policy may not act on it; nothing changed"
            )

    @staticmethod
    def _done(dry_run: bool, result: str, **kwargs: Any) -> Outcome:
        if dry_run:
            return Outcome("DryRun", f"would {result}", **kwargs)
        return Outcome("Applied", result, writes=1, **kwargs)

    # -------------------------------------------------------------------- rollback
    async def _rollback(
        self, namespace: str, step: PlannedStep, dry_run: bool, now: datetime
    ) -> Outcome:
        kind, name, workload = await self._workload(namespace, step.target)
        desired = step.desired
        template = desired["template"]
        if semantic(workload.get("spec", {}).get("template")) == semantic(template):
            return Outcome(
                "Skipped",
                f"{step.target} already runs the template of revision {desired['revision']}",
            )
        patch = [
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": workload["metadata"]["resourceVersion"],
            },
            {"op": "replace", "path": "/spec/template", "value": template},
        ]
        try:
            await self.kube.patch(
                self.kube.workload_path(kind, namespace, name),
                patch,
                content_type=JSON_PATCH,
                dry_run=dry_run,
            )
        except KubeError as e:
            if e.status not in (409, 422):
                raise
            # The resourceVersion test failed: the workload changed since it was read, maybe
            # by this very patch whose answer was lost and that the client sent again.
            _, _, current = await self._workload(namespace, step.target)
            if semantic(current.get("spec", {}).get("template")) != semantic(template):
                raise NotNow(f"{step.target} changed while rolling back; will re-read") from None
        return self._done(
            dry_run,
            f"roll back {step.target} from revision {desired.get('fromRevision')} to "
            f"{desired['revision']}",
        )

    # ---------------------------------------------------------------- restartPods
    async def _restart(
        self, namespace: str, step: PlannedStep, dry_run: bool, now: datetime
    ) -> Outcome:
        if step.desired.get("mode") == "evict":
            return await self._evict(namespace, step, dry_run)
        kind, name, workload = await self._workload(namespace, step.target)
        stamp = step.desired["restartedAt"]
        annotations = (
            workload.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations")
            or {}
        )
        if annotations.get(RESTARTED_AT) == stamp:
            return Outcome("Skipped", f"{step.target} was already restarted at {stamp}")
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        await self.kube.patch(
            self.kube.workload_path(kind, namespace, name), patch, dry_run=dry_run
        )
        return self._done(dry_run, f"restart the pods of {step.target} (rolling)")

    async def _evict(self, namespace: str, step: PlannedStep, dry_run: bool) -> Outcome:
        evicted, gone = 0, 0
        for pod in step.desired.get("pods", []):
            current = await self.kube.get_pod(namespace, pod["name"])
            if (
                current is None
                or current["metadata"].get("uid") != pod.get("uid")
                or current["metadata"].get("deletionTimestamp")
            ):
                gone += 1
                continue
            try:
                await self.kube.evict(namespace, pod["name"], dry_run=dry_run)
            except KubeError as e:
                if e.status == 404:
                    # gone meanwhile, or evicted by our own earlier attempt whose answer
                    # was lost (the client retried it): either way nothing left to evict
                    gone += 1
                    continue
                if e.status == 429:
                    raise NotNow(
                        f"eviction of pod {pod['name']} refused for now ({e.message}); "
                        f"{evicted} evicted so far"
                    ) from None
                raise
            evicted += 1
        if evicted == 0:
            return Outcome("Skipped", f"all {gone} selected pods were already gone")
        result = f"evict {evicted} pod(s) of {step.target}" + (
            f" ({gone} already gone)" if gone else ""
        )
        outcome = self._done(dry_run, result)
        return Outcome(outcome.state, outcome.result, writes=evicted if not dry_run else 0)

    # ----------------------------------------------------------------------- scale
    async def _scale(
        self, namespace: str, step: PlannedStep, dry_run: bool, now: datetime
    ) -> Outcome:
        desired = step.desired
        kind, name = split_target(step.target)
        replicas = int(desired["replicas"])
        if desired.get("via") == "hpa":
            path = self.kube.hpa_path(namespace, str(desired["hpa"]))
            hpa = await self.kube.get_or_none(path)
            if hpa is None:
                raise ActionFailed(reasons.TARGET_NOT_FOUND, f"HPA {desired['hpa']} not found")
            spec = hpa.get("spec", {})
            maximum = int(desired.get("maxReplicas", spec.get("maxReplicas", replicas)))
            revert = {
                "via": "hpa",
                "hpa": desired["hpa"],
                "minReplicas": desired.get("previousMinReplicas"),
                "maxReplicas": desired.get("previousMaxReplicas"),
            }
            if spec.get("minReplicas", 1) == replicas and spec.get("maxReplicas") == maximum:
                return Outcome(
                    "Skipped",
                    f"HPA {desired['hpa']} already has minReplicas {replicas}",
                    revert=revert,
                )
            await self.kube.patch(
                path, {"spec": {"minReplicas": replicas, "maxReplicas": maximum}}, dry_run=dry_run
            )
            return self._done(
                dry_run,
                f"raise HPA {desired['hpa']} minReplicas to {replicas} for {step.target}",
                revert=revert,
            )
        revert = {"via": "scale", "replicas": desired.get("previous")}
        path = self.kube.workload_path(kind, namespace, name) + "/scale"
        done = self._done(
            dry_run,
            f"scale {step.target} from {desired.get('previous')} to {replicas} replicas",
            revert=revert,
        )
        if desired.get("previous") is not None and desired["previous"] != replicas:
            # Compare-and-set in one request: the API server changes the replicas only if
            # they are still what the plan saw. Else (422: someone scaled meanwhile, or a
            # re-apply after a crash) read, compare and write as below.
            swap = [
                {"op": "test", "path": "/spec/replicas", "value": desired["previous"]},
                {"op": "replace", "path": "/spec/replicas", "value": replicas},
            ]
            try:
                await self.kube.patch(path, swap, content_type=JSON_PATCH, dry_run=dry_run)
            except KubeError as e:
                if e.status != 422:
                    raise
            else:
                return done
        scale = await self.kube.get_scale(kind, namespace, name)
        current = scale.get("spec", {}).get("replicas")
        if current == replicas:
            return Outcome(
                "Skipped", f"{step.target} already has {replicas} replicas", revert=revert
            )
        await self.kube.patch(path, {"spec": {"replicas": replicas}}, dry_run=dry_run)
        # what it was just before this change is what a revert restores
        return self._done(
            dry_run,
            f"scale {step.target} from {current} to {replicas} replicas",
            revert={"via": "scale", "replicas": current},
        )

    # -------------------------------------------------------------- circuitBreaker
    async def _circuit_breaker(
        self, namespace: str, step: PlannedStep, dry_run: bool, now: datetime
    ) -> Outcome:
        desired = step.desired
        name, key, value = desired["configMap"], desired["key"], desired["value"]
        configmap = await self.kube.get_configmap(namespace, name)
        if configmap is None:
            raise ActionFailed(reasons.CONFIG_MAP_NOT_FOUND, f"ConfigMap {name} not found")
        revert = {"configMap": name, "key": key, "value": desired.get("previous")}
        after = desired.get("revertAfterSeconds")
        revert_at = now + timedelta(seconds=float(after)) if after else None
        if (configmap.get("data") or {}).get(key) == value:
            return Outcome(
                "Skipped",
                f"ConfigMap {name} already has {key}={value}",
                revert=revert,
                revert_at=revert_at,
            )
        await self.kube.patch(
            self.kube.configmap_path(namespace, name), {"data": {key: value}}, dry_run=dry_run
        )
        return self._done(
            dry_run, f"set {key}={value} in ConfigMap {name}", revert=revert, revert_at=revert_at
        )

    # ------------------------------------------------------------- suspendCronJobs
    async def _suspend_cron_jobs(
        self, namespace: str, step: PlannedStep, dry_run: bool, now: datetime
    ) -> Outcome:
        names = [str(n) for n in step.desired.get("suspend") or []]
        revert = {"cronJobs": names} if names else None
        revert_at = after(now, step.desired.get("resumeAfterSeconds")) if names else None
        suspended, already, gone = [], [], []
        for name in names:
            job = await self.kube.get_cronjob(namespace, name)
            if job is None:
                gone.append(name)
            elif job.get("spec", {}).get("suspend"):
                already.append(name)
            else:
                await self.kube.patch(
                    self.kube.cronjob_path(namespace, name),
                    {"spec": {"suspend": True}},
                    dry_run=dry_run,
                )
                suspended.append(name)
        notes = [f"{', '.join(already)} already suspended"] if already else []
        notes += [f"{', '.join(gone)} gone"] if gone else []
        note = f" ({'; '.join(notes)})" if notes else ""
        if not suspended:
            return Outcome(
                "Skipped",
                f"no CronJob to suspend{note}",
                revert=revert,
                revert_at=revert_at,
            )
        result = f"suspend CronJob {', '.join(suspended)}{note}"
        if dry_run:
            return Outcome("DryRun", f"would {result}")
        return Outcome("Applied", result, revert=revert, revert_at=revert_at, writes=len(suspended))

    # ----------------------------------------------------------------- isolatePods
    async def _isolate(
        self,
        namespace: str,
        step: PlannedStep,
        dry_run: bool,
        now: datetime,
        incident: Incident | None,
    ) -> Outcome:
        desired = step.desired
        name, spec = desired["networkPolicy"], desired["spec"]
        revert_at = after(now, desired.get("revertAfterSeconds"))
        existing = await self.kube.get_networkpolicy(namespace, name)
        if existing is not None:
            if semantic(existing.get("spec")) != semantic(spec):
                raise ActionFailed(
                    reasons.ACTION_FAILED,
                    f"NetworkPolicy {name} exists with another spec; remove it, then retry",
                )
            uid = existing["metadata"].get("uid", "")
            return Outcome(
                "Skipped",
                f"NetworkPolicy {name} already isolates the pods of {step.target}",
                revert={"networkPolicy": name, "uid": uid},
                revert_at=revert_at,
            )
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": namespace,
            "labels": {planning.MANAGED_BY_LABEL: planning.MANAGED_BY},
        }
        if incident is not None:
            metadata["annotations"] = {planning.INCIDENT_ANNOTATION: incident.metadata.name}
        body = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata,
            "spec": spec,
        }
        created = await self.kube.create_networkpolicy(namespace, body, dry_run=dry_run)
        result = f"isolate the pods of {step.target} (NetworkPolicy {name}: deny all traffic)"
        if dry_run:
            return Outcome("DryRun", f"would {result}")
        revert = {"networkPolicy": name, "uid": created.get("metadata", {}).get("uid", "")}
        return Outcome("Applied", result, revert=revert, revert_at=revert_at, writes=1)

    # ---------------------------------------------------------------------- notify
    async def _notify(
        self, namespace: str, step: PlannedStep, dry_run: bool, incident: Incident | None
    ) -> Outcome:
        ref = step.desired["webhookSecretRef"]
        url = notify.check_url(
            await webhook_url(self.kube, namespace, ref), self.notify_allowed_hosts
        )
        if dry_run:
            return Outcome("DryRun", f"would notify {notify.redact(url)} (Secret {ref['name']})")
        if incident is None:
            raise ActionFailed(reasons.ACTION_FAILED, "notify needs the incident")
        body = notifications.payload(
            incident, event=f"step-{step.index}", text=step.desired["text"]
        )
        code = await notify.post_json(
            url, body, attempts=self.notify_attempts, allowed_hosts=self.notify_allowed_hosts
        )
        return Outcome("Applied", f"notified {notify.redact(url)} (HTTP {code})")

    # ---------------------------------------------------------------------- revert
