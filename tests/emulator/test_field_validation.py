"""fieldValidation (Strict, Warn, Ignore) on built-in kinds and on writes other than create:
what an unknown field costs, and the words kube-apiserver uses."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from .builders import GROUP, KIND, PLURAL, VERSION, widget
from .conftest import api_request, expect_request_error

CONFIG_MAPS = "/api/v1/namespaces/default/configmaps"


def post(
    api_client: client.ApiClient, path: str, body: Any, validation: str
) -> tuple[int, str | None]:
    """The status and the Warning header of a create with `fieldValidation`."""
    request = api_client.param_serialize(
        "POST",
        path,
        query_params=[("fieldValidation", validation)],
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api_client.call_api(*request)
    response.read()
    return response.status, response.getheader("Warning")


@pytest.mark.parametrize(
    ("body", "unknown"),
    [
        pytest.param(
            {"metadata": {"name": "a"}, "data": {}, "spec": {"x": 1}},
            'unknown field "spec"',
            id="one",
        ),
        pytest.param(
            {"metadata": {"name": "a", "bogus": 1}, "data": {}, "extra": True},
            'unknown field "metadata.bogus", unknown field "extra"',
            id="every-one-in-the-body-order",
        ),
    ],
)
def test_strict_refuses_the_unknown_fields_of_a_built_in(
    api_client: client.ApiClient, body: dict[str, Any], unknown: str
) -> None:
    status = expect_request_error(
        400, api_client, "POST", CONFIG_MAPS, body=body, query=[("fieldValidation", "Strict")]
    )
    assert status["reason"] == "BadRequest"
    assert status["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
        f"strict decoding error: {unknown}"
    )
    expect_request_error(404, api_client, "GET", f"{CONFIG_MAPS}/a")


@pytest.mark.parametrize(
    ("validation", "warning"),
    [
        ("Warn", '299 - "unknown field \\"metadata.bogus\\"", 299 - "unknown field \\"spec\\""'),
        ("", '299 - "unknown field \\"metadata.bogus\\"", 299 - "unknown field \\"spec\\""'),
        ("Ignore", None),
    ],
)
def test_warn_and_ignore_drop_the_unknown_fields(
    api_client: client.ApiClient, validation: str, warning: str | None
) -> None:
    body = {"metadata": {"name": "a", "bogus": 1}, "data": {"k": "v"}, "spec": {"x": 1}}
    assert post(api_client, CONFIG_MAPS, body, validation) == (201, warning)
    stored = api_request(api_client, "GET", f"{CONFIG_MAPS}/a")
    assert stored["data"] == {"k": "v"}
    assert "spec" not in stored
    assert "bogus" not in stored["metadata"]


@pytest.mark.parametrize(
    ("path", "patch", "content_type", "unknown"),
    [
        pytest.param(
            f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/w1",
            {"spec": {"color": "red"}},
            "application/merge-patch+json",
            "spec.color",
            id="merge-patch-of-a-custom-object",
        ),
        pytest.param(
            f"{CONFIG_MAPS}/w1",
            {"spec": {"x": 1}},
            "application/merge-patch+json",
            "spec",
            id="merge-patch-of-a-config-map",
        ),
        pytest.param(
            f"{CONFIG_MAPS}/w1",
            [{"op": "add", "path": "/spec", "value": 1}],
            "application/json-patch+json",
            "spec",
            id="json-patch-of-a-config-map",
        ),
    ],
)
def test_strict_refuses_an_unknown_field_in_a_patch_with_a_422_about_the_patch(
    api_client: client.ApiClient,
    w1: dict[str, Any],
    path: str,
    patch: Any,
    content_type: str,
    unknown: str,
) -> None:
    api_request(api_client, "POST", CONFIG_MAPS, body={"metadata": {"name": "w1"}})
    body = expect_request_error(
        422,
        api_client,
        "PATCH",
        path,
        body=patch,
        content_type=content_type,
        query=[("fieldValidation", "Strict")],
    )
    assert body["reason"] == "Invalid"
    problem = f'strict decoding error: unknown field "{unknown}"'
    assert body["message"].startswith(' "" is invalid: patch: Invalid value: "{')
    assert body["message"].endswith(problem)
    [cause] = body["details"]["causes"]
    assert cause["field"] == "patch"
    assert cause["reason"] == "FieldValueInvalid"
    assert cause["message"].endswith(problem)


def test_strict_refuses_an_unknown_field_in_an_update(
    api_client: client.ApiClient, w1: dict[str, Any]
) -> None:
    current = api_request(
        api_client, "GET", f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/w1"
    )
    current["spec"]["color"] = "red"
    body = expect_request_error(
        400,
        api_client,
        "PUT",
        f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/w1",
        body=current,
        query=[("fieldValidation", "Strict")],
    )
    assert body["message"] == (
        f'{KIND} in version "{VERSION}" cannot be handled as a {KIND}: '
        'strict decoding error: unknown field "spec.color"'
    )


def test_an_unknown_field_validation_value_is_422_naming_the_options(
    api_client: client.ApiClient,
) -> None:
    body = expect_request_error(
        422,
        api_client,
        "POST",
        CONFIG_MAPS,
        body={"metadata": {"name": "a"}},
        query=[("fieldValidation", "Loud")],
    )
    assert body["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )
    assert body["details"] == {
        "group": "meta.k8s.io",
        "kind": "CreateOptions",
        "causes": [
            {
                "reason": "FieldValueNotSupported",
                "message": 'Unsupported value: "Loud": supported values: "", "Ignore", "Strict", '
                '"Warn"',
                "field": "fieldValidation",
            }
        ],
    }


def test_strict_create_of_a_custom_object_keeps_a_known_field(
    api_client: client.ApiClient, widget_crd_created: Any
) -> None:
    status, warning = post(
        api_client, f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}", widget(size=2), "Strict"
    )
    assert status == 201
    assert warning is None
