"""What the operator asks of the API server, request by request, for the RBAC test.

The sandbox counts requests by (verb, group, resource) for every client at once; the RBAC
test needs the operator's requests alone and their subresources (`incidents/status`,
`deployments/scale`, `pods/eviction`), which is how RBAC names them. So the operator talks
to the sandbox through `RecordingProxy`, a transparent HTTP proxy (watch streams included)
that notes each request's RBAC attributes and who in the operator made it (the adapters'
User-Agent is `remediator.adapters.kube.USER_AGENT`, Kopf's is `kopf/...`); everybody else
(the test's own clients, the approvers) talks to the sandbox directly.

On the real control plane the proxy takes plain HTTP on loopback and speaks HTTPS to
kube-apiserver (verified with the cluster's CA, `ca_file`); the client's bearer token goes
through unchanged, so the API server authenticates (and authorizes) the operator itself.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from support.ports import free_port
from support.threaded_server import ThreadedServer

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
# the request goes on as it came: no Content-Type where the client sent none (a create by the
# kubernetes client; kube-apiserver reads JSON then), no compression it did not ask for
SKIP_AUTO_HEADERS = ("Content-Type", "Accept-Encoding")


@dataclass(frozen=True, order=True)
class Attributes:
    """A request as RBAC sees it: verb, API group, resource (with `/subresource`)."""

    verb: str
    group: str
    resource: str


def api_path(path: str) -> tuple[str, list[str]] | None:
    """A resource request's API group and the rest of its path after the version
    (`namespaces/NS/…` included); None for discovery and non-resource URLs."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        return "", parts[2:]
    if parts[:1] == ["apis"] and len(parts) >= 3:
        return parts[1], parts[3:]
    return None


def rbac_attributes(method: str, path: str, query: dict[str, str]) -> Attributes | None:
    """The RBAC attributes of one resource request; None for discovery and non-resource URLs."""
    found = api_path(path)
    if found is None:
        return None
    group, rest = found
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]  # a namespaced request: drop namespaces/NS
    if not rest:
        return None  # discovery of a group version
    resource, name = rest[0], rest[1] if len(rest) > 1 else ""
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    verb = request_verb(method, name, query)
    if verb is None:
        raise KeyError(method)
    return Attributes(verb, group, resource)


def request_verb(method: str, name: str, query: Mapping[str, str]) -> str | None:
    """The API verb of a resource request (`name`: the object's, "" for a collection), as
    RBAC and the fault rules name it; None for a method the API does not serve."""
    watching = query.get("watch") in ("true", "1")
    return {
        "GET": "watch" if watching else ("get" if name else "list"),
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }.get(method)


class RecordingProxy(ThreadedServer):
    """An HTTP proxy to `upstream` on a loopback port of its own, in a thread of its own."""

    thread_name = "recording-proxy"

    def __init__(self, upstream: str, ca_file: Path | None = None) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.ca_file = ca_file  # the CA of an HTTPS upstream (the real API server)
        self.port = free_port()
        self.requests: Counter[tuple[str, Attributes]] = Counter()
        self.answers: list[tuple[str, Attributes, int]] = []  # (User-Agent, request, status)
        self._lock = threading.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def observed(self, agent_prefix: str = "") -> set[Attributes]:
        """The requests made, by clients whose User-Agent starts with `agent_prefix`."""
        with self._lock:
            return {a for agent, a in self.requests if agent.startswith(agent_prefix)}

    def forbidden(self, since: int = 0) -> list[Attributes]:
        """The requests answered 403 since `mark()` returned `since`."""
        with self._lock:
            return [a for _, a, status in self.answers[since:] if status == 403]

    def mark(self) -> int:
        with self._lock:
            return len(self.answers)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            return await self._relay(request)
        finally:
            self._handlers.discard(task)

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        attributes = rbac_attributes(request.method, request.path, dict(request.query))
        if attributes is not None:
            with self._lock:
                self.requests[request.headers.get("User-Agent", ""), attributes] += 1
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        body = await request.read() if request.can_read_body else None
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as upstream:
            if attributes is not None:
                with self._lock:
                    agent = request.headers.get("User-Agent", "")
                    self.answers.append((agent, attributes, upstream.status))
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS},
            )
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            except (ConnectionResetError, aiohttp.ClientPayloadError):
                return response
            await response.write_eof()
            return response

    async def _serve(self) -> None:
        context = (
            ssl.create_default_context(cafile=str(self.ca_file))
            if self.ca_file is not None
            else None
        )
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context if context is not None else True),
            timeout=aiohttp.ClientTimeout(total=None),
            # the body goes back as it came (compressed if the server compressed it,
            # its Content-Encoding passed on)
            auto_decompress=False,
            skip_auto_headers=SKIP_AUTO_HEADERS,
        )
        app = web.Application(client_max_size=3 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _shutdown(self) -> None:
        # the requests still relayed first: a watch kube-apiserver holds open (it sends
        # nothing for a minute at a time) would hold up the cleanup until it timed out
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
