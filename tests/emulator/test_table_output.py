"""Table output of the built-in kinds through the API (what `kubectl get` prints): the
column definitions kube-apiserver sends and one row's cells."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client

from kube_emulator.tables import builtin_columns_and_cells

from .builders import deployment
from .conftest import api_request

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def table(api_client: client.ApiClient, path: str, **query: str) -> dict[str, Any]:
    result: dict[str, Any] = api_request(
        api_client, "GET", path, accept=TABLE, query=list(query.items())
    )
    return result


def columns(answer: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(c["name"], c["type"], c["priority"]) for c in answer["columnDefinitions"]]


def row(answer: dict[str, Any], name: str) -> list[Any]:
    [found] = [r for r in answer["rows"] if r["cells"][0] == name]
    cells: list[Any] = found["cells"]
    return cells


@pytest.mark.parametrize(
    ("path", "body", "expected_columns", "expected_cells"),
    [
        pytest.param(
            "/api/v1/namespaces/default/configmaps",
            {"metadata": {"name": "t"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}},
            [("Name", "string", 0), ("Data", "string", 0), ("Age", "string", 0)],
            ["t", 3],
            id="configmap",
        ),
        pytest.param(
            "/api/v1/namespaces/default/secrets",
            {"metadata": {"name": "t"}, "type": "Opaque", "data": {"a": "MQ=="}},
            [
                ("Name", "string", 0),
                ("Type", "string", 0),
                ("Data", "string", 0),
                ("Age", "string", 0),
            ],
            ["t", "Opaque", 1],
            id="secret",
        ),
        pytest.param(
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            {"metadata": {"name": "t"}, "spec": {"holderIdentity": "me"}},
            [("Name", "string", 0), ("Holder", "string", 0), ("Age", "string", 0)],
            ["t", "me"],
            id="lease",
        ),
    ],
)
def test_a_built_in_kind_prints_its_columns_and_cells(
    api_client: client.ApiClient,
    path: str,
    body: dict[str, Any],
    expected_columns: list[tuple[str, str, int]],
    expected_cells: list[Any],
) -> None:
    api_request(api_client, "POST", path, body=body)
    answer = table(api_client, path)
    assert (answer["kind"], answer["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert columns(answer) == expected_columns
    cells = row(answer, "t")
    assert cells[: len(expected_cells)] == expected_cells
    assert cells[-1].endswith("s")  # Age, seconds old


def test_a_namespace_prints_its_status(api_client: client.ApiClient) -> None:
    api_request(api_client, "POST", "/api/v1/namespaces", body={"metadata": {"name": "table-ns"}})
    answer = table(api_client, "/api/v1/namespaces")
    assert columns(answer) == [("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)]
    assert row(answer, "table-ns")[:2] == ["table-ns", "Active"]


def test_a_deployment_prints_its_wide_columns(
    api_client: client.ApiClient, apps: client.AppsV1Api
) -> None:
    apps.create_namespaced_deployment("default", deployment("t"))
    answer = table(api_client, "/apis/apps/v1/namespaces/default/deployments")
    assert columns(answer) == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Up-to-date", "string", 0),
        ("Available", "string", 0),
        ("Age", "string", 0),
        ("Containers", "string", 1),
        ("Images", "string", 1),
        ("Selector", "string", 1),
    ]
    assert row(answer, "t")[5:] == ["app", "nginx:1.25", "app=t"]


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("ConfigMap", "/api/v1/namespaces/default/configmaps"),
        ("Secret", "/api/v1/namespaces/default/secrets"),
        ("Namespace", "/api/v1/namespaces"),
        ("Lease", "/apis/coordination.k8s.io/v1/namespaces/default/leases"),
        ("Deployment", "/apis/apps/v1/namespaces/default/deployments"),
        ("ReplicaSet", "/apis/apps/v1/namespaces/default/replicasets"),
        ("Pod", "/api/v1/namespaces/default/pods"),
        ("Event", "/api/v1/namespaces/default/events"),
        ("CustomResourceDefinition", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"),
    ],
)
def test_the_column_definitions_are_what_the_emulator_s_printer_declares(
    api_client: client.ApiClient, kind: str, path: str
) -> None:
    """On the real server: the emulator's printer (kube_emulator.tables) declares
    kube-apiserver's columns, descriptions included."""
    declared, _ = builtin_columns_and_cells(kind, {"metadata": {"name": "x"}}, datetime.now(UTC))
    assert table(api_client, path)["columnDefinitions"] == declared


def test_include_object_none_leaves_the_rows_bare(api_client: client.ApiClient) -> None:
    api_request(
        api_client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        body={"metadata": {"name": "t"}},
    )
    answer = table(api_client, "/api/v1/namespaces/default/configmaps", includeObject="None")
    assert all(r.get("object") is None for r in answer["rows"])
    answer = table(api_client, "/api/v1/namespaces/default/configmaps", includeObject="Object")
    assert row_object(answer, "t")["kind"] == "ConfigMap"
    answer = table(api_client, "/api/v1/namespaces/default/configmaps")
    assert row_object(answer, "t")["kind"] == "PartialObjectMetadata"


def row_object(answer: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in answer["rows"] if r["cells"][0] == name]
    obj: dict[str, Any] = found["object"]
    return obj
