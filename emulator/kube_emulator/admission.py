"""Dynamic admission: calling the registered mutating and validating webhooks.

kube-apiserver sends an `admission.k8s.io/v1` AdmissionReview with the caller's userInfo to
every webhook whose rules match a write, applies the JSON patches of mutating webhooks in
order, then lets validating webhooks refuse. Operators such as ours rely on that to stamp
identities and reject invalid objects, so the emulator does the same for webhooks given by
`clientConfig.url` (services cannot be resolved without a cluster network).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from . import patches
from .api import Request
from .errors import ApiError
from .registry import ResourceInfo
from .store import Store

MUTATING = ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
VALIDATING = ("admissionregistration.k8s.io", "validatingwebhookconfigurations")


def _matches(rule: Mapping[str, Any], info: ResourceInfo, operation: str, sub: str) -> bool:
    def has(values: Any, value: str) -> bool:
        return "*" in (values or []) or value in (values or [])

    resource = f"{info.plural}/{sub}" if sub else info.plural
    resources = rule.get("resources") or []
    resource_ok = (
        resource in resources
        or ("*" in resources and not sub)
        or ("*/*" in resources)
        or (sub and f"{info.plural}/*" in resources)
    )
    scope = rule.get("scope", "*")
    scope_ok = scope == "*" or (scope == "Namespaced") == info.namespaced
    return bool(
        has(rule.get("operations"), operation)
        and has(rule.get("apiGroups"), info.group)
        and has(rule.get("apiVersions"), info.version)
        and resource_ok
        and scope_ok
    )


@dataclass(frozen=True)
class Write:
    """A write the webhooks are asked about (an AdmissionReview's request)."""

    info: ResourceInfo
    operation: str  # CREATE | UPDATE
    sub: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    req: Request


class Admission:
    def __init__(self, store: Store) -> None:
        self.store = store

    def webhooks(
        self, key: tuple[str, str], info: ResourceInfo, operation: str, sub: str
    ) -> list[dict[str, Any]]:
        found = []
        for config in self.store.iter(key):
            for webhook in config.get("webhooks") or []:
                if any(_matches(r, info, operation, sub) for r in webhook.get("rules") or []):
                    found.append(webhook)
        return found

    def active(self, info: ResourceInfo, operation: str, sub: str) -> bool:
        return bool(
            self.webhooks(MUTATING, info, operation, sub)
            or self.webhooks(VALIDATING, info, operation, sub)
        )

    async def review(self, write: Write) -> dict[str, Any] | None:
        """Run mutating then validating webhooks; return the (possibly patched) object."""
        obj = write.obj
        for phase in (MUTATING, VALIDATING):
            for webhook in self.webhooks(phase, write.info, write.operation, write.sub):
                response = await self._call(webhook, write, obj)
                self._check(webhook, response)
                if phase == MUTATING and response.get("patch") and obj is not None:
                    obj = self._patched(webhook, obj, response)
        return obj

    @staticmethod
    def _patched(
        webhook: Mapping[str, Any], obj: dict[str, Any], response: Mapping[str, Any]
    ) -> dict[str, Any]:
        if response.get("patchType", "JSONPatch") != "JSONPatch":
            raise ApiError(
                500,
                "InternalError",
                f"admission webhook {webhook.get('name')!r} returned an unsupported patchType",
            )
        ops = json.loads(base64.b64decode(response["patch"]))
        try:
            patched: dict[str, Any] = patches.apply_json_patch(obj, ops)
        except patches.PatchError as e:
            raise ApiError(
                500,
                "InternalError",
                f"admission webhook {webhook.get('name')!r} returned an invalid patch: {e}",
            ) from None
        return patched

    @staticmethod
    def _check(webhook: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        if response.get("allowed"):
            return
        status = response.get("status") or {}
        code = int(status.get("code") or 403)
        message = status.get("message") or "denied"
        raise ApiError(
            code,
            str(status.get("reason") or ("Forbidden" if code == 403 else "BadRequest")),
            f'admission webhook "{webhook.get("name")}" denied the request: {message}',
        )

    async def _call(
        self, webhook: Mapping[str, Any], write: Write, obj: dict[str, Any] | None
    ) -> dict[str, Any]:
        info, operation, old, req = write.info, write.operation, write.old, write.req
        meta = (obj or old or {}).get("metadata") or {}
        uid = str(uuid.uuid4())
        gvk = {"group": info.group, "version": info.version, "kind": info.kind}
        gvr = {"group": info.group, "version": info.version, "resource": info.plural}
        review = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": uid,
                "kind": gvk,
                "resource": gvr,
                "subResource": write.sub or None,
                "requestKind": gvk,
                "requestResource": gvr,
                "name": meta.get("name", ""),
                "namespace": meta.get("namespace", ""),
                "operation": operation,
                "userInfo": {"username": req.user, "groups": list(req.groups)},
                "object": obj,
                "oldObject": old,
                "dryRun": req.dry_run,
                "options": {
                    "apiVersion": "meta.k8s.io/v1",
                    "kind": f"{operation.capitalize()}Options",
                },
            },
        }
        client_config = webhook.get("clientConfig") or {}
        url = client_config.get("url")
        fail_closed = webhook.get("failurePolicy", "Fail") == "Fail"
        if not url:
            if fail_closed:
                raise ApiError(
                    500,
                    "InternalError",
                    f'failed calling webhook "{webhook.get("name")}": the sandbox '
                    "can only call webhooks by clientConfig.url",
                )
            return {"allowed": True}
        timeout = aiohttp.ClientTimeout(total=float(webhook.get("timeoutSeconds") or 10))
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(url, json=review, ssl=False) as response,
            ):
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            if fail_closed:
                raise ApiError(
                    500,
                    "InternalError",
                    f'Internal error occurred: failed calling webhook "{webhook.get("name")}": {e}',
                ) from None
            return {"allowed": True}
        result = (body or {}).get("response") or {}
        if result.get("uid") not in (None, uid):
            raise ApiError(
                500,
                "InternalError",
                f'webhook "{webhook.get("name")}" answered for another request',
            )
        return dict(result)
