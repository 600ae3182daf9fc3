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
from typing import Any

import aiohttp

from . import patches
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

    async def review(
        self,
        info: ResourceInfo,
        operation: str,
        sub: str,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        *,
        user: str,
        groups: tuple[str, ...],
        dry_run: bool,
    ) -> dict[str, Any] | None:
        """Run mutating then validating webhooks; return the (possibly patched) object."""
        for webhook in self.webhooks(MUTATING, info, operation, sub):
            response = await self._call(
                webhook, info, operation, sub, obj, old, user, groups, dry_run
            )
            self._check(webhook, response)
            if response.get("patch") and obj is not None:
                if response.get("patchType", "JSONPatch") != "JSONPatch":
                    raise ApiError(
                        500,
                        "InternalError",
                        f"admission webhook {webhook.get('name')!r} returned an "
                        f"unsupported patchType",
                    )
                ops = json.loads(base64.b64decode(response["patch"]))
                try:
                    obj = patches.apply_json_patch(obj, ops)
                except patches.PatchError as e:
                    raise ApiError(
                        500,
                        "InternalError",
                        f"admission webhook {webhook.get('name')!r} returned an invalid patch: {e}",
                    ) from None
        for webhook in self.webhooks(VALIDATING, info, operation, sub):
            response = await self._call(
                webhook, info, operation, sub, obj, old, user, groups, dry_run
            )
            self._check(webhook, response)
        return obj

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
        self,
        webhook: Mapping[str, Any],
        info: ResourceInfo,
        operation: str,
        sub: str,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        user: str,
        groups: tuple[str, ...],
        dry_run: bool,
    ) -> dict[str, Any]:
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
                "subResource": sub or None,
                "requestKind": gvk,
                "requestResource": gvr,
                "name": meta.get("name", ""),
                "namespace": meta.get("namespace", ""),
                "operation": operation,
                "userInfo": {"username": user, "groups": list(groups)},
                "object": obj,
                "oldObject": old,
                "dryRun": dry_run,
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
