"""Objects that `deploy/` ships, created as `kubectl apply -k deploy/` would: the ConfigMaps,
and the RBAC (ClusterRoles, Roles and their bindings to the ServiceAccount
remediator-system/remediator) rendered by `kubectl kustomize deploy/`."""

from __future__ import annotations

import copy
import shutil
import subprocess
import time
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from kubernetes import client

ROOT = Path(__file__).resolve().parents[2]
RBAC_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
KUBERNETES_VERSION = "1.32.0"  # the schemas kubernetes-validate checks built-in kinds against


def create_shipped_configmaps(core: client.CoreV1Api) -> None:
    """The ConfigMaps of deploy/base/config.yaml (the pause switch, the guard ledger): the
    operator's role may read and patch them but not create them."""
    for doc in yaml.safe_load_all((ROOT / "deploy" / "base" / "config.yaml").read_text()):
        if doc and doc["kind"] == "ConfigMap":
            core.create_namespaced_config_map(doc["metadata"]["namespace"], doc)


@cache
def render(path: str = "deploy") -> tuple[dict[str, Any], ...]:
    """The documents of `kubectl kustomize PATH` (skips without kubectl), rendered once:
    read them, or change a copy (`rendered`)."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed on this machine (kubectl kustomize renders)")
    proc = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"kubectl kustomize {path} failed:\n{proc.stderr}"
    return tuple(d for d in yaml.safe_load_all(proc.stdout) if d)


def rendered(*kinds: str) -> list[dict[str, Any]]:
    """The documents of `kubectl kustomize deploy/` of these kinds, a copy of their own."""
    return [copy.deepcopy(d) for d in render() if d["kind"] in kinds]


def validate_builtin(doc: dict[str, Any], what: str) -> None:
    """Check a built-in kind offline against the Kubernetes schemas (kubernetes-validate,
    strict: unknown fields refused); fail naming `what` and the field."""
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        raise AssertionError(f"{what}: {e.message} at {list(e.path)}") from None


def create_rbac(api: client.ApiClient, documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Create the rendered RBAC documents; the ClusterRoles by name."""
    rbac = client.RbacAuthorizationV1Api(api)
    roles: dict[str, dict[str, Any]] = {}
    for doc in documents:
        if doc["kind"] == "ClusterRole":
            rbac.create_cluster_role(doc)
            roles[doc["metadata"]["name"]] = doc
        elif doc["kind"] == "ClusterRoleBinding":
            rbac.create_cluster_role_binding(doc)
        elif doc["kind"] == "Role":
            rbac.create_namespaced_role(doc["metadata"]["namespace"], doc)
        elif doc["kind"] == "RoleBinding":
            rbac.create_namespaced_role_binding(doc["metadata"]["namespace"], doc)
    return roles


def wait_until_authorized(
    api: client.ApiClient,
    checks: list[tuple[str, str, str, str]],
    allowed: bool,
    timeout: float = 10,
) -> None:
    """Until the caller of `api` is (`allowed`) or is not allowed each (verb, group,
    resource[/subresource], namespace) of `checks`, as the API server's authorizer answers a
    SelfSubjectAccessReview: kube-apiserver's RBAC authorizer reads the roles from an
    informer, so an edited role takes effect a moment after the write is answered."""
    auth = client.AuthorizationV1Api(api)
    deadline = time.monotonic() + timeout
    pending = list(checks)
    while pending:
        verb, group, resource, namespace = pending[0]
        plural, _, subresource = resource.partition("/")
        review = auth.create_self_subject_access_review(
            {
                "spec": {
                    "resourceAttributes": {
                        "verb": verb,
                        "group": group,
                        "resource": plural,
                        "subresource": subresource,
                        "namespace": namespace,
                    }
                }
            }
        )
        if bool(review.status.allowed) == allowed:
            pending.pop(0)
            continue
        if time.monotonic() > deadline:
            state = "allowed" if allowed else "refused"
            raise AssertionError(f"{pending[0]} was not {state} within {timeout} s")
        time.sleep(0.05)
