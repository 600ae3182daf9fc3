"""Authorization as kube-apiserver's RBAC authorizer decides it.

Every request is reduced to attributes (user, groups, verb, API group, resource,
subresource, namespace, name; or a non-resource path) and allowed when some rule of a role
bound to the caller covers them: ClusterRoleBindings everywhere, RoleBindings (to a Role of
their namespace or to a ClusterRole) only in their namespace. The `system:masters` group
bypasses RBAC, as kube-apiserver's privileged-group authorizer does. A refusal is a 403
`Status` worded exactly as kube-apiserver words it, so clients and tests can match on it.

The bootstrap policy kube-apiserver creates at start-up is installed too, restricted to
what matters here: `cluster-admin`, discovery (`system:discovery`,
`system:public-info-viewer`) and `system:basic-user` (SelfSubjectAccessReview, for
`kubectl auth can-i`). Purely computational apart from reading roles from the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import ApiError
from .store import Store

GROUP = "rbac.authorization.k8s.io"
ROLES = (GROUP, "roles")
CLUSTER_ROLES = (GROUP, "clusterroles")
ROLE_BINDINGS = (GROUP, "rolebindings")
CLUSTER_ROLE_BINDINGS = (GROUP, "clusterrolebindings")
MASTERS = "system:masters"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do, as kube's authorizer.Attributes."""

    user: str
    groups: tuple[str, ...]
    verb: str
    resource_request: bool = True
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class Authorizer(Protocol):
    mode: str

    def authorize(self, attrs: Attributes) -> Decision: ...


class AlwaysAllow:
    """kube-apiserver's `--authorization-mode=AlwaysAllow`: the sandbox's default."""

    mode = "AlwaysAllow"

    def authorize(self, attrs: Attributes) -> Decision:
        return Decision(True)


class RBAC:
    """kube-apiserver's `--authorization-mode=RBAC`, reading roles and bindings from the store."""

    mode = "RBAC"

    def __init__(self, store: Store) -> None:
        self.store = store

    def authorize(self, attrs: Attributes) -> Decision:
        if MASTERS in attrs.groups:
            return Decision(True)
        errors: list[str] = []
        for binding in self.store.iter(CLUSTER_ROLE_BINDINGS):
            decision = self._visit(binding, "ClusterRoleBinding", attrs, errors)
            if decision is not None:
                return decision
        if attrs.namespace:
            for binding in self.store.iter(ROLE_BINDINGS, attrs.namespace):
                decision = self._visit(binding, "RoleBinding", attrs, errors)
                if decision is not None:
                    return decision
        return Decision(False, f"RBAC: {_aggregate(errors)}" if errors else "")

    def _visit(
        self, binding: Mapping[str, Any], kind: str, attrs: Attributes, errors: list[str]
    ) -> Decision | None:
        meta = binding.get("metadata") or {}
        namespace = str(meta.get("namespace", "")) if kind == "RoleBinding" else ""
        subject = _matching_subject(binding.get("subjects") or [], attrs, namespace)
        if subject is None:
            return None
        ref = binding.get("roleRef") or {}
        role_kind, role_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if role_kind == "ClusterRole":
            role = self.store.get(CLUSTER_ROLES, "", role_name)
            missing = f'clusterrole.{GROUP} "{role_name}" not found'
        elif role_kind == "Role" and namespace:
            role = self.store.get(ROLES, namespace, role_name)
            missing = f'role.{GROUP} "{role_name}" not found'
        else:
            return None
        if role is None:
            errors.append(missing)
            return None
        for rule in role.get("rules") or []:
            if rule_allows(rule, attrs):
                name = str(meta.get("name", ""))
                source = f"{name}/{namespace}" if kind == "RoleBinding" else name
                described = _describe_subject(subject, namespace)
                return Decision(
                    True,
                    f'RBAC: allowed by {kind} "{source}" of {role_kind} "{role_name}" '
                    f"to {described}",
                )
        return None


def rule_allows(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    """One PolicyRule against the request, as rbac/v1's RuleAllows."""
    verbs = _strings(rule.get("verbs"))
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.resource_request:
        return _url_matches(_strings(rule.get("nonResourceURLs")), attrs.path)
    groups = _strings(rule.get("apiGroups"))
    if "*" not in groups and attrs.group not in groups:
        return False
    if not _resource_matches(_strings(rule.get("resources")), attrs):
        return False
    names = _strings(rule.get("resourceNames"))
    return not names or attrs.name in names


def _resource_matches(resources: Sequence[str], attrs: Attributes) -> bool:
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    for resource in resources:
        if resource in ("*", combined):
            return True
        if attrs.subresource and resource == f"*/{attrs.subresource}":
            return True
    return False


def _url_matches(urls: Sequence[str], path: str) -> bool:
    for url in urls:
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url[:-1]):
            return True
    return False


def _matching_subject(
    subjects: Iterable[Mapping[str, Any]], attrs: Attributes, binding_namespace: str
) -> Mapping[str, Any] | None:
    for subject in subjects:
        kind = subject.get("kind")
        name = str(subject.get("name", ""))
        if kind == "User" and name == attrs.user:
            return subject
        if kind == "Group" and name in attrs.groups:
            return subject
        if kind == "ServiceAccount":
            namespace = str(subject.get("namespace") or binding_namespace)
            if namespace and attrs.user == service_account_user(namespace, name):
                return subject
    return None


def _describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


def _strings(values: Any) -> list[str]:
    return [str(v) for v in values] if isinstance(values, list) else []


def _aggregate(errors: Sequence[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def service_account_user(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def service_account_groups(username: str) -> tuple[str, ...]:
    """The groups kube's service-account authenticator gives a `system:serviceaccount:` user."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return ()
    namespace = username[len(SERVICE_ACCOUNT_PREFIX) :].split(":", 1)[0]
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")


def forbidden(attrs: Attributes, reason: str = "") -> ApiError:
    """The 403 of responsewriters.Forbidden: `<resource> "<name>" is forbidden: User ...`."""
    if not attrs.resource_request:
        message = f'User "{attrs.user}" cannot {attrs.verb} path "{attrs.path}"'
    else:
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        message = (
            f'User "{attrs.user}" cannot {attrs.verb} resource "{resource}" '
            f'in API group "{attrs.group}" '
            + (
                f'in the namespace "{attrs.namespace}"'
                if attrs.namespace
                else "at the cluster scope"
            )
        )
    if reason:
        message = f"{message}: {reason}"
    details: dict[str, Any] = {}
    if attrs.resource_request:
        qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
        if attrs.name:
            message = f'{qualified} "{attrs.name}" is forbidden: {message}'
            details["name"] = attrs.name
        else:
            message = f"{qualified} is forbidden: {message}"
        if attrs.group:
            details["group"] = attrs.group
        details["kind"] = attrs.resource
    else:
        message = f"forbidden: {message}"
    return ApiError(403, "Forbidden", message, details=details)


# ------------------------------------------------------------- bootstrap policy
_DISCOVERY_URLS = [
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
]
_PUBLIC_INFO_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
_BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}


def bootstrap_policy() -> list[tuple[tuple[str, str], dict[str, Any]]]:
    """The default ClusterRoles and ClusterRoleBindings kube-apiserver reconciles at start."""

    def role(name: str, rules: list[dict[str, Any]]) -> tuple[tuple[str, str], dict[str, Any]]:
        return CLUSTER_ROLES, {
            "apiVersion": f"{GROUP}/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": dict(_BOOTSTRAP_LABELS)},
            "rules": rules,
        }

    def binding(name: str, *groups: str) -> tuple[tuple[str, str], dict[str, Any]]:
        return CLUSTER_ROLE_BINDINGS, {
            "apiVersion": f"{GROUP}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": dict(_BOOTSTRAP_LABELS)},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": GROUP, "kind": "Group", "name": g} for g in groups],
        }

    return [
        role(
            "cluster-admin",
            [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        ),
        role("system:discovery", [{"nonResourceURLs": _DISCOVERY_URLS, "verbs": ["get"]}]),
        role(
            "system:public-info-viewer", [{"nonResourceURLs": _PUBLIC_INFO_URLS, "verbs": ["get"]}]
        ),
        role(
            "system:basic-user",
            [
                {
                    "apiGroups": ["authorization.k8s.io"],
                    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    "verbs": ["create"],
                }
            ],
        ),
        binding("cluster-admin", MASTERS),
        binding("system:discovery", "system:authenticated"),
        binding("system:public-info-viewer", "system:authenticated", "system:unauthenticated"),
        binding("system:basic-user", "system:authenticated"),
    ]


_RESOURCE_ATTRIBUTES = ("verb", "group", "resource", "subresource", "namespace", "name")


def access_review_attributes(
    spec: Mapping[str, Any], user: str, groups: tuple[str, ...]
) -> Attributes:
    """The attributes a SelfSubjectAccessReview's spec asks about, for the calling user."""
    resource = spec.get("resourceAttributes")
    if isinstance(resource, Mapping):
        verb, group, kind, subresource, namespace, name = (
            str(resource.get(key, "")) for key in _RESOURCE_ATTRIBUTES
        )
        return Attributes(user, groups, verb, True, group, kind, subresource, namespace, name)
    nonresource = spec.get("nonResourceAttributes")
    if isinstance(nonresource, Mapping):
        return Attributes(
            user=user,
            groups=groups,
            verb=str(nonresource.get("verb", "")),
            resource_request=False,
            path=str(nonresource.get("path", "")),
        )
    raise ApiError(
        422,
        "Invalid",
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: '
        '[spec.resourceAttributes: Invalid value: "null": exactly one of '
        "nonResourceAttributes or resourceAttributes must be specified, "
        'spec.nonResourceAttributes: Invalid value: "null": exactly one of '
        "nonResourceAttributes or resourceAttributes must be specified]",
        details={"group": "authorization.k8s.io", "kind": "SelfSubjectAccessReview"},
    )


# -------------------------------------------------------------- protobuf
_PROTOBUF_MAGIC = b"k8s\x00"
_RESOURCE_FIELDS = {
    1: "namespace",
    2: "verb",
    3: "group",
    4: "version",
    5: "resource",
    6: "subresource",
    7: "name",
}
_NONRESOURCE_FIELDS = {1: "path", 2: "verb"}


def decode_access_review(data: bytes) -> dict[str, Any]:
    """The spec of a protobuf-encoded SelfSubjectAccessReview (`kubectl auth can-i`).

    The `runtime.Unknown` envelope (field 2: raw) holds the review: field 2 is its spec,
    whose field 1 is resourceAttributes and field 2 nonResourceAttributes (generated.proto
    of k8s.io/api/authorization/v1). Only the string fields are read.
    """
    if not data.startswith(_PROTOBUF_MAGIC):
        raise ApiError(400, "BadRequest", "the body of the request could not be decoded")
    try:
        raw = _fields(data[len(_PROTOBUF_MAGIC) :]).get(2, b"")
        spec_bytes = _fields(raw).get(2, b"")
        spec_fields = _fields(spec_bytes)
        spec: dict[str, Any] = {}
        if 1 in spec_fields:
            spec["resourceAttributes"] = _strings_of(spec_fields[1], _RESOURCE_FIELDS)
        if 2 in spec_fields:
            spec["nonResourceAttributes"] = _strings_of(spec_fields[2], _NONRESOURCE_FIELDS)
    except (IndexError, ValueError, UnicodeDecodeError):
        raise ApiError(400, "BadRequest", "the body of the request could not be decoded") from None
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": spec,
    }


def _strings_of(data: bytes, names: Mapping[int, str]) -> dict[str, str]:
    return {
        names[number]: value.decode()
        for number, value in _fields(data).items()
        if number in names and value
    }


def _fields(data: bytes) -> dict[int, bytes]:
    """The length-delimited fields of a protobuf message (last one wins; others skipped)."""
    fields: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(data, i)
        elif wire == 2:
            length, i = _varint(data, i)
            if i + length > len(data):
                raise ValueError("truncated field")
            fields[number] = data[i : i + length]
            i += length
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return fields


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7
