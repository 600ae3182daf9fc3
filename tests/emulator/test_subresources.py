"""The status and scale subresources of a Deployment and of a custom resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from kube_emulator import Sandbox

from .builders import deployment, widget
from .conftest import WIDGETS, expect_error, expect_w1_error


@pytest.fixture
def web(sandbox: Sandbox, apps: client.AppsV1Api) -> client.V1Deployment:
    apps.create_namespaced_deployment("default", deployment(replicas=2))
    sandbox.settle()
    return apps.read_namespaced_deployment("web", "default")


# ------------------------------------------------------------------ status
def test_status_write_changes_only_status(apps: client.AppsV1Api, web: client.V1Deployment) -> None:
    web.spec.replicas = 9
    web.metadata.labels = {"sneaky": "yes"}
    web.status.observed_generation = 42
    updated = apps.replace_namespaced_deployment_status("web", "default", web)
    assert updated.status.observed_generation == 42
    assert updated.spec.replicas == 2
    assert not (updated.metadata.labels or {}).get("sneaky")
    assert updated.metadata.generation == 1


def test_main_resource_write_leaves_status_alone(
    apps: client.AppsV1Api, web: client.V1Deployment
) -> None:
    before = web.status.replicas
    patched = apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"paused": True}, "status": {"replicas": 99}},
        _content_type="application/merge-patch+json",
    )
    assert patched.spec.paused is True
    assert patched.status.replicas == before


def test_status_of_custom_resource(custom: client.CustomObjectsApi, w1: dict[str, Any]) -> None:
    patched = custom.patch_namespaced_custom_object_status(
        *WIDGETS,
        "w1",
        {"spec": {"size": 7}, "status": {"phase": "Ready"}},
    )
    assert patched["status"] == {"phase": "Ready"}
    assert patched["spec"]["size"] == 1
    read = custom.get_namespaced_custom_object_status(*WIDGETS, "w1")
    assert read["status"] == {"phase": "Ready"}


def test_custom_resource_main_write_ignores_status(
    custom: client.CustomObjectsApi, w1: dict[str, Any]
) -> None:
    custom.patch_namespaced_custom_object_status(*WIDGETS, "w1", {"status": {"phase": "Ready"}})
    patched = custom.patch_namespaced_custom_object(
        *WIDGETS, "w1", {"spec": {"size": 3}, "status": {"phase": "X"}}
    )
    assert patched["status"] == {"phase": "Ready"}
    assert patched["spec"]["size"] == 3


def test_create_drops_status_of_a_resource_with_status_subresource(
    custom: client.CustomObjectsApi, widget_crd_created: dict[str, Any]
) -> None:
    created = custom.create_namespaced_custom_object(
        *WIDGETS,
        widget(size=1, status={"phase": "Faked"}),
    )
    assert "status" not in created


def test_status_write_is_validated_against_the_schema(
    custom: client.CustomObjectsApi, w1: dict[str, Any]
) -> None:
    body = expect_w1_error(
        422, custom.patch_namespaced_custom_object_status, {"status": {"replicas": "many"}}
    )
    assert "status.replicas" in body["message"]


def test_status_subresource_of_a_resource_without_one_is_404(
    core: client.CoreV1Api, api_client: client.ApiClient
) -> None:
    from .conftest import api_request

    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    expect_error(
        404, api_request, api_client, "GET", "/api/v1/namespaces/default/configmaps/a/status"
    )


# ------------------------------------------------------------------- scale
def test_get_scale_of_a_deployment(apps: client.AppsV1Api, web: client.V1Deployment) -> None:
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert isinstance(scale, client.V1Scale)
    assert scale.kind == "Scale"
    assert scale.api_version == "autoscaling/v1"
    assert scale.metadata.name == "web"
    assert scale.metadata.uid == web.metadata.uid
    assert scale.spec.replicas == 2
    assert scale.status.replicas == 2
    assert scale.status.selector == "app=web"


def test_put_scale_changes_replicas_and_bumps_generation(
    apps: client.AppsV1Api, web: client.V1Deployment
) -> None:
    scale = apps.read_namespaced_deployment_scale("web", "default")
    scale.spec.replicas = 4
    result = apps.replace_namespaced_deployment_scale("web", "default", scale)
    assert result.spec.replicas == 4
    dep = apps.read_namespaced_deployment("web", "default")
    assert dep.spec.replicas == 4
    assert dep.metadata.generation == 2


def test_patch_scale_changes_replicas(apps: client.AppsV1Api, web: client.V1Deployment) -> None:
    result = apps.patch_namespaced_deployment_scale(
        "web",
        "default",
        {"spec": {"replicas": 0}},
        _content_type="application/merge-patch+json",
    )
    assert result.spec.replicas is None  # ScaleSpec.replicas is omitempty: 0 is left out
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 0


def test_negative_scale_is_422(apps: client.AppsV1Api, web: client.V1Deployment) -> None:
    body = expect_error(
        422,
        apps.patch_namespaced_deployment_scale,
        "web",
        "default",
        {"spec": {"replicas": -1}},
        _content_type="application/merge-patch+json",
    )
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "spec.replicas"
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 2


def test_put_scale_with_stale_resource_version_is_409(
    apps: client.AppsV1Api, web: client.V1Deployment
) -> None:
    scale = apps.read_namespaced_deployment_scale("web", "default")
    apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"x": "y"}}})
    scale.spec.replicas = 3
    expect_error(409, apps.replace_namespaced_deployment_scale, "web", "default", scale)


def test_scale_of_a_custom_resource(
    custom: client.CustomObjectsApi, make_widget: Callable[..., dict[str, Any]]
) -> None:
    make_widget("w1", replicas=2)
    custom.patch_namespaced_custom_object_status(
        *WIDGETS,
        "w1",
        {"status": {"replicas": 1, "selector": "app=w1"}},
    )
    scale = custom.get_namespaced_custom_object_scale(*WIDGETS, "w1")
    assert scale["kind"] == "Scale"
    assert scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 1, "selector": "app=w1"}


def test_patch_scale_of_a_custom_resource(
    custom: client.CustomObjectsApi, make_widget: Callable[..., dict[str, Any]]
) -> None:
    make_widget("w1", replicas=2)
    result = custom.patch_namespaced_custom_object_scale(*WIDGETS, "w1", {"spec": {"replicas": 5}})
    assert result["spec"]["replicas"] == 5
    widget = custom.get_namespaced_custom_object(*WIDGETS, "w1")
    assert widget["spec"]["replicas"] == 5
    assert widget["metadata"]["generation"] == 2


def test_replace_scale_of_a_custom_resource(
    custom: client.CustomObjectsApi, make_widget: Callable[..., dict[str, Any]]
) -> None:
    make_widget("w1", replicas=2)
    scale = custom.get_namespaced_custom_object_scale(*WIDGETS, "w1")
    scale["spec"]["replicas"] = 3
    result = custom.replace_namespaced_custom_object_scale(*WIDGETS, "w1", scale)
    assert result["spec"]["replicas"] == 3


def test_negative_scale_of_a_custom_resource_is_422(
    custom: client.CustomObjectsApi, make_widget: Callable[..., dict[str, Any]]
) -> None:
    make_widget("w1", replicas=2)
    expect_w1_error(422, custom.patch_namespaced_custom_object_scale, {"spec": {"replicas": -3}})


def test_scale_of_a_missing_object_is_404(apps: client.AppsV1Api) -> None:
    expect_error(404, apps.read_namespaced_deployment_scale, "nope", "default")
