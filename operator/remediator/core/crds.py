"""CustomResourceDefinitions generated from the pydantic models (`remediator crds`).

The models in `models.py` are the one source of truth; this module turns their JSON schema
(`model_json_schema(by_alias=True, mode="validation")`) into the *structural* OpenAPI v3
schema that `apiextensions.k8s.io/v1` requires:

- every `$ref` is inlined (no `$defs`), `title` and `default` are dropped: defaults are the
  operator's business (pydantic applies them when it parses an object), so the API server
  stores what the user wrote and `required` lists only fields without a default;
- `anyOf: [X, {type: null}]` becomes X with `nullable: true`; `const` becomes `enum`;
- JSON-Schema-2020 numeric `exclusiveMinimum`/`exclusiveMaximum` become OpenAPI 3.0's
  `minimum`/`maximum` plus a boolean flag;
- `additionalProperties: false` (pydantic's `extra="forbid"`) is dropped: the API server
  prunes unknown fields instead, and refuses them with `fieldValidation=Strict`;
- `dict[str, Any]` (and nodes marked `x-kubernetes-preserve-unknown-fields` in the model) is
  `{type: object, x-kubernetes-preserve-unknown-fields: true}`; `dict[K, V]` with a
  constrained key (`patternProperties`/`propertyNames`) becomes `additionalProperties: V`:
  Kubernetes cannot check map keys without CEL, so the key pattern is checked by pydantic
  only;
- at the root, `metadata` is just `{type: object}` (the API server owns ObjectMeta) and
  `apiVersion`/`kind` are plain strings.

Incident status and Kopf: the status schema is generated from `IncidentStatus` and does
*not* preserve unknown fields. Kopf's default progress storage writes both annotations and
`status.kopf`; the API server prunes `status.kopf` and Kopf keeps working from the
annotations. Handlers must therefore store their progress in annotations (configure
`settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(...)`) and must not
return values (Kopf would write them to `status.<handler id>`, which is pruned too).

Pure: standard library and pydantic only; YAML rendering happens in the CLI.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .models import GROUP, VERSION, Approval, Incident, RemediationPolicy

__all__ = ["CATEGORY", "SchemaError", "all_crds", "crd", "crd_name", "structural_schema"]

CATEGORY = "remediation"

# Keys copied from a pydantic schema node as they are (after their children are converted).
_KEPT = (
    "format",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
)
_PRESERVE = "x-kubernetes-preserve-unknown-fields"

_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def _column(name: str, path: str, type_: str = "string") -> dict[str, str]:
    return {"name": name, "type": type_, "jsonPath": path}


# kind -> (plural, short name, status subresource, printer columns)
_KINDS: dict[str, tuple[str, str, bool, list[dict[str, str]]]] = {
    "Incident": (
        "incidents",
        "inc",
        True,
        [
            _column("Severity", ".spec.severity"),
            _column("Phase", ".status.phase"),
            _column("Policy", ".status.policy"),
            _column("Action", ".status.action"),
            _AGE,
        ],
    ),
    "RemediationPolicy": (
        "remediationpolicies",
        "rpol",
        True,
        [
            _column("Priority", ".spec.priority", "integer"),
            _column("Targets", ".spec.target.kind"),
            _column("Valid", '.status.conditions[?(@.type=="Valid")].status'),
            _AGE,
        ],
    ),
    "Approval": (
        "approvals",
        "appr",
        False,
        [
            _column("Incident", ".spec.incident"),
            _column("Decision", ".spec.decision"),
            _column("Approver", ".spec.approver"),
            _AGE,
        ],
    ),
}


class SchemaError(ValueError):
    """A model whose JSON schema has no structural equivalent."""


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """`node` with `$ref` and single-element `allOf` replaced by what they point at.

    Keys beside the reference (a field's `description`, say) win over the referenced
    model's own (its docstring).
    """
    out = dict(node)
    ref = out.pop("$ref", None)
    if ref is not None:
        prefix = "#/$defs/"
        if not isinstance(ref, str) or not ref.startswith(prefix):
            raise SchemaError(f"unsupported $ref {ref!r}")
        target = _resolve(defs[ref[len(prefix) :]], defs)
        out = {**target, **out}
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        del out["allOf"]
        out = {**_resolve(all_of[0], defs), **out}
    return out


def _convert(node: Mapping[str, Any], defs: Mapping[str, Any], where: str) -> dict[str, Any]:
    src = _resolve(node, defs)
    nullable = False
    any_of = src.pop("anyOf", None)
    if any_of is not None:
        branches = [b for b in any_of if b.get("type") != "null"]
        if len(branches) != 1:
            raise SchemaError(f"{where}: anyOf other than [X, null] is not structural")
        nullable = len(branches) != len(any_of)
        # the field's own keys (description, x-kubernetes-*) win over the branch's
        src = {**_resolve(branches[0], defs), **src}
    for forbidden in ("oneOf", "not", "allOf", "prefixItems"):
        if forbidden in src:
            raise SchemaError(f"{where}: {forbidden} is not supported in a structural schema")
    if "const" in src:
        src.setdefault("enum", [src.pop("const")])

    out: dict[str, Any] = {}
    if isinstance(src.get("description"), str):
        out["description"] = src["description"]
    preserve = bool(src.get(_PRESERVE))
    type_ = src.get("type")
    if type_ is None:
        if not preserve:
            raise SchemaError(f"{where}: no type (use x-kubernetes-preserve-unknown-fields)")
        type_ = "object"
    if not isinstance(type_, str):
        raise SchemaError(f"{where}: a node must have exactly one type, not {type_!r}")
    out["type"] = type_
    for key in _KEPT:
        if key in src:
            # a copy: shared lists (one enum used by several fields) would become YAML aliases
            out[key] = copy.deepcopy(src[key])
    # JSON Schema 2020-12 (pydantic) -> OpenAPI 3.0 (Kubernetes): numeric exclusive bounds
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        value = out.get(flag)
        if value is not None and not isinstance(value, bool):
            out[bound] = value
            out[flag] = True
    if nullable:
        out["nullable"] = True

    if type_ == "object":
        properties = src.get("properties") or {}
        additional = src.get("additionalProperties")
        patterns = src.get("patternProperties") or {}
        if preserve:
            if properties:
                raise SchemaError(f"{where}: preserve-unknown-fields with properties")
            out[_PRESERVE] = True
        elif properties:
            out["properties"] = {
                name: _convert(sub, defs, f"{where}.{name}") for name, sub in properties.items()
            }
            required = [name for name in src.get("required", ()) if name in properties]
            if required:
                out["required"] = required
        elif isinstance(additional, Mapping):
            out["additionalProperties"] = _convert(additional, defs, f"{where}[*]")
        elif len(patterns) == 1:
            (value_schema,) = patterns.values()
            out["additionalProperties"] = _convert(value_schema, defs, f"{where}[*]")
        elif patterns:
            raise SchemaError(f"{where}: several patternProperties are not structural")
        elif additional is True:
            out[_PRESERVE] = True
        # else: an object with no fields at all (kept as `type: object`, pruned empty)
    elif type_ == "array":
        items = src.get("items")
        if not isinstance(items, Mapping):
            raise SchemaError(f"{where}: an array needs items")
        out["items"] = _convert(items, defs, f"{where}[]")
    elif type_ == "null":
        raise SchemaError(f"{where}: type null is not structural")
    return out


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The `openAPIV3Schema` of a top-level resource model."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = raw.get("$defs", {})
    root = _convert(raw, defs, model.__name__)
    properties: dict[str, Any] = root["properties"]
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = {"type": "object"}
    if "spec" not in properties:
        raise SchemaError(f"{model.__name__}: no spec")
    required = root.setdefault("required", [])
    if "spec" not in required:
        required.append("spec")
    root.pop("description", None)
    return root


def crd_name(model: type[BaseModel]) -> str:
    """`<plural>.<group>`, the name of the CRD of a resource model."""
    return f"{_KINDS[model.__name__][0]}.{GROUP}"


def crd(model: type[BaseModel]) -> dict[str, Any]:
    """The apiextensions.k8s.io/v1 CustomResourceDefinition of a resource model."""
    kind = model.__name__
    if kind not in _KINDS:
        raise SchemaError(f"{kind} is not a resource of {GROUP}")
    plural, short, status, columns = _KINDS[kind]
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": structural_schema(model)},
    }
    if status:
        version["subresources"] = {"status": {}}
    version["additionalPrinterColumns"] = copy.deepcopy(columns)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "listKind": f"{kind}List",
                "shortNames": [short],
                "categories": [CATEGORY],
            },
            "versions": [version],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    """The CRDs of every resource of remediator.dev, in a stable order."""
    return [crd(model) for model in (Incident, RemediationPolicy, Approval)]
