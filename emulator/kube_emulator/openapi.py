"""Enough OpenAPI for kubectl: v3 documents per group/version, with each kind's schema.

kubectl downloads `/openapi/v3` to decide how to validate and patch: it sends
`fieldValidation=Strict` when the operations of a group/version declare that parameter, and
falls back to client-side validation against OpenAPI v2 otherwise. Serving v3 documents
whose operations carry the parameter and whose schemas carry
`x-kubernetes-group-version-kind` (the CRD's own schema for custom resources) keeps
validation on the server, as with a real cluster. Purely computational.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .errors import no_such_path
from .registry import Registry, ResourceInfo

_QUERY_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "pretty")


def document(registry: Registry, parts: list[str]) -> dict[str, Any]:
    if parts == ["v3"]:
        return {
            "paths": {
                gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_hash(registry, gv)}"}
                for gv in _group_versions(registry)
            }
        }
    if parts and parts[0] == "v3":
        gv = "/".join(parts[1:])
        if gv in _group_versions(registry):
            return _gv_document(registry, gv)
    raise no_such_path()


def _group_versions(registry: Registry) -> list[str]:
    paths = []
    for group, versions in registry.group_versions().items():
        for version in versions:
            paths.append(f"apis/{group}/{version}" if group else f"api/{version}")
    return sorted(paths)


def _split(gv: str) -> tuple[str, str]:
    parts = gv.split("/")
    return ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])


def _hash(registry: Registry, gv: str) -> str:
    text = json.dumps(_gv_document(registry, gv), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32].upper()


def schema_name(info: ResourceInfo) -> str:
    reversed_group = ".".join(reversed(info.group.split("."))) if info.group else "io.k8s.api.core"
    return f"{reversed_group}.{info.version}.{info.kind}"


def _gv_document(registry: Registry, gv: str) -> dict[str, Any]:
    group, version = _split(gv)
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for info in registry.resources_of(group, version):
        name = schema_name(info)
        body: dict[str, Any] = (
            dict(info.schema)
            if info.schema
            else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        )
        body = {
            **body,
            "x-kubernetes-group-version-kind": [
                {"group": info.group, "version": info.version, "kind": info.kind}
            ],
        }
        schemas[name] = body
        ref = {"$ref": f"#/components/schemas/{name}"}
        params = [{"name": p, "in": "query", "schema": {"type": "string"}} for p in _QUERY_PARAMS]
        prefix = f"/{gv}/namespaces/{{namespace}}" if info.namespaced else f"/{gv}"
        content = {"application/json": {"schema": ref}}
        operation = {
            "parameters": params,
            "responses": {"200": {"content": content}},
            "x-kubernetes-group-version-kind": {
                "group": info.group,
                "version": info.version,
                "kind": info.kind,
            },
        }
        paths[f"{prefix}/{info.plural}"] = {
            "get": {**operation, "x-kubernetes-action": "list"},
            "post": {
                **operation,
                "x-kubernetes-action": "post",
                "requestBody": {"content": content},
            },
        }
        paths[f"{prefix}/{info.plural}/{{name}}"] = {
            "get": {**operation, "x-kubernetes-action": "get"},
            "put": {**operation, "x-kubernetes-action": "put", "requestBody": {"content": content}},
            "patch": {
                **operation,
                "x-kubernetes-action": "patch",
                "requestBody": {
                    "content": {"application/merge-patch+json": {"schema": {"type": "object"}}}
                },
            },
            "delete": {**operation, "x-kubernetes-action": "delete"},
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (remediator sandbox)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
