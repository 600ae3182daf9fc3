"""CustomResourceDefinitions and their schemas: validation, pruning, strict decoding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .builders import GROUP, KIND, PLURAL, VERSION, widget
from .conftest import (
    WIDGETS,
    api_request,
    expect_error,
    expect_request_error,
    expect_w1_error,
    wait_established,
    widget_crd,
)

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def create(custom: client.CustomObjectsApi, body: dict[str, Any], **kwargs: Any) -> Any:
    return custom.create_namespaced_custom_object(*WIDGETS, body, **kwargs)


@pytest.mark.parametrize(
    ("spec", "field", "text"),
    [
        (
            {"size": "big"},
            "spec.size",
            'Invalid value: "string": spec.size in body must be of type integer: "string"',
        ),
        ({"size": 0}, "spec.size", "should be greater than or equal to 1"),
        ({"size": 1, "mode": "slow"}, "spec.mode", 'Unsupported value: "slow"'),
        ({"size": 1, "owner": "ABC"}, "spec.owner", "should match '^[a-z]+$'"),
        ({}, "spec.size", "Required value"),
    ],
    ids=["type", "minimum", "enum", "pattern", "required"],
)
def test_schema_violation_is_422_naming_the_field(
    custom: client.CustomObjectsApi,
    widget_crd_created: Any,
    spec: dict[str, Any],
    field: str,
    text: str,
) -> None:
    body = expect_error(422, create, custom, widget(**spec))
    assert body["reason"] == "Invalid"
    assert body["message"].startswith(f'{KIND}.{GROUP} "w" is invalid: {field}: ')
    assert text in body["message"]
    assert body["details"]["name"] == "w"
    assert body["details"]["group"] == GROUP
    assert body["details"]["kind"] == KIND
    assert [c["field"] for c in body["details"]["causes"]] == [field]


def test_update_is_validated_too(custom: client.CustomObjectsApi, w1: dict[str, Any]) -> None:
    body = expect_w1_error(422, custom.patch_namespaced_custom_object, {"spec": {"size": -5}})
    assert "spec.size" in body["message"]


def test_unknown_field_is_pruned_by_default(
    custom: client.CustomObjectsApi, widget_crd_created: Any
) -> None:
    created = create(custom, widget(size=1, color="red"))
    assert created["spec"] == {"size": 1}
    stored = custom.get_namespaced_custom_object(*WIDGETS, "w")
    assert stored["spec"] == {"size": 1}


def test_unknown_field_with_strict_validation_is_400(
    custom: client.CustomObjectsApi, widget_crd_created: Any
) -> None:
    body = expect_error(400, create, custom, widget(size=1, color="red"), field_validation="Strict")
    assert body["reason"] == "BadRequest"
    assert body["message"] == (
        f'{KIND} in version "{VERSION}" cannot be handled as a {KIND}: '
        'strict decoding error: unknown field "spec.color"'
    )
    expect_error(404, custom.get_namespaced_custom_object, *WIDGETS, "w")


def test_unknown_field_with_warn_validation_is_a_warning_header(
    api_client: client.ApiClient, widget_crd_created: Any
) -> None:
    request = api_client.param_serialize(
        "POST",
        f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}",
        query_params=[("fieldValidation", "Warn")],
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=widget(size=1, color="red"),
        auth_settings=["BearerToken"],
    )
    response = api_client.call_api(*request)
    response.read()
    assert response.status == 201
    assert response.getheader("Warning") == '299 - "unknown field \\"spec.color\\""'


def test_custom_resource_without_kind_is_400(
    api_client: client.ApiClient, widget_crd_created: Any
) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "metadata": {"name": "w"}, "spec": {"size": 1}}
    expect_request_error(
        400, api_client, "POST", f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}", body=body
    )


def test_crd_with_wrong_name_is_422(api_client: client.ApiClient) -> None:
    body = expect_request_error(
        422, api_client, "POST", CRDS, body=widget_crd(name="gadgets.test.remediator.dev")
    )
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert 'must be spec.names.plural+"."+spec.group' in body["message"]


def test_crd_with_non_structural_schema_is_422(api_client: client.ApiClient) -> None:
    schema = {"type": "object", "properties": {"spec": {"properties": {"size": {}}}}}
    body = expect_request_error(422, api_client, "POST", CRDS, body=widget_crd(schema=schema))
    assert body["reason"] == "Invalid"
    assert "openAPIV3Schema" in body["message"]
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert GROUP not in groups


def test_crd_is_read_back_through_the_typed_client(
    ext: client.ApiextensionsV1Api, widget_crd_created: Any
) -> None:
    crd = ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    version = crd.spec.versions[0]
    assert version.subresources.scale.spec_replicas_path == ".spec.replicas"
    assert [c.name for c in version.additional_printer_columns] == ["Size", "Phase"]
    assert crd.metadata.generation == 1


def test_custom_resources_are_printed_with_their_columns(
    api_client: client.ApiClient, make_widget: Callable[..., dict[str, Any]]
) -> None:
    make_widget("w1", size=3)
    table = api_request(
        api_client,
        "GET",
        f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}",
        accept="application/json;as=Table;v=v1;g=meta.k8s.io",
    )
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Phase", "Age"] or [
        c["name"] for c in table["columnDefinitions"]
    ][:3] == ["Name", "Size", "Phase"]
    assert table["rows"][0]["cells"][:2] == ["w1", 3]


def test_cluster_scoped_custom_resource(
    api_client: client.ApiClient, custom: client.CustomObjectsApi
) -> None:
    crd = widget_crd(plural="gizmos", kind="Gizmo")
    crd["spec"]["scope"] = "Cluster"
    crd["spec"]["names"]["shortNames"] = ["gz"]
    api_request(api_client, "POST", CRDS, body=crd)
    wait_established(api_client, crd["metadata"]["name"])
    created = custom.create_cluster_custom_object(
        GROUP,
        VERSION,
        "gizmos",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Gizmo",
            "metadata": {"name": "g"},
            "spec": {"size": 2},
        },
    )
    assert "namespace" not in created["metadata"]
    assert custom.get_cluster_custom_object(GROUP, VERSION, "gizmos", "g")["spec"]["size"] == 2
    with pytest.raises(ApiException) as info:
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            "gizmos",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Gizmo",
                "metadata": {"name": "x"},
                "spec": {"size": 2},
            },
        )
    assert info.value.status == 404
    assert info.value.body == "404 page not found\n"  # the CR handler's mux, not a Status
