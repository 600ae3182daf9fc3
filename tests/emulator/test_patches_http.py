"""PUT and the patch media types on a Deployment's lists keyed by name, over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from kube_emulator import Sandbox

from .builders import GROUP, PLURAL, VERSION, deployment
from .conftest import WIDGETS, expect_error, expect_request_error

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def two_container_deployment() -> dict[str, Any]:
    return deployment(
        containers=[
            {
                "name": "app",
                "image": "nginx:1.25",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            },
            {"name": "sidecar", "image": "busybox:1"},
        ],
        volumes=[{"name": "data", "emptyDir": {}}, {"name": "cache", "emptyDir": {}}],
    )


# the arguments AppsV1Api takes before a patch of the Deployment web
WEB = ("web", "default")


def pod_patch(**pod_spec: Any) -> dict[str, Any]:
    """A patch of the Deployment's pod template spec."""
    return {"spec": {"template": {"spec": pod_spec}}}


@pytest.fixture
def web(apps: client.AppsV1Api) -> client.V1Deployment:
    return apps.create_namespaced_deployment("default", two_container_deployment())


def containers(dep: client.V1Deployment) -> dict[str, client.V1Container]:
    return {c.name: c for c in dep.spec.template.spec.containers}


def env(container: client.V1Container) -> dict[str, str]:
    return {e.name: e.value for e in container.env or []}


def test_put_replaces_the_whole_spec(
    sandbox: Sandbox, apps: client.AppsV1Api, web: client.V1Deployment
) -> None:
    sandbox.settle()  # the fixture controller writes the status (and the resourceVersion)
    web = apps.read_namespaced_deployment("web", "default")
    web.spec.template.spec.containers = [client.V1Container(name="only", image="nginx:1.27")]
    web.spec.template.spec.volumes = None
    updated = apps.replace_namespaced_deployment("web", "default", web)
    assert list(containers(updated)) == ["only"]
    assert updated.spec.template.spec.volumes is None
    assert updated.metadata.generation == 2


def test_strategic_merge_patch_merges_containers_by_name(
    apps: client.AppsV1Api, web: client.V1Deployment
) -> None:
    patched = apps.patch_namespaced_deployment(
        *WEB,
        pod_patch(containers=[{"name": "app", "image": "nginx:1.27"}]),
    )
    by_name = containers(patched)
    assert list(by_name) == ["app", "sidecar"]
    assert by_name["app"].image == "nginx:1.27"
    assert env(by_name["app"]) == {"A": "1", "B": "2"}
    assert by_name["sidecar"].image == "busybox:1"


def test_strategic_merge_patch_merges_env_by_name(
    apps: client.AppsV1Api, web: client.V1Deployment
) -> None:
    patched = apps.patch_namespaced_deployment(
        *WEB,
        pod_patch(
            containers=[
                {"name": "app", "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}]}
            ]
        ),
    )
    assert env(containers(patched)["app"]) == {"A": "1", "B": "two", "C": "3"}


def test_strategic_merge_patch_delete_directive_removes_by_name(
    apps: client.AppsV1Api, web: client.V1Deployment
) -> None:
    patched = apps.patch_namespaced_deployment(
        *WEB,
        pod_patch(
            containers=[{"name": "app", "env": [{"name": "A", "$patch": "delete"}]}],
            volumes=[{"name": "cache", "$patch": "delete"}],
        ),
    )
    assert env(containers(patched)["app"]) == {"B": "2"}
    assert [v.name for v in patched.spec.template.spec.volumes] == ["data"]


def test_strategic_merge_patch_adds_a_volume_by_name(
    apps: client.AppsV1Api, web: client.V1Deployment
) -> None:
    patched = apps.patch_namespaced_deployment(
        *WEB,
        pod_patch(volumes=[{"name": "tmp", "emptyDir": {}}]),
        _content_type=STRATEGIC,
    )
    # kube's mergeSortedSlice puts patch items missing from the live list first.
    assert [v.name for v in patched.spec.template.spec.volumes] == ["tmp", "data", "cache"]


def test_merge_patch_replaces_lists_whole(apps: client.AppsV1Api, web: client.V1Deployment) -> None:
    patched = apps.patch_namespaced_deployment(
        *WEB,
        pod_patch(containers=[{"name": "app", "image": "nginx:1.27"}]),
        _content_type=MERGE_PATCH,
    )
    assert list(containers(patched)) == ["app"]
    assert containers(patched)["app"].env is None


def test_merge_patch_null_deletes_a_field(apps: client.AppsV1Api, web: client.V1Deployment) -> None:
    patched = apps.patch_namespaced_deployment(
        *WEB,
        {"metadata": {"labels": {"app": None, "tier": "front"}}},
        _content_type=MERGE_PATCH,
    )
    assert patched.metadata.labels == {"tier": "front"}


def test_json_patch_edits_by_index(apps: client.AppsV1Api, web: client.V1Deployment) -> None:
    patched = apps.patch_namespaced_deployment(
        *WEB,
        [
            {
                "op": "replace",
                "path": "/spec/template/spec/containers/0/image",
                "value": "nginx:1.27",
            },
            {
                "op": "add",
                "path": "/spec/template/spec/containers/0/env/-",
                "value": {"name": "C", "value": "3"},
            },
            {"op": "remove", "path": "/spec/template/spec/volumes/1"},
        ],
    )
    app = containers(patched)["app"]
    assert app.image == "nginx:1.27"
    assert env(app) == {"A": "1", "B": "2", "C": "3"}
    assert [v.name for v in patched.spec.template.spec.volumes] == ["data"]


def test_json_patch_on_a_missing_path_is_422(
    apps: client.AppsV1Api, web: client.V1Deployment
) -> None:
    body = expect_error(
        422,
        apps.patch_namespaced_deployment,
        "web",
        "default",
        [{"op": "replace", "path": "/spec/nothing/here", "value": 1}],
    )
    assert body["reason"] == "Invalid"


def test_malformed_json_patch_is_400(api_client: client.ApiClient, web: Any) -> None:
    expect_request_error(
        400,
        api_client,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web",
        body=json.dumps({"not": "a list"}),
        content_type=JSON_PATCH,
    )


def test_strategic_merge_patch_on_custom_resource_is_415(
    api_client: client.ApiClient, w1: dict[str, Any]
) -> None:
    body = expect_request_error(
        415,
        api_client,
        "PATCH",
        f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/w1",
        body={"spec": {"size": 2}},
        content_type=STRATEGIC,
    )
    assert body["reason"] == "UnsupportedMediaType"
    assert "application/merge-patch+json" in body["message"]


def test_merge_patch_on_custom_resource(
    custom: client.CustomObjectsApi, make_widget: Callable[..., dict[str, Any]]
) -> None:
    make_widget("w1", mode="fast")
    patched = custom.patch_namespaced_custom_object(
        *WIDGETS, "w1", {"spec": {"size": 2, "mode": None}}
    )
    assert patched["spec"] == {"size": 2}


def test_patch_cannot_rename_the_object(apps: client.AppsV1Api, web: client.V1Deployment) -> None:
    expect_error(
        400,
        apps.patch_namespaced_deployment,
        "web",
        "default",
        {"metadata": {"name": "other"}},
        _content_type=MERGE_PATCH,
    )


def test_unknown_patch_content_type_is_415(api_client: client.ApiClient, web: Any) -> None:
    body = expect_request_error(
        415,
        api_client,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web",
        body=json.dumps({"spec": {}}),
        content_type="text/plain",
    )
    assert body["reason"] == "UnsupportedMediaType"
