"""Optimistic concurrency: resourceVersion preconditions on update and patch, no-op writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client, watch

from .builders import GROUP, widget
from .conftest import WIDGETS, expect_error, expect_w1_error

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"


def make_cm(core: client.CoreV1Api, name: str = "a") -> client.V1ConfigMap:
    return core.create_namespaced_config_map(
        "default", {"metadata": {"name": name}, "data": {"k": "v1"}}
    )


def test_put_with_current_resource_version_succeeds(core: client.CoreV1Api) -> None:
    current = make_cm(core)
    current.data = {"k": "v2"}
    updated = core.replace_namespaced_config_map("a", "default", current)
    assert updated.data == {"k": "v2"}
    assert int(updated.metadata.resource_version) > int(current.metadata.resource_version)


def test_put_with_stale_resource_version_is_409_conflict(core: client.CoreV1Api) -> None:
    stale = make_cm(core)
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "other"}})
    stale.data = {"k": "mine"}
    body = expect_error(409, core.replace_namespaced_config_map, "a", "default", stale)
    assert body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    assert body["details"] == {"name": "a", "kind": "configmaps"}
    assert core.read_namespaced_config_map("a", "default").data == {"k": "other"}


def test_put_of_builtin_without_resource_version_is_unconditional(
    core: client.CoreV1Api,
) -> None:
    make_cm(core)
    updated = core.replace_namespaced_config_map(
        "a", "default", {"metadata": {"name": "a"}, "data": {"k": "forced"}}
    )
    assert updated.data == {"k": "forced"}


def test_put_of_custom_resource_without_resource_version_is_422(
    custom: client.CustomObjectsApi, w1: dict[str, Any]
) -> None:
    body = expect_w1_error(422, custom.replace_namespaced_custom_object, widget("w1", size=2))
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.resourceVersion"


def test_put_of_custom_resource_with_stale_resource_version_is_409(
    custom: client.CustomObjectsApi, make_widget: Callable[..., dict[str, Any]]
) -> None:
    stale = make_widget("w1")
    custom.patch_namespaced_custom_object(*WIDGETS, "w1", {"spec": {"size": 3}})
    stale["spec"]["size"] = 4
    body = expect_w1_error(409, custom.replace_namespaced_custom_object, stale)
    assert body["reason"] == "Conflict"
    assert body["details"]["group"] == GROUP


def merge_patch_at(rv: str) -> tuple[Any, str]:
    """A merge patch of data.k that holds only at resourceVersion `rv`."""
    return {"metadata": {"resourceVersion": rv}, "data": {"k": "x"}}, MERGE_PATCH


def json_patch_at(rv: str) -> tuple[Any, str]:
    """A JSON patch of data.k after a `test` of resourceVersion `rv`."""
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "replace", "path": "/data/k", "value": "x"},
    ]
    return ops, JSON_PATCH


@pytest.mark.parametrize(
    "patch_at",
    [pytest.param(merge_patch_at, id="merge-patch"), pytest.param(json_patch_at, id="json-patch")],
)
def test_patch_at_the_current_resource_version_succeeds(
    core: client.CoreV1Api, patch_at: Callable[[str], tuple[Any, str]]
) -> None:
    current = make_cm(core)
    body, content_type = patch_at(current.metadata.resource_version)
    patched = core.patch_namespaced_config_map("a", "default", body, _content_type=content_type)
    assert patched.data == {"k": "x"}


@pytest.mark.parametrize(
    ("patch_at", "code", "reason"),
    [
        pytest.param(merge_patch_at, 409, "Conflict", id="merge-patch"),
        pytest.param(json_patch_at, 422, "Invalid", id="json-patch-test-fails"),
    ],
)
def test_patch_at_a_stale_resource_version_is_refused(
    core: client.CoreV1Api, patch_at: Callable[[str], tuple[Any, str]], code: int, reason: str
) -> None:
    stale = make_cm(core)
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "v2"}})
    body, content_type = patch_at(stale.metadata.resource_version)
    error = expect_error(
        code, core.patch_namespaced_config_map, "a", "default", body, _content_type=content_type
    )
    assert error["reason"] == reason
    assert core.read_namespaced_config_map("a", "default").data == {"k": "v2"}


def test_json_patch_test_on_custom_resource(
    custom: client.CustomObjectsApi, make_widget: Callable[..., dict[str, Any]]
) -> None:
    created = make_widget("w1")
    rv = created["metadata"]["resourceVersion"]
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "replace", "path": "/spec/size", "value": 9},
    ]
    patched = custom.patch_namespaced_custom_object(*WIDGETS, "w1", ops, _content_type=JSON_PATCH)
    assert patched["spec"]["size"] == 9
    expect_w1_error(
        422,
        custom.patch_namespaced_custom_object,
        ops,
        _content_type=JSON_PATCH,
    )


def test_noop_update_keeps_resource_version(core: client.CoreV1Api) -> None:
    current = make_cm(core)
    same = core.replace_namespaced_config_map("a", "default", current)
    assert same.metadata.resource_version == current.metadata.resource_version
    patched = core.patch_namespaced_config_map("a", "default", {"data": {"k": "v1"}})
    assert patched.metadata.resource_version == current.metadata.resource_version


def test_noop_update_emits_no_watch_event(core: client.CoreV1Api) -> None:
    current = make_cm(core)
    rv = current.metadata.resource_version
    core.replace_namespaced_config_map("a", "default", current)
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "v1"}})
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "v2"}})
    stream = watch.Watch()
    events = []
    for event in stream.stream(
        core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5
    ):
        # Replayed in order: an event for a no-op write would come before this one.
        events.append((event["type"], event["object"].data["k"]))
        stream.stop()
    assert events == [("MODIFIED", "v2")]


def test_delete_precondition_on_stale_resource_version_is_409(core: client.CoreV1Api) -> None:
    stale = make_cm(core)
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "v2"}})
    expect_error(
        409,
        core.delete_namespaced_config_map,
        "a",
        "default",
        body={"preconditions": {"resourceVersion": stale.metadata.resource_version}},
    )
    assert core.read_namespaced_config_map("a", "default")
