"""Which resources the emulated API serves, and how discovery describes them.

kube-apiserver answers discovery from its own type registry plus one entry per established
CustomResourceDefinition; clients (kubectl, Kopf, the `kubernetes` client's dynamic layer)
find resources, verbs, subresources and short names only there. This module keeps that
registry: the built-in resources the operator touches, and CRDs added or removed through
the API. Purely computational.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import PageNotFoundError, no_such_path

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class ResourceInfo:
    """One resource of one group/version, as discovery lists it."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    status: bool = False
    scale: bool = False
    eviction: bool = False
    log: bool = False  # pods/log: a container's log as text
    custom: bool = False
    storage_version: str = ""
    schema: Mapping[str, Any] | None = None
    printer_columns: tuple[Mapping[str, Any], ...] = ()
    scale_paths: tuple[str, str, str | None] = (".spec.replicas", ".status.replicas", None)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def storage_key(self) -> tuple[str, str]:
        """Objects are stored once per group and resource, whatever the version served."""
        return (self.group, self.plural)

    @property
    def kind_for_errors(self) -> str:
        return self.plural

    def discovery_entries(self) -> list[dict[str, Any]]:
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        if self.storage_version:
            main["storageVersionHash"] = self.storage_version
        entries = [main]
        if self.status:
            entries.append(self._sub("status", self.kind, verbs=SUBRESOURCE_VERBS))
        if self.scale:
            entries.append(
                self._sub(
                    "scale", "Scale", verbs=SUBRESOURCE_VERBS, group="autoscaling", version="v1"
                )
            )
        if self.eviction:
            entries.append(
                self._sub("eviction", "Eviction", verbs=("create",), group="policy", version="v1")
            )
        if self.log:
            entries.append(self._sub("log", "Pod", verbs=("get",)))
        return entries

    def _sub(
        self,
        name: str,
        kind: str,
        *,
        verbs: Iterable[str],
        group: str | None = None,
        version: str | None = None,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": f"{self.plural}/{name}",
            "singularName": "",
            "namespaced": self.namespaced,
            "kind": kind,
            "verbs": list(verbs),
        }
        if group is not None:
            entry["group"] = group
            entry["version"] = version
        return entry


def _r(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    status: bool = False,
    scale: bool = False,
    eviction: bool = False,
    log: bool = False,
    verbs: tuple[str, ...] = ALL_VERBS,
) -> ResourceInfo:
    return ResourceInfo(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        status=status,
        scale=scale,
        eviction=eviction,
        log=log,
        verbs=verbs,
    )


_ALL = ("all",)
BUILTINS: tuple[ResourceInfo, ...] = (
    _r(
        "",
        "v1",
        "Namespace",
        "namespaces",
        namespaced=False,
        short=("ns",),
        status=True,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    _r(
        "",
        "v1",
        "Pod",
        "pods",
        short=("po",),
        categories=_ALL,
        status=True,
        eviction=True,
        log=True,
    ),
    _r("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    _r("", "v1", "Secret", "secrets"),
    _r("", "v1", "Service", "services", short=("svc",), categories=_ALL, status=True),
    _r("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",)),
    _r("", "v1", "Event", "events", short=("ev",)),
    _r("", "v1", "Node", "nodes", namespaced=False, short=("no",), status=True),
    *(
        _r("apps", "v1", kind, plural, short=(short,), categories=_ALL, status=True, scale=True)
        for kind, plural, short in (
            ("Deployment", "deployments", "deploy"),
            ("ReplicaSet", "replicasets", "rs"),
            ("StatefulSet", "statefulsets", "sts"),
        )
    ),
    _r("apps", "v1", "DaemonSet", "daemonsets", short=("ds",), categories=_ALL, status=True),
    _r(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        categories=_ALL,
        status=True,
    ),
    _r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",), status=True),
    _r("batch", "v1", "CronJob", "cronjobs", short=("cj",), categories=_ALL, status=True),
    _r("batch", "v1", "Job", "jobs", categories=_ALL, status=True),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    _r("coordination.k8s.io", "v1", "Lease", "leases"),
    _r("events.k8s.io", "v1", "Event", "events", short=("ev",)),
    _r(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=("crd", "crds"),
        categories=("api-extensions",),
        status=True,
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        namespaced=False,
        categories=("api-extensions",),
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        namespaced=False,
        categories=("api-extensions",),
    ),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _r(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    # answered, never stored: `kubectl auth can-i` asks through it
    _r(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        namespaced=False,
        verbs=("create",),
    ),
)


def resources_from_crd(crd: Mapping[str, Any]) -> list[ResourceInfo]:
    """The resources a CustomResourceDefinition serves, one per served version."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    namespaced = spec.get("scope") == "Namespaced"
    infos: list[ResourceInfo] = []
    for version in spec.get("versions") or []:
        if not version.get("served", False):
            continue
        subresources = version.get("subresources") or {}
        scale = subresources.get("scale")
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        scale_paths: tuple[str, str, str | None] = (".spec.replicas", ".status.replicas", None)
        if scale:
            scale_paths = (
                scale.get("specReplicasPath", ".spec.replicas"),
                scale.get("statusReplicasPath", ".status.replicas"),
                scale.get("labelSelectorPath"),
            )
        infos.append(
            ResourceInfo(
                group=group,
                version=version["name"],
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                singular=names.get("singular") or names.get("kind", "").lower(),
                namespaced=namespaced,
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status="status" in subresources,
                scale=scale is not None,
                custom=True,
                schema=schema,
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                scale_paths=scale_paths,
            )
        )
    return infos


class Registry:
    """Built-ins plus the resources of established CRDs, indexed the ways requests need."""

    def __init__(self) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceInfo] = {}
        self._crd_owned: dict[str, list[ResourceInfo]] = {}
        for info in BUILTINS:
            self._add(info)

    def _add(self, info: ResourceInfo) -> None:
        self._by_gvr[(info.group, info.version, info.plural)] = info

    def add_crd(self, crd_name: str, infos: list[ResourceInfo]) -> None:
        self.remove_crd(crd_name)
        for info in infos:
            self._add(info)
        self._crd_owned[crd_name] = infos

    def remove_crd(self, crd_name: str) -> list[ResourceInfo]:
        infos = self._crd_owned.pop(crd_name, [])
        for info in infos:
            self._by_gvr.pop((info.group, info.version, info.plural), None)
        return infos

    def get(self, group: str, version: str, plural: str) -> ResourceInfo:
        try:
            return self._by_gvr[(group, version, plural)]
        except KeyError:
            raise no_such_path() from None

    def find(self, group: str, plural: str) -> ResourceInfo | None:
        """Any served version of a resource (for storage-level work such as the fixtures)."""
        for (g, _, p), info in self._by_gvr.items():
            if g == group and p == plural:
                return info
        return None

    def group_versions(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for group, version, _ in self._by_gvr:
            versions = groups.setdefault(group, [])
            if version not in versions:
                versions.append(version)
        return groups

    def resources_of(self, group: str, version: str) -> list[ResourceInfo]:
        return [i for (g, v, _), i in self._by_gvr.items() if g == group and v == version]

    def api_versions(self) -> dict[str, Any]:
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}

    def api_group_list(self) -> dict[str, Any]:
        groups = []
        for group, versions in self.group_versions().items():
            if not group:
                continue
            ordered = sorted(versions, key=_version_priority)
            groups.append(
                {
                    "name": group,
                    "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered],
                    "preferredVersion": {
                        "groupVersion": f"{group}/{ordered[0]}",
                        "version": ordered[0],
                    },
                }
            )
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def api_group(self, group: str) -> dict[str, Any]:
        for entry in self.api_group_list()["groups"]:
            if entry["name"] == group:
                return {"kind": "APIGroup", "apiVersion": "v1", **entry}
        raise PageNotFoundError()

    def resource_list(self, group: str, version: str) -> dict[str, Any]:
        infos = self.resources_of(group, version)
        if group and group not in self.group_versions():
            raise PageNotFoundError()
        if not infos:
            raise no_such_path()
        resources: list[dict[str, Any]] = []
        for info in sorted(infos, key=lambda i: i.plural):
            resources.extend(info.discovery_entries())
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA before beta before alpha, higher numbers first."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0)
    major, stage, minor = match.groups()
    stage_rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (stage_rank, -int(major), -int(minor or 0))
