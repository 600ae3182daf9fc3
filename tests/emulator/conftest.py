"""Helpers shared by the sandbox conformance tests: a test CRD and error-body decoding."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from kube_emulator import Sandbox

GROUP = "test.remediator.dev"
VERSION = "v1"
PLURAL = "widgets"
KIND = "Widget"
CRD_NAME = f"{PLURAL}.{GROUP}"

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "mode": {"type": "string", "enum": ["fast", "safe"]},
                "owner": {"type": "string", "pattern": "^[a-z]+$"},
                "replicas": {"type": "integer", "minimum": 0},
                "selector": {"type": "string"},
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "selector": {"type": "string"},
                "phase": {"type": "string"},
            },
        },
    },
}


def widget_crd(
    *,
    group: str = GROUP,
    plural: str = PLURAL,
    kind: str = KIND,
    name: str | None = None,
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A CustomResourceDefinition with status + scale subresources and printer columns."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name or f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "listKind": f"{kind}List",
                "shortNames": ["wd"],
                "categories": ["all", "remediator"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema or WIDGET_SCHEMA},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    ],
                }
            ],
        },
    }


@pytest.fixture
def ext(api_client: client.ApiClient) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(api_client)


@pytest.fixture
def widget_crd_created(sandbox: Sandbox, api_client: client.ApiClient) -> dict[str, Any]:
    """The test CRD, created through the API (not through the emulator's internals)."""
    created: dict[str, Any] = api_request(
        api_client,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        body=widget_crd(),
    )
    return created


@pytest.fixture
def make_widget(
    custom: client.CustomObjectsApi, widget_crd_created: dict[str, Any]
) -> Callable[..., dict[str, Any]]:
    def make(name: str = "w1", namespace: str = "default", **spec: Any) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "metadata": {"name": name},
            "spec": {"size": 1, **spec},
        }
        result: dict[str, Any] = custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body
        )
        return result

    return make


def api_request(
    api_client: client.ApiClient,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: list[tuple[str, Any]] | None = None,
    content_type: str = "application/json",
    accept: str = "application/json",
) -> Any:
    """A raw request through the client's own transport; returns the decoded JSON body.

    Raises `ApiException` for an error answer, as the typed APIs do.
    """
    request = api_client.param_serialize(
        method,
        path,
        query_params=query or [],
        header_params={"Content-Type": content_type, "Accept": accept},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api_client.call_api(*request)
    data = response.read()
    if not 200 <= response.status <= 299:
        raise ApiException.from_response(http_resp=response, body=data.decode(), data=None)
    return json.loads(data) if data else None


def status_of(error: ApiException) -> dict[str, Any]:
    """The `Status` body of an error answer (and check that it is one)."""
    body: dict[str, Any] = json.loads(error.body)
    assert body["kind"] == "Status", body
    assert body["apiVersion"] == "v1", body
    assert body["status"] == "Failure", body
    assert body["code"] == error.status, body
    return body


def expect_error(status: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call `fn` and return the Status body of the ApiException it must raise."""
    with pytest.raises(ApiException) as info:
        fn(*args, **kwargs)
    assert info.value.status == status, info.value.body
    return status_of(info.value)
