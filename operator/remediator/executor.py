"""The only place where a planned action touches the cluster.

Each action applies a desired state that was computed and stored in the Incident's status
before anything changed. Applying reads the target first and writes only when it differs
from the desired state, so applying the same step twice — after a crash, a retry or a
second operator replica — changes nothing the second time. Dry runs go through the same
path with the API server's `dryRun=All`, so they are validated by the server too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .adapters.kube import JSON_PATCH, KubeClient, KubeError
from .core import reasons
from .core.models import PlannedStep

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@dataclass(frozen=True)
class Outcome:
    state: str  # Applied | Skipped | DryRun | Reverted
    result: str
    revert: dict[str, Any] | None = None
    revert_at: datetime | None = None
    writes: int = 0


class ActionFailed(Exception):  # noqa: N818  (reads as the outcome it reports)
    """The action cannot be applied as planned; the incident fails with this reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class NotNow(Exception):  # noqa: N818
    """The cluster says "not now" (a PodDisruptionBudget); try again later."""

    def __init__(self, message: str, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def semantic(value: Any) -> Any:
    """Compare Kubernetes objects as the API server's typed round trip would: nulls and empty
    maps or lists are the same as absent."""
    if isinstance(value, dict):
        cleaned = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


def _split_target(target: str) -> tuple[str, str]:
    kind, _, name = target.partition("/")
    return kind, name


class Executor:
    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

    async def apply(
        self, namespace: str, step: PlannedStep, *, dry_run: bool, now: datetime
    ) -> Outcome:
        handler = {
            "rollback": self._rollback,
            "restartPods": self._restart,
            "scale": self._scale,
            "circuitBreaker": self._circuit_breaker,
        }[step.action]
        try:
            outcome = await handler(namespace, step, dry_run, now)
        except KubeError as e:
            if e.status == 429:
                raise NotNow(e.message) from None
            raise ActionFailed(reasons.ACTION_FAILED, f"{step.target}: {e}") from None
        return outcome

    async def _workload(self, namespace: str, target: str) -> tuple[str, str, dict[str, Any]]:
        kind, name = _split_target(target)
        workload = await self.kube.get_workload(kind, namespace, name)
        if workload is None:
            raise ActionFailed(reasons.TARGET_NOT_FOUND, f"{target} not found in {namespace}")
        return kind, name, workload

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
        await self.kube.patch(
            self.kube.workload_path(kind, namespace, name),
            patch,
            content_type=JSON_PATCH,
            dry_run=dry_run,
        )
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
        kind, name = _split_target(step.target)
        replicas = int(desired["replicas"])
        if desired.get("via") == "hpa":
            path = (
                f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/"
                f"{desired['hpa']}"
            )
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
        scale = await self.kube.get_scale(kind, namespace, name)
        revert = {"via": "scale", "replicas": desired.get("previous")}
        if scale.get("spec", {}).get("replicas") == replicas:
            return Outcome(
                "Skipped", f"{step.target} already has {replicas} replicas", revert=revert
            )
        await self.kube.patch(
            self.kube.workload_path(kind, namespace, name) + "/scale",
            {"spec": {"replicas": replicas}},
            dry_run=dry_run,
        )
        return self._done(
            dry_run,
            f"scale {step.target} from {desired.get('previous')} to {replicas} replicas",
            revert=revert,
        )

    # -------------------------------------------------------------- circuitBreaker
    def _configmap_path(self, namespace: str, name: str) -> str:
        return f"/api/v1/namespaces/{namespace}/configmaps/{name}"

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
            self._configmap_path(namespace, name), {"data": {key: value}}, dry_run=dry_run
        )
        return self._done(
            dry_run, f"set {key}={value} in ConfigMap {name}", revert=revert, revert_at=revert_at
        )

    # ---------------------------------------------------------------------- revert
    async def revert(
        self, namespace: str, action: str, target: str, revert: dict[str, Any]
    ) -> Outcome:
        """Restore what an action recorded as its previous state (idempotent too)."""
        try:
            if action == "circuitBreaker":
                name, key, previous = revert["configMap"], revert["key"], revert.get("value")
                configmap = await self.kube.get_configmap(namespace, name)
                if configmap is None:
                    return Outcome("Skipped", f"ConfigMap {name} is gone; nothing to restore")
                if (configmap.get("data") or {}).get(key) == previous:
                    return Outcome("Reverted", f"ConfigMap {name} already has {key}={previous}")
                await self.kube.patch(
                    self._configmap_path(namespace, name), {"data": {key: previous}}
                )
                shown = "removed" if previous is None else f"restored to {previous}"
                return Outcome("Reverted", f"{key} in ConfigMap {name} {shown}", writes=1)
            if action == "scale":
                kind, name = _split_target(target)
                if revert.get("via") == "hpa":
                    path = (
                        f"/apis/autoscaling/v2/namespaces/{namespace}/"
                        f"horizontalpodautoscalers/{revert['hpa']}"
                    )
                    spec = {
                        "minReplicas": revert.get("minReplicas"),
                        "maxReplicas": revert.get("maxReplicas"),
                    }
                    await self.kube.patch(path, {"spec": {k: v for k, v in spec.items() if v}})
                    return Outcome("Reverted", f"HPA {revert['hpa']} bounds restored", writes=1)
                previous = revert.get("replicas")
                scale = await self.kube.get_scale(kind, namespace, name)
                if scale.get("spec", {}).get("replicas") == previous:
                    return Outcome("Reverted", f"{target} already has {previous} replicas")
                await self.kube.patch(
                    self.kube.workload_path(kind, namespace, name) + "/scale",
                    {"spec": {"replicas": previous}},
                )
                return Outcome("Reverted", f"{target} scaled back to {previous}", writes=1)
        except KubeError as e:
            raise ActionFailed(reasons.ACTION_FAILED, f"revert of {target}: {e}") from None
        return Outcome("Skipped", f"{action} records no revert")
