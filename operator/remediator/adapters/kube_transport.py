"""How the operator talks to the API server: one shared aiohttp session, bearer tokens,
retries of transient failures with exponential backoff (tenacity), and the API's errors as
`KubeError`. `KubeClient` (kube.py) builds every call on this; this module knows no resource.

Connection settings come from the `kubernetes` client's loaders (kubeconfig or in-cluster
service account, with its token refresh), so the operator's event loop never blocks on a
sync client.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import ssl
import time
from collections.abc import Mapping
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
USER_AGENT = "remediator/0.1"
FIRST_WAIT = 0.05  # seconds before the first retry; then doubled each time, up to 2 s
JITTER = 0.05
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


def error_of(status: int, reason: str | None, raw: bytes) -> KubeError:
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


def segment(value: str) -> str:
    """A name or namespace as one path segment: the one place where every object name the
    operator puts in a URL is checked."""
    if len(value) > 253 or not _NAME.fullmatch(value):
        raise InvalidName(value)
    return value


def retryable(error: BaseException) -> bool:
    if isinstance(error, KubeError):
        return error.transient
    return isinstance(error, aiohttp.ClientConnectionError | asyncio.TimeoutError)


def retryable_not_429(error: BaseException) -> bool:
    return retryable(error) and not (isinstance(error, KubeError) and error.status == 429)


def load_configuration(
    kubeconfig: str | None = None, context: str | None = None
) -> k8s_client.Configuration:
    """Kubeconfig (explicit, $KUBECONFIG or ~/.kube/config; the named context, else its
    current one) or the in-cluster account."""
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except (k8s_config.ConfigException, FileNotFoundError, TypeError):
        if kubeconfig or context:
            raise
        k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    return configuration


class KubeTransport:
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
        raw: bool = False,
    ) -> Any:
        """One API call with retries for transient failures; returns the decoded body (with
        `raw`, the body's bytes as they came: a log)."""
        url = self.base + path + (f"?{urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        retry = retryable if retry_429 else retryable_not_429
        # The first attempt goes without the retry machinery (a retrying object, its state
        # and its attempt context cost more CPU than the request's own bookkeeping); only a
        # transient failure builds one, for the attempts left.
        try:
            return await self._once(method, url, data, content_type, raw)
        except Exception as e:
            if self.attempts <= 1 or not retry(e):
                raise
        await asyncio.sleep(FIRST_WAIT + random.uniform(0, JITTER))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts - 1),
            wait=wait_exponential_jitter(multiplier=2 * FIRST_WAIT, max=2.0, jitter=JITTER),
            retry=retry_if_exception(retry),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(method, url, data, content_type, raw)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self, method: str, url: str, data: bytes | None, content_type: str, raw: bool
    ) -> Any:
        started = time.perf_counter()
        code = "error"  # no response: connection refused, reset, timeout
        try:
            result, code = await self._send(method, url, data, content_type, raw)
        except KubeError as e:
            code = str(e.status)
            raise
        finally:
            metrics.KUBE_REQUESTS.labels(verb=method, code=code).inc()
            metrics.KUBE_REQUEST_DURATION.labels(verb=method).observe(time.perf_counter() - started)
        return result

    async def _send(
        self, method: str, url: str, data: bytes | None, content_type: str, raw: bool
    ) -> tuple[Any, str]:
        session = await self.session()
        headers = self._auth_headers()
        if data is not None:
            headers["Content-Type"] = content_type
        async with session.request(method, url, data=data, headers=headers) as response:
            body = await response.read()
            await self.raise_for_status(response, body)
            if raw:
                return body, str(response.status)
            try:
                decoded = json.loads(body) if body else None
            except ValueError:
                decoded = {"message": body.decode(errors="replace")}
            return decoded, str(response.status)

    async def raise_for_status(self, response: aiohttp.ClientResponse, raw: bytes = b"") -> None:
        """A `KubeError` for an error answer (its Status body read if not given); a 401
        makes the next request read the token again (it may have been rotated)."""
        if response.status < 400:
            return
        if response.status == 401:
            self._token = None
        raise error_of(response.status, response.reason, raw or await response.read())

    async def list_items(self, path: str, selector: str = "") -> list[dict[str, Any]]:
        """The items of a collection, only those a label selector selects if one is given."""
        query = {"labelSelector": selector} if selector else None
        result = await self.request("GET", path, query=query)
        return list(result.get("items", []))

    async def get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self.request("GET", path)
        except KubeError as e:
            if e.status == 404:
                return None
            raise
        return result
