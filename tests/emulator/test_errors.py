"""Error answers: Status bodies with kube's codes and reasons, and never a 500 from us."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from .conftest import api_request, expect_error, expect_request_error

PROTOBUF = "application/vnd.kubernetes.protobuf"


def raw(
    api_client: client.ApiClient,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any] | None]:
    """A request the `kubernetes` client cannot make (e.g. a protobuf body), through its
    connection pool (the emulator's token, the real cluster's client certificate)."""
    response = api_client.rest_client.pool_manager.request(
        method,
        api_client.configuration.host + path,
        body=body,
        headers={**_auth(api_client), **(headers or {})},
        timeout=10,
        retries=False,
    )
    data = response.data
    return response.status, json.loads(data) if data else None


def _auth(api_client: client.ApiClient) -> dict[str, str]:
    """The emulator's bearer token (the real cluster's client certificate is in the pool)."""
    configuration = api_client.configuration
    auth = configuration.api_key.get("authorization") or configuration.api_key.get("BearerToken")
    prefix = configuration.api_key_prefix.get("authorization", "")
    return {"Authorization": f"{prefix} {auth}".strip()} if auth else {}


def test_missing_object_is_404_with_a_status_body(core: client.CoreV1Api) -> None:
    body = expect_error(404, core.read_namespaced_config_map, "ghost", "default")
    assert body["reason"] == "NotFound"
    assert body["message"] == 'configmaps "ghost" not found'
    assert body["details"] == {"name": "ghost", "kind": "configmaps"}


def test_missing_grouped_object_names_the_group(apps: client.AppsV1Api) -> None:
    body = expect_error(404, apps.read_namespaced_deployment, "ghost", "default")
    assert body["message"] == 'deployments.apps "ghost" not found'
    assert body["details"] == {"name": "ghost", "group": "apps", "kind": "deployments"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/gadgets",
        "/apis/apps/v1/namespaces/default/widgets/x",
        "/api/v2/pods",
        "/apis/apps/v9/deployments",
        "/apis/apps/v1/namespaces/default/deployments/x/nosuch",
        "/api/v1/namespaces/default/configmaps/x/scale",
    ],
)
def test_unknown_resource_path_is_404(api_client: client.ApiClient, path: str) -> None:
    body = expect_request_error(404, api_client, "GET", path)
    assert body["reason"] == "NotFound"
    assert body["message"] == "the server could not find the requested resource"


@pytest.mark.parametrize(
    "path", ["/apis/nope.example.com/v1/things", "/apis/nope.example.com", "/not/a/kube/path"]
)
def test_path_outside_every_group_version_is_a_plain_404(
    api_client: client.ApiClient, path: str
) -> None:
    response = api_client.rest_client.pool_manager.request(
        "GET", api_client.configuration.host + path, headers=_auth(api_client), retries=False
    )
    assert response.status == 404
    assert response.data == b"404 page not found\n"


def test_duplicate_create_is_409_already_exists(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    body = expect_error(
        409, core.create_namespaced_config_map, "default", {"metadata": {"name": "a"}}
    )
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "a" already exists'
    assert body["details"] == {"name": "a", "kind": "configmaps"}


def test_create_in_a_missing_namespace_is_404(core: client.CoreV1Api) -> None:
    body = expect_error(404, core.create_namespaced_config_map, "nope", {"metadata": {"name": "a"}})
    assert body["reason"] == "NotFound"
    assert body["message"] == 'namespaces "nope" not found'


@pytest.mark.emulator_only(
    reason="deliberate: the emulator speaks no protobuf (kube-apiserver does)"
)
def test_protobuf_request_body_is_415(api_client: client.ApiClient) -> None:
    code, body = raw(
        api_client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        body=b"k8s\x00\n\x0f\n\x02v1\x12\tConfigMap",
        headers={"Content-Type": PROTOBUF, "Accept": "application/json"},
    )
    assert code == 415
    assert body is not None
    assert body["kind"] == "Status"
    assert body["reason"] == "UnsupportedMediaType"


def test_protobuf_patch_body_is_415(api_client: client.ApiClient, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    code, body = raw(
        api_client,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a",
        body=b"k8s\x00",
        headers={"Content-Type": PROTOBUF},
    )
    assert code == 415
    assert body is not None
    assert body["reason"] == "UnsupportedMediaType"


@pytest.mark.emulator_only(
    reason="deliberate: the emulator speaks no protobuf (kube-apiserver does)"
)
def test_accept_protobuf_only_is_406(api_client: client.ApiClient) -> None:
    body = expect_request_error(
        406, api_client, "GET", "/api/v1/namespaces/default/configmaps", accept=PROTOBUF
    )
    assert body["reason"] == "NotAcceptable"


@pytest.mark.emulator_only(
    reason="deliberate: the emulator speaks no protobuf (kube-apiserver does)"
)
def test_accept_protobuf_with_json_fallback_gets_json(api_client: client.ApiClient) -> None:
    listed = api_request(
        api_client,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        accept=f"{PROTOBUF}, application/json",
    )
    assert listed["kind"] == "ConfigMapList"


def test_body_kind_mismatch_is_400(core: client.CoreV1Api) -> None:
    body = expect_error(
        400,
        core.create_namespaced_config_map,
        "default",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}},
    )
    assert body["reason"] == "BadRequest"


def test_body_namespace_mismatch_is_400(core: client.CoreV1Api) -> None:
    expect_error(
        400,
        core.create_namespaced_config_map,
        "default",
        {"metadata": {"name": "a", "namespace": "kube-system"}},
    )


def test_update_name_mismatch_is_400(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    expect_error(
        400, core.replace_namespaced_config_map, "a", "default", {"metadata": {"name": "b"}}
    )


def test_update_of_a_missing_object_is_404(core: client.CoreV1Api) -> None:
    expect_error(
        404, core.replace_namespaced_config_map, "a", "default", {"metadata": {"name": "a"}}
    )


def test_delete_of_a_missing_object_is_404(core: client.CoreV1Api) -> None:
    expect_error(404, core.delete_namespaced_config_map, "a", "default")


def test_invalid_dry_run_value_is_422_naming_the_options(core: client.CoreV1Api) -> None:
    body = expect_error(
        422,
        core.create_namespaced_config_map,
        "default",
        {"metadata": {"name": "a"}},
        dry_run="Yes",
    )
    assert body["reason"] == "Invalid"
    assert body["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Yes"]: '
        'supported values: "All"'
    )
    assert body["details"]["kind"] == "CreateOptions"
    assert body["details"]["causes"][0]["field"] == "dryRun"


BAD_REQUESTS: list[tuple[str, str, bytes | None, dict[str, str]]] = [
    ("POST", "/api/v1/namespaces/default/configmaps", b"{not json", {}),
    ("POST", "/api/v1/namespaces/default/configmaps", b"[1, 2]", {}),
    ("POST", "/api/v1/namespaces/default/configmaps", b'"text"', {}),
    ("POST", "/api/v1/namespaces/default/configmaps", b'{"metadata": 5}', {}),
    ("POST", "/api/v1/namespaces/default/configmaps", b'{"metadata": {"name": 5}}', {}),
    ("POST", "/api/v1/namespaces/default/configmaps", b"", {}),
    ("POST", "/api/v1/namespaces/default/configmaps", b"k8s\x00", {"Content-Type": PROTOBUF}),
    ("POST", "/api/v1/namespaces/default/configmaps", b"a: b", {"Content-Type": "text/plain"}),
    ("PUT", "/api/v1/namespaces/default/configmaps/x", b"{}", {}),
    ("PATCH", "/api/v1/namespaces/default/configmaps/x", b"{}", {}),
    (
        "PATCH",
        "/api/v1/namespaces/default/configmaps/seed",
        b"{not json",
        {"Content-Type": "application/merge-patch+json"},
    ),
    (
        "PATCH",
        "/api/v1/namespaces/default/configmaps/seed",
        b'[{"op": "jump"}]',
        {"Content-Type": "application/json-patch+json"},
    ),
    (
        "PATCH",
        "/api/v1/namespaces/default/configmaps/seed",
        b'[{"op": "add"}]',
        {"Content-Type": "application/json-patch+json"},
    ),
    (
        "PATCH",
        "/api/v1/namespaces/default/configmaps/seed",
        b'"x"',
        {"Content-Type": "application/strategic-merge-patch+json"},
    ),
    (
        "PATCH",
        "/api/v1/namespaces/default/configmaps/seed",
        b'{"metadata": []}',
        {"Content-Type": "application/merge-patch+json"},
    ),
    (
        "PATCH",
        "/api/v1/namespaces/default/configmaps/seed",
        b'{"data": {"k": 1}}',
        {"Content-Type": "application/merge-patch+json"},
    ),
    ("DELETE", "/api/v1/namespaces/default/configmaps/seed", b"[]", {}),
    ("GET", "/api/v1/namespaces/default/configmaps?limit=abc", None, {}),
    ("GET", "/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20b", None, {}),
    ("GET", "/api/v1/namespaces/default/configmaps?fieldSelector=x", None, {}),
    ("GET", "/api/v1/namespaces/default/configmaps?continue=%%%", None, {}),
    ("GET", "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=abc", None, {}),
    ("GET", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=x", None, {}),
    ("POST", "/api/v1/namespaces/default/pods/seed/eviction", b"{}", {}),
    ("POST", "/api/v1/namespaces/default/pods/ghost/eviction", b'{"kind": 5}', {}),
    ("PUT", "/apis/apps/v1/namespaces/default/deployments/ghost/scale", b"{}", {}),
    ("POST", "/api/v1/namespaces", b'{"metadata": {"name": "UPPER"}}', {}),
    ("DELETE", "/api/v1/namespaces/default/configmaps", b"{bad", {}),
    ("OPTIONS", "/api/v1/namespaces/default/configmaps", None, {}),
    ("POST", "/api/v1/namespaces/default/configmaps/seed", b"{}", {}),
]

# the real server's own 500s (an undecodable DeleteOptions body, a resourceVersion that is
# not a number on a watch): the emulator answers them with a 400
REAL_500 = {
    ("DELETE", "/api/v1/namespaces/default/configmaps/seed", b"[]"),
    ("DELETE", "/api/v1/namespaces/default/configmaps", b"{bad"),
    ("GET", "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=abc", None),
}


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    BAD_REQUESTS,
    ids=[f"{m} {p} {b!r}" for m, p, b, _ in BAD_REQUESTS],
)
def test_bad_requests_never_get_a_500(
    backend: str,
    api_client: client.ApiClient,
    core: client.CoreV1Api,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
) -> None:
    if backend == "real" and (method, path, body) in REAL_500:
        pytest.skip(f"deliberate: kube-apiserver answers {method} {path} {body!r} with a 500")
    core.create_namespaced_config_map("default", {"metadata": {"name": "seed"}})
    code, answer = raw(
        api_client, method, path, body, {"Content-Type": "application/json", **headers}
    )
    assert 400 <= code < 500, (code, answer)
    if method != "OPTIONS" or answer is not None:
        assert answer is not None
        assert answer["kind"] == "Status", answer
        assert answer["code"] == code


def test_wrong_json_type_in_metadata_is_400(api_client: client.ApiClient) -> None:
    # The typed client refuses to send this, so it goes through call_api.
    body = expect_request_error(
        400,
        api_client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        body={"metadata": {"name": "a", "labels": {"n": 1}}},
    )
    assert body["message"].startswith(
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
        "number into Go struct field"
    )


def test_patch_giving_a_field_the_wrong_json_type_is_422(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    body = expect_error(
        422,
        core.patch_namespaced_config_map,
        "a",
        "default",
        {"data": {"k": 1}},
        _content_type="application/merge-patch+json",
    )
    assert body["details"]["causes"][0]["field"] == "patch"
    assert core.read_namespaced_config_map("a", "default").data is None
