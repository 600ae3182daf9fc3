"""Server-side apply as kubectl uses it (`kubectl apply --server-side`), and its request's
rules over HTTP. The emulator applies the configuration as a merge patch: it tracks no
field ownership, so what rests on ownership (removing a field no longer applied, conflicts
between managers) is the real server's alone."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from kubernetes import client

from .conftest import expect_request_error

if TYPE_CHECKING:
    from conftest import Kubectl

pytestmark = pytest.mark.kubectl

NO_OWNERSHIP = (
    "deliberate: the emulator approximates server-side apply by a merge patch and tracks no "
    "field ownership (managedFields)"
)


def config(**data: str) -> str:
    return json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": data}
    )


def apply(kubectl: Kubectl, body: str, *flags: str, check: bool = True) -> Any:
    return kubectl.run("apply", "--server-side", *flags, "-f", "-", input=body, check=check)


def test_server_side_apply_creates_then_updates(kubectl: Kubectl) -> None:
    assert apply(kubectl, config(a="1")).stdout.strip() == "configmap/ssa serverside-applied"
    assert apply(kubectl, config(a="2")).stdout.strip() == "configmap/ssa serverside-applied"
    assert kubectl.json("get", "configmap", "ssa")["data"] == {"a": "2"}


def test_server_side_apply_of_the_same_configuration_changes_nothing(kubectl: Kubectl) -> None:
    apply(kubectl, config(a="1"))
    before = kubectl.json("get", "configmap", "ssa")["metadata"]["resourceVersion"]
    apply(kubectl, config(a="1"))
    assert kubectl.json("get", "configmap", "ssa")["metadata"]["resourceVersion"] == before


def test_server_side_apply_keeps_fields_another_writer_set(kubectl: Kubectl) -> None:
    apply(kubectl, config(a="1"))
    kubectl.run("patch", "configmap", "ssa", "--type=merge", "-p", '{"data": {"b": "2"}}')
    apply(kubectl, config(a="3"))
    assert kubectl.json("get", "configmap", "ssa")["data"] == {"a": "3", "b": "2"}


def test_an_apply_patch_needs_a_field_manager(api_client: client.ApiClient) -> None:
    path = "/api/v1/namespaces/default/configmaps/ssa"
    without_manager = {"body": config(a="1"), "content_type": "application/apply-patch+yaml"}
    body = expect_request_error(422, api_client, "PATCH", path, **without_manager)
    detail = "Required value: is required for apply patch"
    assert body["message"] == f'PatchOptions.meta.k8s.io "" is invalid: fieldManager: {detail}'
    assert body["details"] == {
        "group": "meta.k8s.io",
        "kind": "PatchOptions",
        "causes": [{"reason": "FieldValueRequired", "message": detail, "field": "fieldManager"}],
    }


@pytest.mark.real_only(reason=NO_OWNERSHIP)
def test_server_side_apply_removes_a_field_it_no_longer_applies(kubectl: Kubectl) -> None:
    apply(kubectl, config(a="1", b="2"))
    apply(kubectl, config(a="1"))
    assert kubectl.json("get", "configmap", "ssa")["data"] == {"a": "1"}


@pytest.mark.real_only(reason=NO_OWNERSHIP)
def test_server_side_apply_of_a_field_another_manager_owns_is_a_conflict(
    kubectl: Kubectl,
) -> None:
    apply(kubectl, config(a="1"))
    failed = apply(kubectl, config(a="2"), "--field-manager=other", check=False)
    assert failed.returncode != 0
    assert 'conflict with "kubectl"' in failed.stderr
    assert kubectl.json("get", "configmap", "ssa")["data"] == {"a": "1"}
