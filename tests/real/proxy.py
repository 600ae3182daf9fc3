"""A fault-injecting proxy between a client (the operator) and the real kube-apiserver.

On the emulator the faults are injected inside the server (`Sandbox.faults`); the real API
server cannot be made to fail on demand, so the operator talks to it through this proxy
instead: plain HTTP on loopback in, HTTPS to kube-apiserver out, the client's own bearer
token passed through (so the audit log names the client's identity). The same
`kube_emulator.faults.Faults` rules decide what fails, with the same effects: an error
`Status` (500/503/409/429) before the request reaches the server, a late answer, no answer
at all, a write applied whose answer is lost, a watch dropped mid-way, a watch resumed from
a resourceVersion answered with 410 Gone. When kube-apiserver itself is down or dies
mid-request, the client's connection is closed with no answer, as the server's would be.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from kube_emulator.faults import Call, FaultRule, Faults
from kube_emulator.server import hang
from support.ports import free_port
from support.recording_proxy import api_path, request_verb
from support.threaded_server import ThreadedServer

HOP_HEADERS = {
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "accept-encoding",
    "content-encoding",
}


def parse_call(method: str, path: str, query: dict[str, str], user: str) -> Call | None:
    """The API call a request is (as the faults match it), or None for discovery and other
    non-resource paths."""
    found = api_path(path)
    if found is None or not found[1]:
        return None
    group, rest = found
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    verb = request_verb(method, name, query) or method.lower()
    resource_version = (
        "" if query.get("sendInitialEvents") == "true" else query.get("resourceVersion", "")
    )
    return Call(verb, group, resource, subresource, namespace, name, user, resource_version)


class FaultProxy(ThreadedServer):
    """`with FaultProxy(upstream, ca_file) as proxy:` serves on `proxy.url` until the end."""

    thread_name = "fault-proxy"

    def __init__(self, upstream: str, ca_file: Path) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.ca_file = ca_file
        self.faults = Faults()
        self.users: dict[str, str] = {}  # bearer token -> the user it authenticates as
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closing = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._closing = True
        super().stop()

    async def _serve(self) -> None:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,
            # pass the request on as it came: the kubernetes client sends no Content-Type
            # on a create (kube-apiserver reads JSON then), and asks for no compression
            skip_auto_headers=("Content-Type", "Accept-Encoding"),
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # ------------------------------------------------------------------ requests
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        call = parse_call(
            request.method, request.path, dict(request.query), self.users.get(token, "")
        )
        fault = self.faults.decide(call) if call is not None else None
        if fault is not None and call is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                error = fault.error(call)
                return web.json_response(error.status(), status=error.code, headers=error.headers)
            if fault.timeout and not fault.apply_then_drop:
                return await self._hang(request, fault)
        try:
            if call is not None and call.verb == "watch":
                return await self._watch(request, fault)
            status, headers, body = await self._forward(request)
        except (aiohttp.ClientError, OSError):
            # kube-apiserver is down or went down mid-request (the chaos runs restart it):
            # the client loses its connection, as it would talking to the server itself
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=502)  # never delivered: the connection is gone
        if fault is not None and fault.apply_then_drop:
            return await self._hang(request, fault)  # applied upstream; the answer is lost
        return web.Response(status=status, headers=headers, body=body)

    def _headers(self, request: web.Request) -> dict[str, str]:
        return {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}

    async def _forward(self, request: web.Request) -> tuple[int, dict[str, str], bytes]:
        assert self._session is not None
        data = await request.read()
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=self._headers(request),
            data=data or None,
            timeout=aiohttp.ClientTimeout(total=120),
        ) as upstream:
            body = await upstream.read()
            headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
            return upstream.status, headers, body

    async def _watch(self, request: web.Request, fault: FaultRule | None) -> web.StreamResponse:
        assert self._session is not None
        if fault is not None and fault.gone_on_rewatch:
            # as if etcd had compacted the version away: the client must list again
            gone = {
                "type": "ERROR",
                "object": {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": "too old resource version (injected fault)",
                    "reason": "Expired",
                    "code": 410,
                },
            }
            response = web.StreamResponse(status=200)
            response.content_type = "application/json"
            await response.prepare(request)
            await response.write(json.dumps(gone).encode() + b"\n")
            await response.write_eof()
            return response
        drop_at = (
            time.monotonic() + fault.drop_watch_after
            if fault is not None and fault.drop_watch_after is not None
            else None
        )
        async with self._session.request(
            "GET",
            self.upstream + request.path_qs,
            headers=self._headers(request),
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            response.content_type = upstream.headers.get("Content-Type", "application/json")
            await response.prepare(request)
            while not self._closing:
                timeout = None if drop_at is None else max(0.0, drop_at - time.monotonic())
                try:
                    line = await asyncio.wait_for(upstream.content.readline(), timeout)
                except TimeoutError:
                    line = None
                except (aiohttp.ClientError, OSError):  # the server died mid-watch
                    if request.transport is not None:
                        request.transport.close()
                    return response
                if line is None:  # the injected drop
                    self.faults.record("drop_watch")
                    assert fault is not None
                    if fault.abrupt and request.transport is not None:
                        request.transport.close()
                        return response
                    break
                if not line:
                    break  # the server ended the watch
                try:
                    await response.write(line)
                except (ConnectionResetError, RuntimeError):
                    return response
            await response.write_eof()
            return response

    async def _hang(self, request: web.Request, fault: FaultRule) -> web.StreamResponse:
        return await hang(request, fault, lambda: self._closing)


def proxied_kubeconfig(path: Path, url: str, token: str, namespace: str = "default") -> Path:
    """A kubeconfig that reaches the API server through the proxy, as the token's identity."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "proxied", "cluster": {"server": url}}],
        "users": [{"name": "proxied", "user": {"token": token}}],
        "contexts": [
            {
                "name": "proxied",
                "context": {"cluster": "proxied", "user": "proxied", "namespace": namespace},
            }
        ],
        "current-context": "proxied",
    }
    path.write_text(json.dumps(body, indent=2))
    path.chmod(0o600)
    return path
