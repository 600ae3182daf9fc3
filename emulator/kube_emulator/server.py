"""HTTP face of the emulated API: kube-apiserver's paths, content negotiation and watch streams.

Everything about objects lives in `api.Api`; this module maps requests onto it the way
kube-apiserver does: `/api` and `/apis` discovery, resource paths (namespaced, cluster-wide,
subresources), JSON (and YAML) bodies, the four patch media types, Table and
PartialObjectMetadata output for kubectl, chunked lists, and chunked watch streams
resuming from a resourceVersion.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from aiohttp import web

from . import errors, openapi, rbac, tables
from .admission import Admission, Write
from .api import Api, ListOptions, Request
from .auth import ANONYMOUS, SANDBOX_ADMIN, Authenticator, User
from .errors import ApiError
from .faults import Call, FaultRule, Faults
from .registry import ResourceInfo
from .store import Change

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-remediator-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23",
    "compiler": "gc",
    "platform": "linux/amd64",
}
JSON_TYPES = ("application/json", "application/yaml")
PROTOBUF = "application/vnd.kubernetes.protobuf"
DEFAULT_WATCH_TIMEOUT = 1800.0
LIVENESS_CHECK = 0.5
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
ACCESS_REVIEWS = ("authorization.k8s.io", "selfsubjectaccessreviews")
HANG_POLL = 0.05


@dataclass(frozen=True)
class Target:
    info: ResourceInfo
    namespace: str
    name: str
    subresource: str


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiServer:
    """The aiohttp application serving one `Api`."""

    def __init__(
        self,
        api: Api,
        *,
        bookmark_interval: float = 1.0,
        authenticator: Authenticator | None = None,
        anonymous_is_admin: bool = True,
        authorizer: rbac.Authorizer | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.api = api
        self.auth = authenticator or Authenticator()
        self.authorizer: rbac.Authorizer = authorizer or rbac.AlwaysAllow()
        self.faults = faults or Faults()
        # kubectl sends no credentials over plain HTTP; by default the sandbox lets such
        # requests act as the admin, like a local development cluster. Tests that prove who
        # did what start it with anonymous_is_admin=False (anonymous: discovery only).
        self.anonymous_is_admin = anonymous_is_admin
        self.admission = Admission(api.store)
        self.bookmark_interval = bookmark_interval
        self.app = web.Application(client_max_size=3 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self.dispatch)
        self.app.on_shutdown.append(self._on_shutdown)
        self._closing = False

    async def _on_shutdown(self, app: web.Application) -> None:
        """Like kube-apiserver shutting down: open watches end (clients re-watch elsewhere)."""
        self._closing = True

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch(request)
        except errors.PageNotFoundError:
            # outside every served group version kube-apiserver's mux answers in plain text
            return web.Response(status=404, text="404 page not found\n")
        except ApiError as e:
            response = _status_response(e)
            for header, value in e.headers.items():
                response.headers[header] = value
            return response
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as e:  # pragma: no cover - a bug of ours; still answer like the API
            return _status_response(ApiError(500, "InternalError", f"sandbox bug: {e!r}"))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        checked = self.authorizer.mode != "AlwaysAllow"
        if checked and not _is_resource_path(parts):
            # kube-apiserver authorizes discovery, /version and health checks as
            # non-resource URLs (the bootstrap system:discovery and public-info roles)
            caller = self._authenticate(request)
            attrs = rbac.Attributes(
                user=caller.name,
                groups=caller.groups,
                verb=request.method.lower(),
                resource_request=False,
                path=request.path,
            )
            decision = self.authorizer.authorize(attrs)
            if not decision.allowed:
                raise rbac.forbidden(attrs, decision.reason)
        if parts in (["healthz"], ["readyz"], ["livez"]):
            return web.Response(text="ok")
        if request.method == "GET":
            discovery = self._discovery(parts)
            if discovery is not None:
                return _json(discovery)
        target = self._target(parts)
        verb = _verb(request, target)
        self.api.store.count_request(verb, target.info.group, target.info.plural)
        user = self._authenticate(request)
        if checked:
            self._authorize(request, target, verb, user)
        elif user.name == "system:anonymous" and not self.anonymous_is_admin:
            # kube-apiserver's default RBAC lets anonymous users read discovery only
            raise ApiError(
                403,
                "Forbidden",
                f"{target.info.plural}{'.' + target.info.group if target.info.group else ''} is "
                f'forbidden: User "system:anonymous" cannot {verb} resource '
                f'"{target.info.plural}" in API group "{target.info.group}"'
                + (f' in the namespace "{target.namespace}"' if target.namespace else "")
                + (" at the cluster scope" if not target.namespace else ""),
                details={"kind": target.info.plural, "group": target.info.group},
            )
        req = Request(
            user=user.name,
            groups=user.groups,
            dry_run=request.query.get("dryRun") == "All",
            field_validation=request.query.get("fieldValidation") or "Warn",
        )
        _check_options(request)
        call = Call(
            verb=verb,
            group=target.info.group,
            resource=target.info.plural,
            subresource=target.subresource,
            namespace=target.namespace,
            name=target.name,
            user=req.user,
            resource_version=""
            if request.query.get("sendInitialEvents") == "true"
            else request.query.get("resourceVersion", ""),
        )
        fault = self.faults.decide(call)
        if fault is not None:
            # injected faults answer before the verb runs: nothing is stored or logged
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                raise fault.error(call)
            if fault.timeout and not fault.apply_then_drop:
                return await self._hang(request, fault)
        if verb == "watch":
            return await self._watch(request, target, fault)
        rv_before = self.api.store.rv
        response = await self._handle(request, target, verb, req)
        dropped = fault is not None and fault.apply_then_drop
        if verb in WRITE_VERBS and (target.info.group, target.info.plural) != ACCESS_REVIEWS:
            self.api.store.record_write(
                verb="evict" if target.subresource == "eviction" else verb,
                group=target.info.group,
                resource=target.info.plural,
                subresource="" if target.subresource == "eviction" else target.subresource,
                namespace=target.namespace,
                name=target.name or _created_name(response),
                user=req.user,
                dry_run=req.dry_run,
                changed=self.api.store.rv != rv_before,
                response_dropped=dropped,
            )
        if fault is not None and fault.apply_then_drop:
            return await self._hang(request, fault)
        if req.warnings:
            for warning in req.warnings:
                quoted = warning.replace("\\", "\\\\").replace('"', '\\"')
                response.headers.add("Warning", f'299 - "{quoted}"')
        return response

    # ------------------------------------------------- identity and authorization
    def _authenticate(self, request: web.Request) -> User:
        user = self.auth.authenticate(request.headers.get("Authorization"))
        if user is ANONYMOUS and self.anonymous_is_admin:
            user = SANDBOX_ADMIN
        if "Impersonate-User" in request.headers:
            user = self._impersonate(request, user)
        return user

    def _impersonate(self, request: web.Request, caller: User) -> User:
        """`kubectl --as=NAME --as-group=G`: act as another identity if allowed to.

        As kube-apiserver's impersonation filter: the caller needs `impersonate` on
        `users` (or on the `serviceaccounts` object for a service account's name) and on
        every `groups` it asks for.
        """
        name = request.headers["Impersonate-User"]
        groups = tuple(request.headers.getall("Impersonate-Group", ()))
        checks: list[tuple[str, str, str]] = [("", "users", name)]
        if name.startswith(rbac.SERVICE_ACCOUNT_PREFIX):
            namespace, _, sa = name[len(rbac.SERVICE_ACCOUNT_PREFIX) :].partition(":")
            checks = [(namespace, "serviceaccounts", sa)]
        checks += [("", "groups", g) for g in groups]
        for namespace, resource, object_name in checks:
            attrs = rbac.Attributes(
                user=caller.name,
                groups=caller.groups,
                verb="impersonate",
                resource=resource,
                namespace=namespace,
                name=object_name,
            )
            decision = self.authorizer.authorize(attrs)
            if not decision.allowed:
                raise rbac.forbidden(attrs, decision.reason)
        if not groups:
            groups = rbac.service_account_groups(name)
        if name != "system:anonymous" and "system:authenticated" not in groups:
            groups = (*groups, "system:authenticated")
        return User(name, groups)

    def _authorize(self, request: web.Request, target: Target, verb: str, user: User) -> None:
        name = target.name
        if not name and verb in ("list", "watch"):
            # kube-apiserver takes the name of a list or watch from its fieldSelector, so
            # that resourceNames can grant watching one object
            name = _selected_name(request.query.get("fieldSelector", ""))
        attrs = rbac.Attributes(
            user=user.name,
            groups=user.groups,
            verb=verb,
            group=target.info.group,
            resource=target.info.plural,
            subresource=target.subresource,
            namespace=target.namespace,
            name=name,
        )
        decision = self.authorizer.authorize(attrs)
        if not decision.allowed:
            raise rbac.forbidden(attrs, decision.reason)

    def _access_review(self, body: Any, req: Request) -> dict[str, Any]:
        """A SelfSubjectAccessReview: may the caller do what its spec describes?"""
        if not isinstance(body, dict):
            raise errors.bad_request("SelfSubjectAccessReview must be a JSON object")
        spec = body.get("spec") or {}
        attrs = rbac.access_review_attributes(spec, req.user, req.groups)
        decision = self.authorizer.authorize(attrs)
        status: dict[str, Any] = {"allowed": decision.allowed}
        if decision.reason:
            status["reason"] = decision.reason
        return {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }

    # ----------------------------------------------------------------- faults
    async def _hang(self, request: web.Request, fault: FaultRule) -> web.StreamResponse:
        return await hang(request, fault, lambda: self._closing)

    # ------------------------------------------------------------- discovery
    def _discovery(self, parts: list[str]) -> dict[str, Any] | None:
        registry = self.api.registry
        if parts == ["version"]:
            return VERSION_INFO
        if parts == ["api"]:
            return registry.api_versions()
        if parts == ["api", "v1"]:
            return registry.resource_list("", "v1")
        if parts == ["apis"]:
            return registry.api_group_list()
        if len(parts) == 2 and parts[0] == "apis":
            return registry.api_group(parts[1])
        if len(parts) == 3 and parts[0] == "apis":
            return registry.resource_list(parts[1], parts[2])
        if parts and parts[0] == "openapi":
            return openapi.document(registry, parts[1:])
        return None

    def _target(self, parts: list[str]) -> Target:
        if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[:1] == ["api"]:
            raise errors.no_such_path()
        else:
            raise errors.PageNotFoundError()
        if group not in self.api.registry.group_versions():
            raise errors.PageNotFoundError()  # a group's own handler answers with a Status
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise errors.no_such_path()
        info = self.api.registry.get(group, version, rest[0])
        if namespace and not info.namespaced:
            # a custom resource's handler passes what it does not serve to the mux
            raise errors.PageNotFoundError() if info.custom else errors.no_such_path()
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if subresource and not (
            (subresource == "status" and info.status)
            or (subresource == "scale" and info.scale)
            or (subresource == "eviction" and info.eviction)
            or (subresource == "log" and info.log)
        ):
            raise errors.no_such_path()
        return Target(info, namespace, name, subresource)

    # ----------------------------------------------------------------- verbs
    async def _handle(
        self, request: web.Request, target: Target, verb: str, req: Request
    ) -> web.StreamResponse:
        info, ns, name, sub = target.info, target.namespace, target.name, target.subresource
        api = self.api
        if verb == "get":
            if sub == "scale":
                return _json(api.get_scale(info, ns, name))
            if sub == "log":
                return web.Response(
                    body=api.pod_log(ns, name, request.query), content_type="text/plain"
                )
            return self._render_one(request, info, api.get(info, ns, name))
        if verb == "list":
            return self._render_list(request, info, ns)
        if verb == "create":
            if (info.group, info.plural) == ACCESS_REVIEWS:
                # kubectl's typed client sends this one as protobuf
                if request.content_type == PROTOBUF:
                    body = rbac.decode_access_review(await request.read())
                else:
                    body = await _body(request)
                return _json(self._access_review(body, req), status=201)
            body = await _body(request)
            if sub == "eviction":
                return _json(api.evict(info, ns, name, body, req), status=201)
            if info.namespaced and not ns:
                raise errors.method_not_allowed("POST")
            if self.admission.active(info, "CREATE", sub):
                return _json(await self._admitted_create(info, ns, body, req), status=201)
            return _json(api.create(info, ns, body, req), status=201)
        if verb == "update":
            body = await _body(request)
            if self.admission.active(info, "UPDATE", sub):
                candidate = api.update(info, ns, name, body, _dry(req), sub)
                return _json(await self._admitted_update(info, ns, name, candidate, req, sub))
            return _json(api.update(info, ns, name, body, req, sub))
        if verb == "patch":
            content_type = request.content_type
            if content_type == PROTOBUF:
                raise errors.unsupported_media_type(content_type, JSON_TYPES)
            raw = await request.read()
            patch = _parse(raw, yaml_ok=content_type == "application/apply-patch+yaml")
            if content_type == "application/apply-patch+yaml" and not request.query.get(
                "fieldManager"
            ):
                raise _invalid_options(
                    "Patch",
                    "fieldManager",
                    "FieldValueRequired",
                    "Required value: is required for apply patch",
                )
            if content_type == "application/apply-patch+yaml":
                return _json(self._apply(info, ns, name, patch, req))
            if self.admission.active(info, "UPDATE", sub):
                # kube-apiserver re-applies a patch to the latest object when a write lands
                # while the webhooks run; only a patch that names a resourceVersion conflicts.
                for attempt in range(5):
                    candidate = api.patch(info, ns, name, patch, content_type, _dry(req), sub)
                    try:
                        return _json(
                            await self._admitted_update(info, ns, name, candidate, req, sub)
                        )
                    except ApiError as e:
                        if e.code != 409 or _names_resource_version(patch) or attempt == 4:
                            raise
            return _json(api.patch(info, ns, name, patch, content_type, req, sub))
        if verb == "delete":
            options = await _optional_body(request)
            if request.query.get("propagationPolicy"):
                options.setdefault("propagationPolicy", request.query["propagationPolicy"])
            return _json(api.delete(info, ns, name, options, req))
        if verb == "deletecollection":
            options = await _optional_body(request)
            deleted = api.delete_collection(info, self._list_options(request, ns), options, req)
            return _json(self._list_body(info, deleted, None))
        raise errors.method_not_allowed(request.method)

    async def _admitted_create(
        self, info: ResourceInfo, ns: str, body: Any, req: Request
    ) -> dict[str, Any]:
        """Create through admission: webhooks see the object as it would be stored."""
        candidate = self.api.create(info, ns, body, _dry(req))
        admitted = await self.admission.review(Write(info, "CREATE", "", candidate, None, req))
        assert admitted is not None
        meta = admitted.setdefault("metadata", {})
        meta.pop("generateName", None)
        for server_field in ("uid", "creationTimestamp", "resourceVersion", "generation"):
            meta.pop(server_field, None)
        return self.api.create(info, ns, admitted, req)

    async def _admitted_update(
        self,
        info: ResourceInfo,
        ns: str,
        name: str,
        candidate: dict[str, Any],
        req: Request,
        sub: str,
    ) -> dict[str, Any]:
        old = self.api.get(info, ns, name)
        if candidate == old:
            return old  # a no-op write is not sent to webhooks (nothing would be stored)
        admitted = await self.admission.review(Write(info, "UPDATE", sub, candidate, old, req))
        assert admitted is not None
        admitted.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self.api.update(info, ns, name, admitted, req, sub)

    def _apply(
        self, info: ResourceInfo, ns: str, name: str, patch: Any, req: Request
    ) -> dict[str, Any]:
        """Server-side apply, approximated: create when absent, else merge the configuration."""
        current = self.api.store.get(info.storage_key, ns, name)
        if current is None:
            return self.api.create(info, ns, patch, req)
        return self.api.patch(info, ns, name, patch, "application/apply-patch+yaml", req)

    # ----------------------------------------------------------------- lists
    def _list_options(self, request: web.Request, ns: str) -> ListOptions:
        return ListOptions(
            namespace=ns or None,
            label_selector=request.query.get("labelSelector"),
            field_selector=request.query.get("fieldSelector"),
        )

    def _render_list(self, request: web.Request, info: ResourceInfo, ns: str) -> web.Response:
        start = _decode_continue(request.query.get("continue"))
        limit = _int(request.query.get("limit"), 0)
        items, remaining = self.api.list_page(
            info, self._list_options(request, ns), start, limit, _sort_key
        )
        continue_token = _encode_continue(_sort_key(items[-1])) if remaining else None
        accept = request.headers.get("Accept", "")
        if "as=Table" in accept:
            table = self._table(info, items, _include_object(request), continue_token)
            return _json(table)
        _check_accept(accept)
        body = self._list_body(info, items, continue_token)
        if remaining:
            body["metadata"]["remainingItemCount"] = remaining
        if "as=PartialObjectMetadataList" in accept:
            body = {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": body["metadata"],
                "items": [_partial(i) for i in items],
            }
        return _json(body)

    def _list_body(
        self, info: ResourceInfo, items: list[dict[str, Any]], continue_token: str | None
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {"resourceVersion": str(self.api.store.rv)}
        if continue_token:
            metadata["continue"] = continue_token
        if not info.custom:
            items = [{k: v for k, v in i.items() if k not in ("apiVersion", "kind")} for i in items]
        return {
            "kind": info.list_kind,
            "apiVersion": info.api_version,
            "metadata": metadata,
            "items": items,
        }

    def _render_one(
        self, request: web.Request, info: ResourceInfo, obj: dict[str, Any]
    ) -> web.Response:
        accept = request.headers.get("Accept", "")
        if "as=Table" in accept:
            return _json(self._table(info, [obj], _include_object(request), None))
        _check_accept(accept)
        if "as=PartialObjectMetadata" in accept:
            return _json(_partial(obj))
        return _json(obj)

    def _table(
        self,
        info: ResourceInfo,
        items: list[dict[str, Any]],
        include_object: str,
        continue_token: str | None,
        with_columns: bool = True,
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        rows: list[tuple[list[Any], dict[str, Any]]] = []
        if info.custom:
            columns = tables.crd_columns(info.printer_columns)
            for item in items:
                rows.append((tables.crd_row_cells(item, info.printer_columns, now), item))
        else:
            columns = []
            for item in items:
                columns, cells = tables.builtin_columns_and_cells(info.kind, item, now)
                rows.append((cells, item))
            if not items:
                columns, _ = tables.builtin_columns_and_cells(
                    info.kind, {"metadata": {"name": ""}}, now
                )
        return tables.build_table(
            rows,
            columns if with_columns else [],
            include_object=include_object,
            resource_version=str(self.api.store.rv),
            continue_token=continue_token,
        )

    # ----------------------------------------------------------------- watch
    async def _watch(
        self, request: web.Request, target: Target, fault: FaultRule | None = None
    ) -> web.StreamResponse:
        info = target.info
        drop_at = None
        if fault is not None and fault.drop_watch_after is not None:
            drop_at = time.monotonic() + fault.drop_watch_after
        options = self._list_options(request, target.namespace)
        if target.name:
            options = ListOptions(
                namespace=options.namespace,
                label_selector=options.label_selector,
                field_selector=",".join(
                    s for s in (options.field_selector, f"metadata.name={target.name}") if s
                ),
            )
        matches = self.api.matcher(info, options)
        rv_param = request.query.get("resourceVersion", "")
        send_initial = request.query.get("sendInitialEvents") == "true"
        bookmarks = request.query.get("allowWatchBookmarks") == "true"
        timeout = float(_int(request.query.get("timeoutSeconds"), 0) or DEFAULT_WATCH_TIMEOUT)
        as_table = "as=Table" in request.headers.get("Accept", "")
        store = self.api.store

        watcher = store.subscribe(info.storage_key)
        try:
            initial: list[dict[str, Any]] = []
            if rv_param in ("", "0") or send_initial:
                initial = [
                    {"type": "ADDED", "object": self.api.present(info, obj)}
                    for obj in store.iter(info.storage_key, options.namespace)
                    if matches(obj)
                ]
            if rv_param not in ("", "0") and not send_initial:
                history = store.history_since(info.storage_key, _int(rv_param, -1))
                if fault is not None and fault.gone_on_rewatch:
                    history = None  # injected: as if etcd had compacted this version away
                if history is None:
                    initial = [
                        {
                            "type": "ERROR",
                            "object": errors.gone(
                                f"too old resource version: {rv_param} ({store.compacted_rv})"
                            ).status(),
                        }
                    ]
                else:
                    initial = [e for c in history if (e := self._event(info, c, options, matches))]
            if send_initial:
                initial.append(self._bookmark(info, initial_end=True))

            response = web.StreamResponse(
                status=200,
                headers={"Content-Type": "application/json", "Cache-Control": "no-cache"},
            )
            response.enable_chunked_encoding()
            await response.prepare(request)
            first_table = [True]

            async def send(event: dict[str, Any]) -> None:
                if as_table and event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    event = {
                        "type": event["type"],
                        "object": self._table(
                            info,
                            [event["object"]],
                            _include_object(request),
                            None,
                            with_columns=first_table[0],
                        ),
                    }
                    first_table[0] = False
                await response.write(json.dumps(event).encode() + b"\n")

            for event in initial:
                await send(event)
                if event["type"] == "ERROR":
                    return response
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + self.bookmark_interval
            while (remaining := deadline - time.monotonic()) > 0:
                # aiohttp does not cancel a handler whose client went away: look every
                # LIVENESS_CHECK seconds, so abandoned watches (and their queues) end.
                if self._closing or request.transport is None or request.transport.is_closing():
                    break
                if drop_at is not None and time.monotonic() >= drop_at:
                    assert fault is not None
                    self.faults.record("drop_watch")
                    if fault.abrupt:  # a broken connection: no final chunk
                        request.transport.close()
                    break
                wait = min(remaining, LIVENESS_CHECK)
                if bookmarks:
                    wait = max(0.0, min(wait, next_bookmark - time.monotonic()))
                if drop_at is not None:
                    wait = max(0.0, min(wait, drop_at - time.monotonic()))
                try:
                    change = await asyncio.wait_for(watcher.queue.get(), wait)
                except TimeoutError:
                    now = time.monotonic()
                    if bookmarks and now >= next_bookmark and deadline > now:
                        await send(self._bookmark(info))
                        next_bookmark = now + self.bookmark_interval
                    continue
                live = self._event(info, change, options, matches)
                if live:
                    await send(live)
            return response
        except (ConnectionResetError, ConnectionError):
            return web.Response(status=200)
        finally:
            store.unsubscribe(watcher)

    def _event(
        self,
        info: ResourceInfo,
        change: Change,
        options: ListOptions,
        matches: Callable[[dict[str, Any]], bool],
    ) -> dict[str, Any] | None:
        """A change as this watch sees it: moving into or out of its selector is ADDED/DELETED."""
        ns = options.namespace
        if ns is not None and change.obj["metadata"].get("namespace", "") != ns:
            return None
        now_in = matches(change.obj)
        was_in = change.old is not None and matches(change.old)
        kind = change.type
        if kind == "MODIFIED":
            if now_in and not was_in:
                kind = "ADDED"
            elif was_in and not now_in:
                kind = "DELETED"
            elif not now_in:
                return None
        elif kind == "DELETED":
            if not (was_in or now_in):
                return None
        elif not now_in:
            return None
        return {"type": kind, "object": self.api.present(info, change.obj)}

    def _bookmark(self, info: ResourceInfo, initial_end: bool = False) -> dict[str, Any]:
        metadata: dict[str, Any] = {"resourceVersion": str(self.api.store.rv)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {
            "type": "BOOKMARK",
            "object": {"kind": info.kind, "apiVersion": info.api_version, "metadata": metadata},
        }


def _is_resource_path(parts: list[str]) -> bool:
    """As kube's RequestInfo: /api/VERSION/... and /apis/GROUP/VERSION/... name resources."""
    return (len(parts) >= 3 and parts[0] == "api") or (len(parts) >= 4 and parts[0] == "apis")


def _selected_name(field_selector: str) -> str:
    for term in field_selector.split(","):
        key, sep, value = term.partition("==") if "==" in term else term.partition("=")
        if sep and key.strip() == "metadata.name" and not key.endswith("!"):
            return value.strip()
    return ""


def _names_resource_version(patch: Any) -> bool:
    if isinstance(patch, dict):
        return bool((patch.get("metadata") or {}).get("resourceVersion"))
    if isinstance(patch, list):
        return any(
            isinstance(op, dict) and str(op.get("path", "")).startswith("/metadata/resourceVersion")
            for op in patch
        )
    return False


def _check_options(request: web.Request) -> None:
    """kube-apiserver validates a write's options object: a 422 naming it."""
    options = {"POST": "Create", "PUT": "Update", "PATCH": "Patch"}.get(request.method, "Delete")
    dry_run = request.query.get("dryRun")
    validation = request.query.get("fieldValidation")
    if dry_run not in (None, "", "All"):
        field, detail = "dryRun", f'Unsupported value: ["{dry_run}"]: supported values: "All"'
    elif options != "Delete" and validation not in (None, "", "Ignore", "Strict", "Warn"):
        supported = '"", "Ignore", "Strict", "Warn"'
        field, detail = (
            "fieldValidation",
            (f'Unsupported value: "{validation}": supported values: {supported}'),
        )
    else:
        return
    raise _invalid_options(options, field, "FieldValueNotSupported", detail)


def _invalid_options(options: str, field: str, reason: str, detail: str) -> ApiError:
    """The 422 about a request's options object (`CreateOptions`, ...), which has no name."""
    error = errors.invalid(
        f"{options}Options",
        "meta.k8s.io",
        "",
        [{"reason": reason, "message": detail, "field": field}],
        f'{options}Options.meta.k8s.io "" is invalid: {field}: {detail}',
    )
    if error.details is not None:
        error.details.pop("name", None)
    return error


def _dry(req: Request) -> Request:
    return Request(
        user=req.user, groups=req.groups, dry_run=True, field_validation=req.field_validation
    )


def _verb(request: web.Request, target: Target) -> str:
    method = request.method
    if method == "GET":
        if target.name:
            return "watch" if request.query.get("watch") in ("true", "1") else "get"
        return "watch" if request.query.get("watch") in ("true", "1") else "list"
    if method == "POST":
        return "create"
    if method == "PUT" and target.name:
        return "update"
    if method == "PATCH" and target.name:
        return "patch"
    if method == "DELETE":
        return "delete" if target.name else "deletecollection"
    raise errors.method_not_allowed(method)


async def _body(request: web.Request) -> Any:
    content_type = request.content_type
    if content_type == PROTOBUF:
        raise errors.unsupported_media_type(content_type, JSON_TYPES)
    if content_type not in (*JSON_TYPES, "application/octet-stream", ""):
        raise errors.unsupported_media_type(content_type, JSON_TYPES)
    raw = await request.read()
    return _parse(raw, yaml_ok=content_type == "application/yaml")


async def _optional_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await _body(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise errors.bad_request("DeleteOptions must be a JSON object")
    return body


def _parse(raw: bytes, *, yaml_ok: bool) -> Any:
    if not raw.strip():
        return None
    try:
        if yaml_ok:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as e:
        raise errors.bad_request(f"the body of the request could not be decoded: {e}") from None


def _created_name(response: web.StreamResponse) -> str:
    """The name the server gave a created object (generateName), read back from the answer."""
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return ""
    try:
        return str(json.loads(response.body).get("metadata", {}).get("name", ""))
    except (ValueError, AttributeError):
        return ""


def _check_accept(accept: str) -> None:
    if not accept:
        return
    types = [part.split(";")[0].strip() for part in accept.split(",")]
    if all(t == PROTOBUF for t in types):
        raise errors.not_acceptable(("application/json", "application/yaml"))


def _include_object(request: web.Request) -> str:
    value = request.query.get("includeObject", "Metadata")
    return value if value in ("None", "Metadata", "Object") else "Metadata"


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def _sort_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _encode_continue(key: str) -> str:
    return base64.urlsafe_b64encode(
        json.dumps({"v": "meta.k8s.io/v1", "start": key}).encode()
    ).decode()


def _decode_continue(token: str | None) -> str | None:
    if not token:
        return None
    try:
        start = json.loads(base64.urlsafe_b64decode(token.encode()))["start"]
    except (ValueError, KeyError, TypeError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start") from None
    return str(start)


def _int(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f"invalid integer value: {value!r}") from None


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body).encode(), content_type="application/json"
    )


def _status_response(error: ApiError) -> web.Response:
    return _json(error.status(), status=error.code)


async def hang(
    request: web.Request, fault: FaultRule, closing: Callable[[], bool]
) -> web.StreamResponse:
    """Answer nothing: hold the connection until the client gives up (or the server is
    `closing`), then close it. The emulator's hung requests, and the real cluster's fault
    proxy's (tests/real/proxy.py)."""
    deadline = time.monotonic() + fault.hang
    while time.monotonic() < deadline and not closing():
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(HANG_POLL)
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=504)  # never delivered: the connection is gone
