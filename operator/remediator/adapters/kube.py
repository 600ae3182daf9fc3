"""Every Kubernetes API call the operator makes, one small method each, on the transport
of kube_transport.py (session, tokens, retries, `KubeError`).

Bodies are plain dicts as the API serves them: the executor compares and patches the exact
fields it owns and nothing more.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp

from .. import metrics
from .kube_transport import (
    JSON,
    JSON_PATCH,
    MERGE,
    USER_AGENT,
    InvalidName,
    KubeError,
    KubeTransport,
    load_configuration,
    segment,
)

__all__ = [
    "GROUP",
    "JSON",
    "JSON_PATCH",
    "MERGE",
    "USER_AGENT",
    "VERSION",
    "InvalidName",
    "KubeClient",
    "KubeError",
    "load_configuration",
]

GROUP = "remediator.dev"
VERSION = "v1alpha1"
WORKLOAD_PATHS = {"Deployment": "deployments", "StatefulSet": "statefulsets"}


class KubeClient(KubeTransport):
    """The operator's API calls; paths are built here, every name checked by `segment`."""

    # ------------------------------------------------------------- custom resources
    @staticmethod
    def custom_path(namespace: str, plural: str, name: str = "") -> str:
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{segment(namespace)}/{plural}"
        return f"{path}/{segment(name)}" if name else path

    async def get_custom(self, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(self.custom_path(namespace, plural, name))

    async def list_custom(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        path = (
            self.custom_path(namespace, plural)
            if namespace
            else f"/apis/{GROUP}/{VERSION}/{plural}"
        )
        return await self.list_items(path)

    async def list_custom_pages(
        self, plural: str, namespace: str | None = None, *, limit: int = 500
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        """The same objects as `list_custom`, in pages (`list_pages`)."""
        async for page in self.list_pages(self.custom_collection(plural, namespace), limit=limit):
            yield page

    async def list_pages(
        self, path: str, query: Mapping[str, str] | None = None, *, limit: int = 500
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        """The collection's objects in pages of at most `limit` (the API's
        `limit`/`continue`), each with the list's resourceVersion: a caller that is done
        with each page before asking for the next never holds the whole list (12,500
        Incidents are ~35 MB of JSON, ~5x that parsed). An expired continue token (410)
        surfaces as a `KubeError`."""
        token = ""
        while True:
            paged = {**(query or {}), "limit": str(limit), **({"continue": token} if token else {})}
            result = await self.request("GET", path, query=paged)
            meta = result.get("metadata") or {}
            token = str(meta.get("continue") or "")
            # not kept here while the caller reads it
            yield list(result.pop("items", None) or []), str(meta.get("resourceVersion") or "")
            if not token:
                return

    async def watch(
        self,
        path: str,
        resource_version: str,
        query: Mapping[str, str] | None = None,
        *,
        timeout_seconds: int = 300,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The watch events (`type`, `object`) of the collection after `resource_version`,
        bookmarks included, until the API ends the stream (after `timeout_seconds`). An
        HTTP error (410 Gone included) is a `KubeError`; an error event is yielded as such."""
        watching = {
            **(query or {}),
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        url = f"{self.base}{path}?{urlencode(watching)}"
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeout.total, sock_read=timeout_seconds + 30
        )
        session = await self.session()
        code = "error"
        try:
            async with session.get(url, headers=self._auth_headers(), timeout=timeout) as response:
                code = str(response.status)
                await self.raise_for_status(response)
                buffer = b""
                async for chunk in response.content.iter_any():
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield json.loads(line)
        finally:
            metrics.KUBE_REQUESTS.labels(verb="WATCH", code=code).inc()

    @staticmethod
    def custom_collection(plural: str, namespace: str | None) -> str:
        if namespace:
            return KubeClient.custom_path(namespace, plural)
        return f"/apis/{GROUP}/{VERSION}/{plural}"

    async def create_custom(self, namespace: str, plural: str, body: dict[str, Any]) -> Any:
        return await self.request("POST", self.custom_path(namespace, plural), body=body)

    async def patch_status(
        self, namespace: str, plural: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace the whole status (a JSON patch `add` replaces the member when it exists):
        a merge patch would keep fields the new status leaves out, such as a plan voided
        by a re-plan, or fields written by someone else."""
        result: dict[str, Any] = await self.request(
            "PATCH",
            self.custom_path(namespace, plural, name) + "/status",
            body=[{"op": "add", "path": "/status", "value": status}],
            content_type=JSON_PATCH,
        )
        return result

    # ------------------------------------------------------------------- workloads
    @staticmethod
    def workload_path(kind: str, namespace: str, name: str) -> str:
        plural = WORKLOAD_PATHS[kind]
        return f"/apis/apps/v1/namespaces/{segment(namespace)}/{plural}/{segment(name)}"

    async def get_workload(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(self.workload_path(kind, namespace, name))

    async def list_replicasets(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return await self.list_items(
            f"/apis/apps/v1/namespaces/{segment(namespace)}/replicasets", selector
        )

    async def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return await self.list_items(f"/api/v1/namespaces/{segment(namespace)}/pods", selector)

    @staticmethod
    def hpa_collection(namespace: str | None) -> str:
        """The HorizontalPodAutoscalers of the namespace (None: of every namespace)."""
        if namespace is None:
            return "/apis/autoscaling/v2/horizontalpodautoscalers"
        return f"/apis/autoscaling/v2/namespaces/{segment(namespace)}/horizontalpodautoscalers"

    async def list_hpas(self, namespace: str) -> list[dict[str, Any]]:
        return await self.list_items(self.hpa_collection(namespace))

    @staticmethod
    def peering_collection(namespace: str | None) -> str:
        """Kopf's peering objects: KopfPeerings of the namespace, or (None) the cluster's."""
        if namespace is None:
            return "/apis/kopf.dev/v1/clusterkopfpeerings"
        return f"/apis/kopf.dev/v1/namespaces/{segment(namespace)}/kopfpeerings"

    @staticmethod
    def configmap_collection(namespace: str) -> str:
        return f"/api/v1/namespaces/{segment(namespace)}/configmaps"

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(
            f"/api/v1/namespaces/{segment(namespace)}/configmaps/{segment(name)}"
        )

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(
            f"/api/v1/namespaces/{segment(namespace)}/pods/{segment(name)}"
        )

    async def pod_log(self, namespace: str, pod: str, query: Mapping[str, str]) -> bytes:
        """A container's log (`pods/log`: `container`, `previous`, `tailLines`,
        `limitBytes`), as bytes; a 400 when there is no previous container to read."""
        path = f"/api/v1/namespaces/{segment(namespace)}/pods/{segment(pod)}/log"
        result: bytes = await self.request("GET", path, query=query, raw=True)
        return result

    async def list_events(
        self, namespace: str, kind: str, name: str, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The Events (core/v1) about one object, at most `limit`."""
        selector = f"involvedObject.kind={kind},involvedObject.name={segment(name)}"
        result = await self.request(
            "GET",
            f"/api/v1/namespaces/{segment(namespace)}/events",
            query={"fieldSelector": selector, "limit": str(limit)},
        )
        return list(result.get("items", []))

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST", f"/api/v1/namespaces/{segment(namespace)}/secrets", body=body
        )
        return result

    async def patch(
        self, path: str, body: Any, *, content_type: str = MERGE, dry_run: bool = False
    ) -> dict[str, Any]:
        """A merge patch (or `content_type`'s), validated but not stored with `dry_run`."""
        query = {"dryRun": "All"} if dry_run else None
        result: dict[str, Any] = await self.request(
            "PATCH", path, body=body, content_type=content_type, query=query
        )
        return result

    async def get_scale(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "GET", self.workload_path(kind, namespace, name) + "/scale"
        )
        return result

    async def evict(self, namespace: str, name: str, *, dry_run: bool = False) -> None:
        body: dict[str, Any] = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        if dry_run:
            body["deleteOptions"] = {"dryRun": ["All"]}
        # 429 (a PodDisruptionBudget says "not now") is not retried here: the caller decides.
        await self.request(
            "POST",
            f"/api/v1/namespaces/{segment(namespace)}/pods/{segment(name)}/eviction",
            body=body,
            retry_429=False,
        )

    # ---------------------------------------------- suspendCronJobs, isolatePods, notify
    @staticmethod
    def cronjob_path(namespace: str, name: str = "") -> str:
        path = f"/apis/batch/v1/namespaces/{segment(namespace)}/cronjobs"
        return f"{path}/{segment(name)}" if name else path

    async def list_cronjobs(self, namespace: str) -> list[dict[str, Any]]:
        return await self.list_items(self.cronjob_path(namespace))

    async def get_cronjob(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(self.cronjob_path(namespace, name))

    @staticmethod
    def networkpolicy_path(namespace: str, name: str = "") -> str:
        path = f"/apis/networking.k8s.io/v1/namespaces/{segment(namespace)}/networkpolicies"
        return f"{path}/{segment(name)}" if name else path

    async def get_networkpolicy(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(self.networkpolicy_path(namespace, name))

    async def create_networkpolicy(
        self, namespace: str, body: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST",
            self.networkpolicy_path(namespace),
            body=body,
            query={"dryRun": "All"} if dry_run else None,
        )
        return result

    async def delete_networkpolicy(self, namespace: str, name: str, uid: str) -> None:
        """Delete it if it is still the object with `uid` (a precondition, like kubectl)."""
        await self.request(
            "DELETE",
            self.networkpolicy_path(namespace, name),
            body={
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "preconditions": {"uid": uid},
            },
        )

    @staticmethod
    def hpa_path(namespace: str, name: str) -> str:
        return (
            f"/apis/autoscaling/v2/namespaces/{segment(namespace)}/horizontalpodautoscalers/"
            f"{segment(name)}"
        )

    @staticmethod
    def configmap_path(namespace: str, name: str) -> str:
        return f"/api/v1/namespaces/{segment(namespace)}/configmaps/{segment(name)}"

    async def merge_configmap(
        self, namespace: str, name: str, data: Mapping[str, str | None]
    ) -> None:
        """Set (or, with None, remove) keys of a ConfigMap's data, creating it if missing.
        A merge patch of single keys: concurrent writers of other keys do not conflict.
        The answer (the whole ConfigMap: the guard ledger holds thousands of keys) is not
        decoded."""
        try:
            await self.request(
                "PATCH",
                self.configmap_path(namespace, name),
                body={"data": data},
                content_type=MERGE,
                raw=True,
            )
        except KubeError as e:
            if e.status != 404:
                raise
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace},
                "data": {k: v for k, v in data.items() if v is not None},
            }
            try:
                await self.request(
                    "POST", f"/api/v1/namespaces/{segment(namespace)}/configmaps", body=body
                )
            except KubeError as e:
                if e.status != 409:  # created meanwhile: patch it after all
                    raise
                await self.request(
                    "PATCH",
                    self.configmap_path(namespace, name),
                    body={"data": data},
                    content_type=MERGE,
                )

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(
            f"/api/v1/namespaces/{segment(namespace)}/secrets/{segment(name)}"
        )

    async def post_event(self, namespace: str, event: dict[str, Any]) -> None:
        path = f"/api/v1/namespaces/{segment(namespace)}/events"
        await self.request("POST", path, body=event, raw=True)  # the answer is not read
