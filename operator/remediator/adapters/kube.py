"""Every Kubernetes API call the operator makes, one small method each.

Connection settings come from the `kubernetes` client's loaders (kubeconfig or in-cluster
service account, with its token refresh); requests go out through one shared aiohttp
session, so the operator's event loop never blocks on a sync client. Transient failures
(connection errors, 429, 5xx) are retried with exponential backoff by tenacity; everything
else surfaces as `KubeError` with the API's status code and message.

Bodies are plain dicts as the API serves them: the executor compares and patches the exact
fields it owns and nothing more.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from .. import metrics

JSON = "application/json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
GROUP = "remediator.dev"
VERSION = "v1alpha1"
WORKLOAD_PATHS = {"Deployment": "deployments", "StatefulSet": "statefulsets"}
USER_AGENT = "remediator/0.1"
TOKEN_TTL = 10.0  # seconds a bearer token is reused before the configuration is asked again


class KubeError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def transient(self) -> bool:
        return self.status in (0, 429, 500, 502, 503, 504)


def _error(status: int, reason: str | None, raw: bytes) -> KubeError:
    """The API's error answer (a Status object, usually) as a `KubeError`."""
    try:
        decoded = json.loads(raw) if raw else {}
    except ValueError:
        decoded = {"message": raw.decode(errors="replace")}
    details = decoded if isinstance(decoded, dict) else {}
    return KubeError(
        status, str(details.get("reason", reason or "")), str(details.get("message", ""))
    )


_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class InvalidName(KubeError):  # noqa: N818
    """A name or namespace that is not a Kubernetes object name, refused before any
    request is sent: a name such as `../../other/...` would otherwise address another
    object once the client normalises the path."""

    def __init__(self, value: str) -> None:
        super().__init__(
            400, "InvalidName", f"{value[:80]!r} is not a valid object name (DNS-1123)"
        )


def _segment(value: str) -> str:
    """A name or namespace as one path segment: the one place where every object name the
    operator puts in a URL is checked."""
    if len(value) > 253 or not _NAME.fullmatch(value):
        raise InvalidName(value)
    return value


def _retryable(error: BaseException) -> bool:
    if isinstance(error, KubeError):
        return error.transient
    return isinstance(error, aiohttp.ClientConnectionError | asyncio.TimeoutError)


def _retryable_not_429(error: BaseException) -> bool:
    return _retryable(error) and not (isinstance(error, KubeError) and error.status == 429)


def load_configuration(kubeconfig: str | None = None) -> k8s_client.Configuration:
    """Kubeconfig (explicit, $KUBECONFIG or ~/.kube/config) or the in-cluster account."""
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=configuration
        )
    except (k8s_config.ConfigException, FileNotFoundError, TypeError):
        if kubeconfig:
            raise
        k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    return configuration


class KubeClient:
    def __init__(
        self,
        configuration: k8s_client.Configuration,
        *,
        attempts: int = 5,
        timeout: float = 15.0,
    ) -> None:
        self.configuration = configuration
        self.base = configuration.host.rstrip("/")
        self.attempts = attempts
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None  # None: ask the configuration
        self._token_until = 0.0

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.base.startswith("https"):
            return False
        if not self.configuration.verify_ssl:
            return False
        context = ssl.create_default_context(cafile=self.configuration.ssl_ca_cert)
        if self.configuration.cert_file:
            context.load_cert_chain(self.configuration.cert_file, self.configuration.key_file)
        return context

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                connector=aiohttp.TCPConnector(ssl=self._ssl(), limit=50),
                headers={"User-Agent": USER_AGENT, "Accept": JSON},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _auth_headers(self) -> dict[str, str]:
        """The bearer token, asked of the configuration (whose hook re-reads a rotated
        ServiceAccount token) at most every `TOKEN_TTL` seconds, or after a 401: asking on
        every request cost ~6% of the operator's CPU under load."""
        now = time.monotonic()
        if self._token is None or now >= self._token_until:
            token = self.configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
            self._token, self._token_until = token or "", now + TOKEN_TTL
        return {"Authorization": self._token} if self._token else {}

    # ----------------------------------------------------------------- transport
    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = JSON,
        query: Mapping[str, str] | None = None,
        retry_429: bool = True,
    ) -> Any:
        """One API call with retries for transient failures; returns the decoded body."""
        url = self.base + path + (f"?{urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=0.05, max=2.0, jitter=0.05),
            retry=retry_if_exception(_retryable if retry_429 else _retryable_not_429),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(method, url, data, content_type)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, method: str, url: str, data: bytes | None, content_type: str) -> Any:
        started = time.perf_counter()
        code = "error"  # no response: connection refused, reset, timeout
        try:
            result, code = await self._send(method, url, data, content_type)
        except KubeError as e:
            code = str(e.status)
            raise
        finally:
            metrics.KUBE_REQUESTS.labels(verb=method, code=code).inc()
            metrics.KUBE_REQUEST_DURATION.labels(verb=method).observe(time.perf_counter() - started)
        return result

    async def _send(
        self, method: str, url: str, data: bytes | None, content_type: str
    ) -> tuple[Any, str]:
        session = await self.session()
        headers = self._auth_headers()
        if data is not None:
            headers["Content-Type"] = content_type
        async with session.request(method, url, data=data, headers=headers) as response:
            raw = await response.read()
            decoded: Any = None
            if raw:
                try:
                    decoded = json.loads(raw)
                except ValueError:
                    decoded = {"message": raw.decode(errors="replace")}
            if response.status >= 400:
                if response.status == 401:
                    self._token = None  # maybe rotated: read it again for the next request
                status = decoded if isinstance(decoded, dict) else {}
                raise KubeError(
                    response.status,
                    str(status.get("reason", response.reason or "")),
                    str(status.get("message", "")),
                )
            return decoded, str(response.status)

    async def get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self.request("GET", path)
        except KubeError as e:
            if e.status == 404:
                return None
            raise
        return result

    # ------------------------------------------------------------- custom resources
    @staticmethod
    def custom_path(namespace: str, plural: str, name: str = "") -> str:
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{_segment(namespace)}/{plural}"
        return f"{path}/{_segment(name)}" if name else path

    async def get_custom(self, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(self.custom_path(namespace, plural, name))

    async def list_custom(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        path = (
            self.custom_path(namespace, plural)
            if namespace
            else f"/apis/{GROUP}/{VERSION}/{plural}"
        )
        result = await self.request("GET", path)
        return list(result.get("items", []))

    async def list_custom_pages(
        self, plural: str, namespace: str | None = None, *, limit: int = 500
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        """The same objects as `list_custom`, in pages of at most `limit` (the API's
        `limit`/`continue`), each with the list's resourceVersion: a caller that is done
        with each page before asking for the next never holds the whole list (12,500
        Incidents are ~35 MB of JSON, ~5x that parsed). An expired continue token (410)
        surfaces as a `KubeError`."""
        path = self._custom_collection(plural, namespace)
        token = ""
        while True:
            query = {"limit": str(limit), **({"continue": token} if token else {})}
            result = await self.request("GET", path, query=query)
            meta = result.get("metadata") or {}
            token = str(meta.get("continue") or "")
            # not kept here while the caller reads it
            yield list(result.pop("items", None) or []), str(meta.get("resourceVersion") or "")
            if not token:
                return

    async def watch_custom(
        self,
        plural: str,
        namespace: str | None,
        resource_version: str,
        *,
        timeout_seconds: int = 300,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The watch events (`type`, `object`) of these objects after `resource_version`,
        bookmarks included, until the API ends the stream (after `timeout_seconds`). An
        HTTP error (410 Gone included) is a `KubeError`; an error event is yielded as such."""
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        url = f"{self.base}{self._custom_collection(plural, namespace)}?{urlencode(query)}"
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeout.total, sock_read=timeout_seconds + 30
        )
        session = await self.session()
        code = "error"
        try:
            async with session.get(url, headers=self._auth_headers(), timeout=timeout) as response:
                code = str(response.status)
                if response.status >= 400:
                    if response.status == 401:
                        self._token = None
                    raise _error(response.status, response.reason, await response.read())
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
    def _custom_collection(plural: str, namespace: str | None) -> str:
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
        return f"/apis/apps/v1/namespaces/{_segment(namespace)}/{plural}/{_segment(name)}"

    async def get_workload(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(self.workload_path(kind, namespace, name))

    async def list_replicasets(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        result = await self.request(
            "GET",
            f"/apis/apps/v1/namespaces/{_segment(namespace)}/replicasets",
            query={"labelSelector": selector} if selector else None,
        )
        return list(result.get("items", []))

    async def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        result = await self.request(
            "GET",
            f"/api/v1/namespaces/{_segment(namespace)}/pods",
            query={"labelSelector": selector} if selector else None,
        )
        return list(result.get("items", []))

    async def list_hpas(self, namespace: str) -> list[dict[str, Any]]:
        result = await self.request(
            "GET", f"/apis/autoscaling/v2/namespaces/{_segment(namespace)}/horizontalpodautoscalers"
        )
        return list(result.get("items", []))

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(
            f"/api/v1/namespaces/{_segment(namespace)}/configmaps/{_segment(name)}"
        )

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(
            f"/api/v1/namespaces/{_segment(namespace)}/pods/{_segment(name)}"
        )

    async def patch(
        self,
        path: str,
        body: Any,
        *,
        content_type: str = MERGE,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "PATCH",
            path,
            body=body,
            content_type=content_type,
            query={"dryRun": "All"} if dry_run else None,
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
            f"/api/v1/namespaces/{_segment(namespace)}/pods/{_segment(name)}/eviction",
            body=body,
            retry_429=False,
        )

    # ---------------------------------------------- suspendCronJobs, isolatePods, notify
    @staticmethod
    def cronjob_path(namespace: str, name: str = "") -> str:
        path = f"/apis/batch/v1/namespaces/{_segment(namespace)}/cronjobs"
        return f"{path}/{_segment(name)}" if name else path

    async def list_cronjobs(self, namespace: str) -> list[dict[str, Any]]:
        result = await self.request("GET", self.cronjob_path(namespace))
        return list(result.get("items", []))

    async def get_cronjob(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get_or_none(self.cronjob_path(namespace, name))

    @staticmethod
    def networkpolicy_path(namespace: str, name: str = "") -> str:
        path = f"/apis/networking.k8s.io/v1/namespaces/{_segment(namespace)}/networkpolicies"
        return f"{path}/{_segment(name)}" if name else path

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
            f"/apis/autoscaling/v2/namespaces/{_segment(namespace)}/horizontalpodautoscalers/"
            f"{_segment(name)}"
        )

    @staticmethod
    def configmap_path(namespace: str, name: str) -> str:
        return f"/api/v1/namespaces/{_segment(namespace)}/configmaps/{_segment(name)}"

    async def merge_configmap(
        self, namespace: str, name: str, data: Mapping[str, str | None]
    ) -> None:
        """Set (or, with None, remove) keys of a ConfigMap's data, creating it if missing.
        A merge patch of single keys: concurrent writers of other keys do not conflict."""
        try:
            await self.request(
                "PATCH",
                self.configmap_path(namespace, name),
                body={"data": data},
                content_type=MERGE,
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
                    "POST", f"/api/v1/namespaces/{_segment(namespace)}/configmaps", body=body
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
            f"/api/v1/namespaces/{_segment(namespace)}/secrets/{_segment(name)}"
        )

    async def post_event(self, namespace: str, event: dict[str, Any]) -> None:
        await self.request("POST", f"/api/v1/namespaces/{_segment(namespace)}/events", body=event)
