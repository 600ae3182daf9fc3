"""The emulated API's verbs: what kube-apiserver does to an object on create, update, patch,
delete and the subresources, independent of HTTP.

The rules implemented here are the ones clients depend on: server-managed metadata (uid,
creationTimestamp, generation bumped on spec changes only, one increasing resourceVersion),
optimistic concurrency (409 on a stale resourceVersion), status and scale subresources that
write only their part, finalizers holding a deletion, no-op writes that change nothing,
custom resources pruned, defaulted and validated against their CRD's schema (422 naming the
field), and Eviction honouring PodDisruptionBudgets.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import dataclasses
import json
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import errors, eviction, patches, schema, selectors, validation
from .errors import ApiError
from .registry import Registry, ResourceInfo, resources_from_crd
from .store import Store

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CONTROLLER_USER = "system:serviceaccount:kube-system:sandbox-controllers"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
CUSTOM_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)
BUILTIN_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Built-in resources whose registry strategy sets metadata.generation (kube 1.32): the rest
# (ConfigMaps, Pods, Services, Namespaces, ...) have no generation at all.
DEPLOYMENTS = ("apps", "deployments")
GENERATIONAL = frozenset(
    {
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("policy", "poddisruptionbudgets"),
        ("networking.k8s.io", "networkpolicies"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    }
)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Request:
    """Who asks, and the options every write shares."""

    user: str = "sandbox-admin"
    groups: tuple[str, ...] = ("system:masters", "system:authenticated")
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    patching: bool = False  # a patch: a strict decoding error is a 422 about the patch
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ListOptions:
    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None


class Api:
    def __init__(self, store: Store | None = None, registry: Registry | None = None) -> None:
        self.store = store or Store()
        self.registry = registry or Registry()
        # pods/log: (namespace, pod, container, previous) -> the log, set by fixtures
        self.logs: dict[tuple[str, str, str, bool], bytes] = {}
        for ns in SYSTEM_NAMESPACES:
            self.internal_create("", "namespaces", {"metadata": {"name": ns}})

    # ----------------------------------------------------------------- reads
    def get(self, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(info.storage_key, namespace, name)
        if obj is None:
            raise errors.not_found(info.plural, info.group, name)
        return self.present(info, obj)

    def pod_log(self, namespace: str, name: str, query: Mapping[str, str]) -> bytes:
        """GET pods/log as kube-apiserver answers it (the kubelet's part played by `logs`):
        the container named (or the only one), `previous`, then `tailLines` and
        `limitBytes` (the tail is cut to the byte limit from its start)."""
        pod = self.get(self.registry.get("", "v1", "pods"), namespace, name)
        containers = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container", "")
        if not container:
            if len(containers) != 1:
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of:"
                    f" [{' '.join(containers)}]"
                )
            container = containers[0]
        if container not in containers:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        previous = query.get("previous") == "true"
        text = self.logs.get((namespace, name, container, previous))
        if text is None:
            if previous:
                raise errors.bad_request(
                    f'previous terminated container "{container}" in pod "{name}" not found'
                )
            text = b""
        tail = query.get("tailLines")
        if tail is not None and tail.isdigit():
            lines = text.splitlines(keepends=True)
            text = b"".join(lines[len(lines) - int(tail) :]) if int(tail) else b""
        limit = query.get("limitBytes")
        if limit is not None and limit.isdigit():
            text = text[: int(limit)]
        return text

    def list(self, info: ResourceInfo, options: ListOptions) -> builtins.list[dict[str, Any]]:
        matcher = self.matcher(info, options)
        return [
            self.present(info, obj)
            for obj in self.store.iter(info.storage_key, options.namespace)
            if matcher(obj)
        ]

    def list_page(
        self,
        info: ResourceInfo,
        options: ListOptions,
        after: str | None,
        limit: int,
        key: Callable[[Mapping[str, Any]], str],
    ) -> tuple[builtins.list[dict[str, Any]], int]:
        """`list` from the first object whose `key` is past `after`, at most `limit` objects
        (0: all), and how many more match: those are counted, not copied, so that a page
        costs about its own size, not the whole list's (as with kube-apiserver)."""
        matcher = self.matcher(info, options)
        page: builtins.list[dict[str, Any]] = []
        remaining = 0
        for obj in self.store.iter(info.storage_key, options.namespace):
            if not matcher(obj) or (after is not None and key(obj) <= after):
                continue
            if limit and len(page) >= limit:
                remaining += 1
            else:
                page.append(self.present(info, obj))
        return page, remaining

    def matcher(self, info: ResourceInfo, options: ListOptions) -> Any:
        try:
            labels = selectors.parse_label_selector(options.label_selector)
            fields = selectors.parse_field_selector(
                options.field_selector, selectors.default_field_labels(info.kind)
            )
        except selectors.SelectorError as e:
            raise errors.bad_request(str(e)) from None

        def matches(obj: Mapping[str, Any]) -> bool:
            meta = obj.get("metadata") or {}
            return labels.matches(meta.get("labels") or {}) and fields.matches(obj)

        return matches

    def present(self, info: ResourceInfo, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The object as served at this version (storage is shared by all versions)."""
        return {"apiVersion": info.api_version, "kind": info.kind, **_without_type(obj)}

    # ---------------------------------------------------------------- create
    def create(self, info: ResourceInfo, namespace: str, body: Any, req: Request) -> dict[str, Any]:
        obj = self._decode_object(info, body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata: must be an object")
        self._check_namespace(info, namespace, meta)
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = self._generate_name(info, namespace, str(meta["generateName"]))
            else:
                raise errors.invalid(
                    info.kind,
                    info.group,
                    "",
                    [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value: name or generateName is required",
                            "field": "metadata.name",
                        }
                    ],
                    f'{info.kind}{"." + info.group if info.group else ""} "" is invalid: '
                    "metadata.name: Required value: name or generateName is required",
                )
        name = str(meta["name"])
        self._validate_name(info, name)
        if self.store.get(info.storage_key, namespace, name) is not None:
            raise errors.already_exists(info.plural, info.group, name)
        if info.status:
            obj.pop("status", None)
        obj = self._admit_custom(info, obj, req)
        self._default_builtin(info, obj)
        meta = obj["metadata"]
        for server_field in (
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "generation",
        ):
            meta.pop(server_field, None)
        meta.update(
            uid=str(uuid.uuid4()),
            creationTimestamp=now_rfc3339(),
            resourceVersion="" if req.dry_run else self.store.next_rv(),
        )
        if _generational(info):
            meta["generation"] = 1
        if info.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if info.plural == "customresourcedefinitions" and info.group == "apiextensions.k8s.io":
            obj = self._admit_crd(obj)
        if req.dry_run:
            return self.present(info, obj)
        stored = _without_type(obj)
        self.store.commit(info.storage_key, stored, None)
        self._after_commit(info, stored)
        return self.present(info, stored)

    # ------------------------------------------------------- update and patch
    def update(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        body: Any,
        req: Request,
        subresource: str = "",
    ) -> dict[str, Any]:
        old = self._existing(info, namespace, name)
        if subresource == "scale":
            return self._write_scale(info, old, body, req)
        new = self._decode_object(info, body)
        new_meta = new.get("metadata") or {}
        if new_meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({new_meta.get('name')}) does not match the name on "
                f"the URL ({name})"
            )
        rv = new_meta.get("resourceVersion")
        if not rv and info.custom:
            raise errors.invalid(
                info.kind,
                info.group,
                name,
                [
                    {
                        "reason": "FieldValueInvalid",
                        "message": "Invalid value: 0x0: must be specified for an update",
                        "field": "metadata.resourceVersion",
                    }
                ],
                f'{info.kind}.{info.group} "{name}" is invalid: metadata.resourceVersion: '
                "Invalid value: 0x0: must be specified for an update",
            )
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(info.plural, info.group, name)
        uid = new_meta.get("uid")
        if uid and uid != old["metadata"].get("uid"):
            # an update's metadata.uid is a precondition of the storage write
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {errors.qualified(info.plural, info.group)} "'
                f'{name}": Precondition failed: UID in precondition: {uid}, UID in object '
                f"meta: {old['metadata'].get('uid')}",
                details=errors._details(name, info.group, info.plural),
            )
        return self._write(info, old, new, req, subresource)

    def patch(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        patch: Any,
        content_type: str,
        req: Request,
        subresource: str = "",
    ) -> dict[str, Any]:
        old = self._existing(info, namespace, name)
        if subresource == "scale":
            current = self._scale_of(info, old)
            return self._write_scale(
                info,
                old,
                self._apply_patch(current, patch, content_type, info),
                req,
            )
        patched = self._apply_patch(self.present(info, old), patch, content_type, info)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patched object is not a JSON object")
        problem = _go_type_error(info, patched)
        if problem:
            # patcher.go: the patched JSON does not decode into the type.
            raise errors.invalid(
                "",
                "",
                "",
                [{"reason": "FieldValueInvalid", "field": "patch", "message": problem}],
                f' "" is invalid: patch: Invalid value: "...": {problem}',
            )
        rv = (patched.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(info.plural, info.group, name)
        if (patched.get("metadata") or {}).get("name") != name:
            raise errors.bad_request("metadata.name: the name cannot be changed by a patch")
        return self._write(info, old, patched, dataclasses.replace(req, patching=True), subresource)

    def _apply_patch(
        self, doc: dict[str, Any], patch: Any, content_type: str, info: ResourceInfo
    ) -> Any:
        accepted = CUSTOM_PATCH_TYPES if info.custom else BUILTIN_PATCH_TYPES
        if content_type not in accepted:
            raise errors.unsupported_media_type(content_type, accepted)
        if content_type != JSON_PATCH and not isinstance(patch, dict):
            raise errors.bad_request(
                f"Invalid JSON Patch: the patch must be a JSON object, not {type(patch).__name__}"
            )
        try:
            if content_type == JSON_PATCH:
                return patches.apply_json_patch(doc, patch)
            if content_type == STRATEGIC_PATCH:
                return patches.apply_strategic_merge_patch(doc, patch)
            # Server-side apply is approximated by a merge patch of the applied configuration:
            # field ownership (managedFields) is not tracked by the emulator.
            return patches.apply_merge_patch(doc, patch)
        except patches.PatchError as e:
            if e.code == 400:
                raise errors.bad_request(str(e)) from None
            if e.code == 422:
                # kube-apiserver's generic 422 text, and no details (the patch library's
                # words stay in its log)
                raise ApiError(
                    422,
                    "Invalid",
                    "the server rejected our request due to an error in our request",
                    details={},
                ) from None
            raise ApiError(e.code, "InternalError", str(e)) from None

    def _write(
        self,
        info: ResourceInfo,
        old: dict[str, Any],
        new: dict[str, Any],
        req: Request,
        subresource: str,
    ) -> dict[str, Any]:
        """The update strategy: keep what the client may not change, bump generation, commit."""
        old_meta = old["metadata"]
        if subresource == "status":
            if not info.status:
                raise errors.no_such_path()
            result = copy.deepcopy(old)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
            if info.storage_key == DEPLOYMENTS:
                # its status strategy keeps spec and labels only: the deployment controller
                # writes its revision annotation this way, without a new generation
                annotations = (new.get("metadata") or {}).get("annotations")
                if annotations:
                    result["metadata"]["annotations"] = annotations
                else:
                    result["metadata"].pop("annotations", None)
            if info.custom:
                # pruned, defaulted and validated like any write of a custom resource
                result = self._admit_custom(
                    info, {"apiVersion": info.api_version, "kind": info.kind, **result}, req
                )
                result.pop("apiVersion", None)
                result.pop("kind", None)
        elif subresource:
            raise errors.no_such_path()
        else:
            result = copy.deepcopy(new)
            result.pop("apiVersion", None)
            result.pop("kind", None)
            meta = result.setdefault("metadata", {})
            for kept in (
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "namespace",
                "name",
            ):
                if kept in old_meta:
                    meta[kept] = old_meta[kept]
                else:
                    meta.pop(kept, None)
            if info.status:
                if "status" in old:
                    result["status"] = copy.deepcopy(old["status"])
                else:
                    result.pop("status", None)
            if old_meta.get("deletionTimestamp"):
                added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
                if added:
                    raise errors.invalid(
                        info.kind,
                        info.group,
                        old_meta["name"],
                        [
                            {
                                "reason": "FieldValueForbidden",
                                "field": "metadata.finalizers",
                                "message": "Forbidden: no new finalizers can be added if the "
                                "object is being deleted",
                            }
                        ],
                        f'{info.kind} "{old_meta["name"]}" is invalid: metadata.finalizers: '
                        f"Forbidden: no new finalizers can be added if the object is being "
                        f"deleted, found new finalizers {sorted(added)!r}",
                    )
            result = self._admit_custom(
                info, {"apiVersion": info.api_version, "kind": info.kind, **result}, req
            )
            result.pop("apiVersion", None)
            result.pop("kind", None)
            if _generational(info) and (
                _spec_of(result, info) != _spec_of(old, info)
                # the Deployment strategy counts its annotations as spec (kube 1.34)
                or (
                    info.storage_key == DEPLOYMENTS
                    and result["metadata"].get("annotations") != old_meta.get("annotations")
                )
            ):
                result["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
        result["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        if result == old:
            return self.present(info, old)  # a no-op write: no new resourceVersion, no event
        if req.dry_run:
            return self.present(info, result)
        result["metadata"]["resourceVersion"] = self.store.next_rv()
        self.store.commit(info.storage_key, result, old)
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            self.store.remove(info.storage_key, result)
            self._after_delete(info, result)
        else:
            self._after_commit(info, result)
        return self.present(info, result)

    # ----------------------------------------------------------------- scale
    def get_scale(self, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any]:
        return self._scale_of(info, self._existing(info, namespace, name))

    def _scale_of(self, info: ResourceInfo, obj: Mapping[str, Any]) -> dict[str, Any]:
        if not info.scale:
            raise errors.no_such_path()
        spec_path, status_path, selector_path = info.scale_paths
        meta = obj["metadata"]
        status: dict[str, Any] = {"replicas": _dig(obj, status_path) or 0}
        selector: Any
        if selector_path:
            selector = _dig(obj, selector_path)
        else:
            selector = _selector_string((obj.get("spec") or {}).get("selector"))
        if selector:
            status["selector"] = selector
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            # ScaleSpec.replicas is `omitempty`: 0 is not written, as kube-apiserver does
            "spec": {"replicas": replicas} if (replicas := _dig(obj, spec_path) or 0) else {},
            "status": status,
        }

    def _write_scale(
        self,
        info: ResourceInfo,
        old: dict[str, Any],
        body: Any,
        req: Request,
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of a Scale must be a JSON object")
        name = old["metadata"]["name"]
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(info.plural, info.group, name)
        replicas = (body.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            message = f"Invalid value: {replicas!r}: must be greater than or equal to 0"
            raise errors.invalid(
                "Scale",
                "autoscaling",
                name,
                [{"reason": "FieldValueInvalid", "field": "spec.replicas", "message": message}],
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: {message}',
            )
        new = copy.deepcopy(old)
        _set_path(new, info.scale_paths[0], replicas)
        self._write(info, old, new, req, "")
        current = self.store.get(info.storage_key, old["metadata"].get("namespace", ""), name)
        return self._scale_of(info, current or new)

    # ---------------------------------------------------------------- delete
    def delete(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        options: Mapping[str, Any],
        req: Request,
    ) -> dict[str, Any]:
        old = self._existing(info, namespace, name)
        preconditions = options.get("preconditions") or {}
        meta = old["metadata"]
        if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
            raise ApiError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: "
                f"{preconditions['uid']}, UID in object meta: {meta.get('uid')}",
            )
        if (
            preconditions.get("resourceVersion")
            and preconditions["resourceVersion"] != meta["resourceVersion"]
        ):
            raise errors.conflict(info.plural, info.group, name)
        if req.dry_run:
            return self.present(info, old)
        if info.plural == "namespaces" and not info.group:
            for key in self.store.storage_keys():
                other = self.registry.find(*key)
                if other is None or not other.namespaced:
                    continue
                for obj in list(self.store.iter(key, name)):
                    self._force_delete(other, obj)
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return self.present(info, old)
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if meta.get("generation"):  # rest.BeforeDelete bumps a generational object's
                new["metadata"]["generation"] = int(meta["generation"]) + 1
            new["metadata"]["resourceVersion"] = self.store.next_rv()
            self.store.commit(info.storage_key, new, old)
            return self.present(info, new)
        change = self.store.remove(info.storage_key, old)
        self._after_delete(info, change.obj, orphan=options.get("propagationPolicy") == "Orphan")
        return self.present(info, change.obj)

    def delete_collection(
        self,
        info: ResourceInfo,
        options: ListOptions,
        delete_options: Mapping[str, Any],
        req: Request,
    ) -> builtins.list[dict[str, Any]]:
        deleted = []
        for obj in self.list(info, options):
            meta = obj["metadata"]
            deleted.append(
                self.delete(info, meta.get("namespace", ""), meta["name"], delete_options, req)
            )
        return deleted

    def _force_delete(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        self.store.remove(info.storage_key, obj)
        self._after_delete(info, obj)

    # -------------------------------------------------------------- eviction
    def evict(
        self, info: ResourceInfo, namespace: str, name: str, body: Any, req: Request
    ) -> dict[str, Any]:
        if info.plural != "pods" or info.group:
            raise errors.no_such_path()
        if not isinstance(body, dict) or body.get("kind", "Eviction") != "Eviction":
            raise errors.bad_request("the body of an eviction must be a policy/v1 Eviction")
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise errors.bad_request(
                f"name in URL does not match name in Eviction object: {name} != {body_name}"
            )
        pod = self._existing(info, namespace, name)
        pdb_info = self.registry.get("policy", "v1", "poddisruptionbudgets")
        pdbs = list(self.store.iter(pdb_info.storage_key, namespace))
        pods = list(self.store.iter(info.storage_key, namespace))
        eviction.check_eviction(
            pod, pdbs, pods, lambda kind, owner: self._scale(namespace, kind, owner)
        )
        delete_options = body.get("deleteOptions") or {}
        dry = req.dry_run or "All" in (delete_options.get("dryRun") or [])
        self.delete(
            info,
            namespace,
            name,
            delete_options,
            Request(user=req.user, groups=req.groups, dry_run=dry),
        )
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    def _scale(self, namespace: str, kind: str, name: str) -> int | None:
        """spec.replicas of a pod's controller, as the disruption controller reads it."""
        plural = {
            "ReplicaSet": "replicasets",
            "StatefulSet": "statefulsets",
            "Deployment": "deployments",
        }.get(kind)
        if plural is None:
            return None
        owner = self.store.get(("apps", plural), namespace, name)
        replicas = ((owner or {}).get("spec") or {}).get("replicas")
        return int(replicas) if isinstance(replicas, int) else None

    # ------------------------------------------------------ internal access
    # Used by the fixture controllers and tests: the same rules as requests, no HTTP.
    def internal_get(
        self, group: str, plural: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        info = self._info(group, plural)
        obj = self.store.get(info.storage_key, namespace, name)
        return None if obj is None else self.present(info, obj)

    def internal_list(
        self, group: str, plural: str, namespace: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        info = self._info(group, plural)
        return self.list(info, ListOptions(namespace=namespace))

    def internal_create(self, group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        info = self._info(group, plural)
        namespace = (obj.get("metadata") or {}).get("namespace", "") if info.namespaced else ""
        return self.create(info, namespace, copy.deepcopy(obj), Request(user=CONTROLLER_USER))

    def internal_update(
        self, group: str, plural: str, obj: dict[str, Any], subresource: str = ""
    ) -> dict[str, Any]:
        info = self._info(group, plural)
        meta = obj["metadata"]
        return self.update(
            info,
            meta.get("namespace", ""),
            meta["name"],
            copy.deepcopy(obj),
            Request(user=CONTROLLER_USER),
            subresource,
        )

    def internal_delete(self, group: str, plural: str, namespace: str, name: str) -> None:
        info = self._info(group, plural)
        self.delete(info, namespace, name, {}, Request(user=CONTROLLER_USER))

    def _info(self, group: str, plural: str) -> ResourceInfo:
        info = self.registry.find(group, plural)
        if info is None:
            raise errors.no_such_path()
        return info

    # --------------------------------------------------------------- helpers
    def _existing(self, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(info.storage_key, namespace, name)
        if obj is None:
            raise errors.not_found(info.plural, info.group, name)
        return obj

    def _decode_object(self, info: ResourceInfo, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"the body of the request is not a JSON object: {type(body).__name__}"
            )
        obj = copy.deepcopy(body)
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if info.custom and (not api_version or not kind):
            missing = "Kind" if not kind else "apiVersion"
            raise errors.bad_request(f"Object '{missing}' is missing in the request body")
        if api_version and api_version != info.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({info.api_version})"
            )
        if kind and kind != info.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({info.kind})"
            )
        problem = _go_type_error(info, obj)
        if problem:
            raise errors.bad_request(
                f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                f"{problem}"
            )
        obj["apiVersion"] = info.api_version
        obj["kind"] = info.kind
        return obj

    def _check_namespace(self, info: ResourceInfo, namespace: str, meta: dict[str, Any]) -> None:
        if not info.namespaced:
            return
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        ns = self.store.get(("", "namespaces"), "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f'{info.plural} "{meta.get("name", "")}" is forbidden: unable to create new '
                f"content in namespace {namespace} because it is being terminated",
            )

    def _generate_name(self, info: ResourceInfo, namespace: str, prefix: str) -> str:
        for _ in range(8):
            name = prefix + "".join(secrets.choice(_NAME_SUFFIX_ALPHABET) for _ in range(5))
            if self.store.get(info.storage_key, namespace, name) is None:
                return name
        raise errors.already_exists(info.plural, info.group, prefix)

    def _validate_name(self, info: ResourceInfo, name: str) -> None:
        if info.plural == "namespaces" and not info.group:
            problems = validation.validate_dns1123_label(name)
        elif info.plural == "events":
            problems = [] if name and "/" not in name else ["may not contain '/'"]
        elif info.group == "rbac.authorization.k8s.io":
            # ValidateRBACName: a path segment ("system:discovery" is a valid role name)
            problems = [f"may not contain '{c}'" for c in ("/", "%") if c in name]
            if name in (".", ".."):
                problems.append(f"may not be '{name}'")
        else:
            problems = validation.validate_dns1123_subdomain(name)
        if problems:
            message = f'Invalid value: "{name}": {"; ".join(problems)}'
            raise errors.invalid(
                info.kind,
                info.group,
                name,
                [{"reason": "FieldValueInvalid", "field": "metadata.name", "message": message}],
                f'{info.kind}{"." + info.group if info.group else ""} "{name}" is invalid: '
                f"metadata.name: {message}",
            )

    def _admit_custom(
        self, info: ResourceInfo, obj: dict[str, Any], req: Request
    ) -> dict[str, Any]:
        """Drop unknown fields (as fieldValidation says); a custom resource is also
        defaulted and validated against its schema."""
        if not info.custom:
            known = _BUILTIN_FIELDS.get(info.storage_key)
            if known is None:
                return obj
            pruned_builtin, unknown = _prune_builtin(obj, known)
            self._unknown_fields(info, pruned_builtin, unknown, req)
            return pruned_builtin
        if info.schema is None:
            return obj
        meta = obj.get("metadata")
        pruned, unknown = schema.prune(obj, info.schema)
        self._unknown_fields(info, obj, [path.lstrip(".") for path in unknown], req)
        result: dict[str, Any] = schema.apply_defaults(pruned, info.schema)
        result["metadata"] = meta
        self._validate_custom(info, result, req, name=str((meta or {}).get("name", "")))
        return result

    @staticmethod
    def _unknown_fields(
        info: ResourceInfo, obj: dict[str, Any], unknown: builtins.list[str], req: Request
    ) -> None:
        """What fieldValidation makes of unknown fields: Strict refuses the write (a 400 for
        a body, a 422 about the patch for a patch), Warn says so in Warning headers."""
        if not unknown:
            return
        messages = [f'unknown field "{path}"' for path in unknown]
        if req.field_validation == "Strict":
            problem = f"strict decoding error: {', '.join(messages)}"
            if req.patching:
                patched = json.dumps(obj, separators=(",", ":"), sort_keys=True)
                detail = f"Invalid value: {validation.go_quote(patched)}: {problem}"
                cause = {"reason": "FieldValueInvalid", "message": detail, "field": "patch"}
                raise ApiError(
                    422,
                    "Invalid",
                    f' "" is invalid: patch: {detail}',
                    details={"causes": [cause]},
                )
            raise errors.bad_request(
                f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                f"{problem}"
            )
        if req.field_validation == "Warn":
            req.warnings.extend(messages)

    def _validate_custom(
        self, info: ResourceInfo, obj: dict[str, Any], req: Request, *, name: str
    ) -> None:
        if info.schema is None:
            return
        body = {k: v for k, v in obj.items() if k != "metadata"}
        body.setdefault("apiVersion", info.api_version)
        body.setdefault("kind", info.kind)
        causes = schema.validate(body, info.schema)
        if causes:
            raise errors.invalid(
                info.kind,
                info.group,
                name,
                [{"reason": c.type, "message": c.message, "field": c.field} for c in causes],
                schema.format_invalid(info.kind, info.group, name, causes),
            )

    def _default_builtin(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if info.group == "apps" and info.plural in ("deployments", "replicasets", "statefulsets"):
            if isinstance(spec, dict):
                spec.setdefault("replicas", 1)
                if info.plural == "deployments":
                    spec.setdefault("revisionHistoryLimit", 10)
                    spec.setdefault(
                        "strategy",
                        {
                            "type": "RollingUpdate",
                            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                        },
                    )
        elif info.plural == "namespaces" and not info.group:
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
            labels = obj["metadata"].setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif info.plural == "pods" and not info.group:
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}

    def _admit_crd(self, crd: dict[str, Any]) -> dict[str, Any]:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group", "")
        name = crd["metadata"]["name"]
        causes: list[dict[str, str]] = []
        if name != f"{names.get('plural')}.{group}":
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": "metadata.name",
                    "message": f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
                }
            )
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            causes.append(
                {
                    "reason": "FieldValueNotSupported",
                    "field": "spec.scope",
                    "message": f'Unsupported value: "{spec.get("scope")}": supported '
                    'values: "Cluster", "Namespaced"',
                }
            )
        versions = spec.get("versions") or []
        if sum(1 for v in versions if v.get("storage")) != 1:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": "spec.versions",
                    "message": "Invalid value: ...: must have exactly one version marked "
                    "as storage version",
                }
            )
        for index, version in enumerate(versions):
            openapi = (version.get("schema") or {}).get("openAPIV3Schema")
            if openapi is None:
                causes.append(
                    {
                        "reason": "FieldValueRequired",
                        "field": f"spec.versions[{index}].schema.openAPIV3Schema",
                        "message": "Required value: schemas are required",
                    }
                )
                continue
            where = f"spec.versions[{index}].schema.openAPIV3Schema"
            for problem in schema.structural_errors(openapi, path=where):
                field_path, _, message = problem.partition(": ")
                causes.append(
                    {"reason": "FieldValueInvalid", "field": field_path, "message": message}
                )
        if causes:
            rendered = [f"{c['field']}: {c['message']}" for c in causes]
            text = rendered[0] if len(rendered) == 1 else f"[{', '.join(rendered)}]"
            raise errors.invalid(
                "CustomResourceDefinition",
                "apiextensions.k8s.io",
                name,
                causes,
                f'CustomResourceDefinition.apiextensions.k8s.io "{name}" is invalid: {text}',
            )
        when = now_rfc3339()
        crd["status"] = {
            "acceptedNames": names,
            "storedVersions": [v["name"] for v in versions if v.get("storage")],
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": when,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": when,
                },
            ],
        }
        return crd

    def _after_commit(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        if info.plural == "customresourcedefinitions" and info.group == "apiextensions.k8s.io":
            self.registry.add_crd(obj["metadata"]["name"], resources_from_crd(obj))
        self._collect_if_orphaned(info, obj)

    def _after_delete(self, info: ResourceInfo, obj: dict[str, Any], orphan: bool = False) -> None:
        if info.plural == "customresourcedefinitions" and info.group == "apiextensions.k8s.io":
            for served in self.registry.remove_crd(obj["metadata"]["name"]):
                for gone in self.store.drop_resource(served.storage_key):
                    self.store.remove(served.storage_key, gone)
        owner_uid = obj["metadata"].get("uid", "")
        for dependent_info, dependent in self._dependents(owner_uid):
            if orphan:
                self._drop_owner_references(dependent_info, dependent, {owner_uid})
            else:
                self._collect_if_orphaned(dependent_info, dependent)

    # ------------------------------------------------------- garbage collection
    # What kube-controller-manager's garbage collector does, at once: an object none of whose
    # owners exists is deleted (background propagation); one with a live owner left loses
    # its references to the gone ones; an orphaning delete only drops the references.

    def _dependents(self, owner_uid: str) -> builtins.list[tuple[ResourceInfo, dict[str, Any]]]:
        found = []
        for key in self.store.storage_keys():
            info = self.registry.find(*key)
            if info is None or not owner_uid:
                continue
            for obj in self.store.iter(key):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(ref.get("uid") == owner_uid for ref in refs):
                    found.append((info, obj))
        return found

    def _owner_exists(self, namespace: str, ref: Mapping[str, Any]) -> bool:
        """Whether the owner a reference names is there (one of an unknown kind counts)."""
        group, _, version = str(ref.get("apiVersion", "")).rpartition("/")
        kinds = self.registry.resources_of(group, version)
        info = next((i for i in kinds if i.kind == ref.get("kind")), None)
        if info is None:
            return True  # the collector cannot look it up, so it keeps the dependent
        owner = self.store.get(info.storage_key, namespace if info.namespaced else "", ref["name"])
        return owner is not None and owner["metadata"].get("uid") == ref.get("uid")

    def _collect_if_orphaned(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        gone = {
            str(ref.get("uid"))
            for ref in refs
            if not self._owner_exists(meta.get("namespace", ""), ref)
        }
        if not gone:
            return
        if len(gone) < len({ref.get("uid") for ref in refs}):
            self._drop_owner_references(info, obj, gone)
            return
        with contextlib.suppress(ApiError):  # gone already
            self.delete(
                info, meta.get("namespace", ""), meta["name"], {}, Request(user=CONTROLLER_USER)
            )

    def _drop_owner_references(
        self, info: ResourceInfo, obj: dict[str, Any], uids: set[str]
    ) -> None:
        new = copy.deepcopy(obj)
        refs = [r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") not in uids]
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences", None)
        new["metadata"]["resourceVersion"] = self.store.next_rv()
        self.store.commit(info.storage_key, new, obj)


# The fields of the built-in kinds' Go types, which kube-apiserver's decoder keeps (the
# others are unknown: dropped, or refused with fieldValidation=Strict). Top level and
# ObjectMeta only: below them, the emulator has no Go types.
_OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_TYPE_META = ("apiVersion", "kind", "metadata")
_SPEC_STATUS = (*_TYPE_META, "spec", "status")
_BUILTIN_FIELDS: dict[tuple[str, str], frozenset[str]] = {
    ("", "configmaps"): frozenset({*_TYPE_META, "data", "binaryData", "immutable"}),
    ("", "secrets"): frozenset({*_TYPE_META, "data", "stringData", "type", "immutable"}),
    ("", "serviceaccounts"): frozenset(
        {*_TYPE_META, "secrets", "imagePullSecrets", "automountServiceAccountToken"}
    ),
    ("coordination.k8s.io", "leases"): frozenset({*_TYPE_META, "spec"}),
    **{
        key: frozenset(_SPEC_STATUS)
        for key in (
            ("", "namespaces"),
            ("", "pods"),
            ("", "services"),
            ("", "nodes"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
            ("policy", "poddisruptionbudgets"),
            ("autoscaling", "horizontalpodautoscalers"),
        )
    },
}


def _prune_builtin(
    obj: dict[str, Any], known: frozenset[str]
) -> tuple[dict[str, Any], builtins.list[str]]:
    """`obj` without the fields its kind's Go type lacks, and their paths (in the body's
    order, as the strict decoder reports them)."""
    unknown: builtins.list[str] = []
    result: dict[str, Any] = {}
    for key, value in obj.items():
        if key not in known:
            unknown.append(key)
        elif key == "metadata" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k in _OBJECT_META_FIELDS}
            unknown.extend(f"metadata.{k}" for k in value if k not in _OBJECT_META_FIELDS)
            result[key] = meta
        else:
            result[key] = value
    return result, unknown


def _without_type(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


_STRING_MAPS = {("", "configmaps"): ("data",), ("", "secrets"): ("data", "stringData")}


def _go_type_error(info: ResourceInfo, obj: Mapping[str, Any]) -> str | None:
    """The json decoding error kube-apiserver reports when a field has the wrong JSON type.

    Only what every object shares (ObjectMeta) and the string maps of ConfigMaps and Secrets
    are checked: the emulator has no Go types for the rest of the built-ins.
    """

    def wrong(value: Any, path: str, go_type: str) -> str:
        return (
            f"json: cannot unmarshal {patches.go_json_kind(value)} into Go struct field {path} "
            f"of type {go_type}"
        )

    meta = obj.get("metadata")
    if meta is None:
        return None
    if not isinstance(meta, Mapping):
        return wrong(meta, f"{info.kind}.metadata", "v1.ObjectMeta")
    for key in ("name", "generateName", "namespace", "resourceVersion", "uid"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            return wrong(meta[key], f"ObjectMeta.metadata.{key}", "string")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            return wrong(value, f"ObjectMeta.metadata.{key}", "map[string]string")
        for item in value.values():
            if item is not None and not isinstance(item, str):
                return wrong(item, f"ObjectMeta.metadata.{key}", "string")
    finalizers = meta.get("finalizers")
    if finalizers is not None:
        if not isinstance(finalizers, list):
            return wrong(finalizers, "ObjectMeta.metadata.finalizers", "[]string")
        for item in finalizers:
            if not isinstance(item, str):
                return wrong(item, "ObjectMeta.metadata.finalizers", "string")
    for key in _STRING_MAPS.get(info.storage_key, ()):
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            return wrong(value, f"{info.kind}.{key}", "map[string]string")
        for item in value.values():
            if item is not None and not isinstance(item, str):
                return wrong(item, f"{info.kind}.{key}", "string")
    return None


def _generational(info: ResourceInfo) -> bool:
    return info.custom or info.storage_key in GENERATIONAL


def _spec_of(obj: Mapping[str, Any], info: ResourceInfo) -> dict[str, Any]:
    """What generation tracks: everything but metadata (and status with a status subresource)."""
    skipped = (
        ("metadata", "status", "apiVersion", "kind")
        if info.status
        else ("metadata", "apiVersion", "kind")
    )
    return {k: v for k, v in obj.items() if k not in skipped}


def _dig(obj: Mapping[str, Any], path: str) -> Any:
    current: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    current = obj
    for part in parts[:-1]:
        current = current.setdefault(part, {})
    current[parts[-1]] = value


def _selector_string(selector: Any) -> str:
    if not isinstance(selector, Mapping):
        return ""
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator")
        values = ",".join(expr.get("values") or [])
        key = expr.get("key")
        terms.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": f"{key}",
                "DoesNotExist": f"!{key}",
            }.get(op, "")
        )
    return ",".join(t for t in terms if t)
