"""Undoing an action from what it recorded (a scale's previous replicas, a circuit
breaker's previous value, the CronJobs it suspended, the NetworkPolicy it created):
idempotent like the actions themselves."""

from __future__ import annotations

from typing import Any

import aiohttp

from ..adapters.kube import KubeClient, KubeError
from .common import (
    NotNow,
    Outcome,
    refused,
    split_target,
)


class Reverting:
    kube: KubeClient

    async def revert(
        self, namespace: str, action: str, target: str, revert: dict[str, Any]
    ) -> Outcome:
        """Restore what an action recorded as its previous state (idempotent too). Raises
        NotNow when the API server says "not now" (or 403, or no answer): try again later,
        as an action is; ActionFailed when it cannot be done."""
        try:
            if action == "suspendCronJobs":
                return await self._resume_cron_jobs(namespace, revert)
            if action == "isolatePods":
                return await self._remove_isolation(namespace, revert)
            if action == "circuitBreaker":
                name, key, previous = revert["configMap"], revert["key"], revert.get("value")
                configmap = await self.kube.get_configmap(namespace, name)
                if configmap is None:
                    return Outcome("Skipped", f"ConfigMap {name} is gone; nothing to restore")
                if (configmap.get("data") or {}).get(key) == previous:
                    return Outcome("Reverted", f"ConfigMap {name} already has {key}={previous}")
                await self.kube.patch(
                    self.kube.configmap_path(namespace, name), {"data": {key: previous}}
                )
                shown = "removed" if previous is None else f"restored to {previous}"
                return Outcome("Reverted", f"{key} in ConfigMap {name} {shown}", writes=1)
            if action == "scale":
                kind, name = split_target(target)
                if revert.get("via") == "hpa":
                    path = self.kube.hpa_path(namespace, str(revert["hpa"]))
                    spec = {
                        "minReplicas": revert.get("minReplicas"),
                        "maxReplicas": revert.get("maxReplicas"),
                    }
                    try:
                        await self.kube.patch(path, {"spec": {k: v for k, v in spec.items() if v}})
                    except KubeError as e:
                        if e.status != 404:
                            raise
                        gone = f"HPA {revert['hpa']} is gone; nothing to restore"
                        return Outcome("Skipped", gone)
                    return Outcome("Reverted", f"HPA {revert['hpa']} bounds restored", writes=1)
                previous = revert.get("replicas")
                try:
                    scale = await self.kube.get_scale(kind, namespace, name)
                except KubeError as e:
                    if e.status != 404:
                        raise
                    return Outcome("Skipped", f"{target} is gone; nothing to scale back")
                if scale.get("spec", {}).get("replicas") == previous:
                    return Outcome("Reverted", f"{target} already has {previous} replicas")
                await self.kube.patch(
                    self.kube.workload_path(kind, namespace, name) + "/scale",
                    {"spec": {"replicas": previous}},
                )
                return Outcome("Reverted", f"{target} scaled back to {previous}", writes=1)
        except KubeError as e:
            raise refused(e, f"revert of {target}") from None
        except (TimeoutError, aiohttp.ClientError) as e:
            # maybe restored, maybe not: the revert is idempotent, so trying again tells
            raise NotNow(f"revert of {target}: no answer from the API server ({e!r})") from None
        return Outcome("Skipped", f"{action} records no revert")

    async def _resume_cron_jobs(self, namespace: str, revert: dict[str, Any]) -> Outcome:
        """Resume exactly the CronJobs the step suspended (not those suspended before)."""
        resumed, skipped = [], []
        for name in revert.get("cronJobs") or []:
            job = await self.kube.get_cronjob(namespace, name)
            if job is None or not job.get("spec", {}).get("suspend"):
                skipped.append(name)
                continue
            await self.kube.patch(
                self.kube.cronjob_path(namespace, name), {"spec": {"suspend": False}}
            )
            resumed.append(name)
        note = f" ({', '.join(skipped)} already running or gone)" if skipped else ""
        if not resumed:
            return Outcome("Reverted", f"no CronJob to resume{note}")
        return Outcome(
            "Reverted", f"resumed CronJob {', '.join(resumed)}{note}", writes=len(resumed)
        )

    async def _remove_isolation(self, namespace: str, revert: dict[str, Any]) -> Outcome:
        name, uid = revert["networkPolicy"], revert.get("uid") or ""
        existing = await self.kube.get_networkpolicy(namespace, name)
        if existing is None:
            return Outcome("Reverted", f"NetworkPolicy {name} is already gone")
        if uid and existing["metadata"].get("uid") != uid:
            return Outcome("Skipped", f"NetworkPolicy {name} was re-created since; left in place")
        try:
            await self.kube.delete_networkpolicy(namespace, name, existing["metadata"]["uid"])
        except KubeError as e:
            if e.status in (404, 409):
                return Outcome("Reverted", f"NetworkPolicy {name} is already gone")
            raise
        return Outcome(
            "Reverted", f"NetworkPolicy {name} deleted: the pods are reachable again", writes=1
        )
