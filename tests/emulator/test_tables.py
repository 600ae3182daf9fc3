"""Server-side Table rendering must match what kube-apiserver sends to kubectl."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kube_emulator.tables import (
    CREATION_TIMESTAMP_DESCRIPTION,
    NAME_DESCRIPTION,
    JSONPathError,
    build_table,
    builtin_columns_and_cells,
    crd_columns,
    crd_row_cells,
    evaluate_jsonpath,
    human_duration,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def header(columns: list[dict[str, Any]]) -> str:
    """The column names, as a header row: `Name|Ready|...`."""
    return "|".join(c["name"] for c in columns)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


OBJ: dict[str, Any] = {
    "metadata": {"name": "inc-1", "labels": {"app": "web", "app.kubernetes.io/name": "x"}},
    "spec": {"severity": "P1", "count": 3, "ratio": 0.5, "on": True, "tags": ["a", "b"]},
    "status": {
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Degraded", "status": "False"},
        ],
        "nothing": None,
    },
    "items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(".spec.severity", ["P1"], id="field"),
        pytest.param("{.spec.severity}", ["P1"], id="braces"),
        pytest.param("$.spec.severity", ["P1"], id="root-dollar"),
        pytest.param(".status.conditions[0].type", ["Ready"], id="index"),
        pytest.param(".status.conditions[-1].type", ["Degraded"], id="negative-index"),
        pytest.param(".status.conditions[5].type", [], id="index-out-of-range"),
        pytest.param('.status.conditions[?(@.type=="Ready")].status', ["True"], id="filter-eq"),
        pytest.param(".status.conditions[?(@.type!='Ready')].type", ["Degraded"], id="filter-ne"),
        pytest.param(".items[?(@.n>1)].name", ["b"], id="filter-gt"),
        pytest.param(".items[?(@.n<=1)].name", ["a"], id="filter-le"),
        pytest.param(".items[?(@.n)].name", ["a", "b"], id="filter-exists"),
        pytest.param(".metadata.labels.app", ["web"], id="label"),
        pytest.param(".metadata.labels.app\\.kubernetes\\.io/name", ["x"], id="escaped-dots"),
        pytest.param(".metadata.labels['app.kubernetes.io/name']", ["x"], id="quoted-key"),
        pytest.param(".items[*].name", ["a", "b"], id="wildcard"),
        pytest.param(".items[0:1].name", ["a"], id="slice"),
        pytest.param(".spec.tags[0,1]", ["a", "b"], id="union"),
        pytest.param("..name", ["a", "b", "inc-1"], id="recursive-descent-sorted-keys"),
        pytest.param(".spec.missing", [], id="missing"),
        pytest.param(".spec.tags.name", [], id="field-on-list"),
        pytest.param(".status.nothing", [None], id="explicit-null"),
    ],
)
def test_evaluate_jsonpath_supports_printer_column_subset(path: str, expected: list[Any]) -> None:
    assert evaluate_jsonpath(OBJ, path) == expected


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(".spec[", id="unterminated"),
        pytest.param(".spec[abc]", id="bad-subscript"),
        pytest.param(".items[?(@.n ~ 1)]", id="bad-filter"),
    ],
)
def test_evaluate_jsonpath_rejects_unsupported_syntax(path: str) -> None:
    with pytest.raises(JSONPathError):
        evaluate_jsonpath(OBJ, path)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(-5, "<invalid>", id="future"),
        pytest.param(-1, "0s", id="clock-skew"),
        pytest.param(0, "0s", id="zero"),
        pytest.param(59.9, "59s", id="truncates"),
        pytest.param(119, "119s", id="under-two-minutes"),
        pytest.param(120, "2m", id="two-minutes"),
        pytest.param(310, "5m10s", id="minutes-seconds"),
        pytest.param(600, "10m", id="ten-minutes"),
        pytest.param(3 * 3600 - 1, "179m", id="under-three-hours"),
        pytest.param(3 * 3600, "3h", id="three-hours"),
        pytest.param(3 * 3600 + 600, "3h10m", id="hours-minutes"),
        pytest.param(8 * 3600 + 600, "8h", id="eight-hours"),
        pytest.param(47 * 3600, "47h", id="under-two-days"),
        pytest.param(2 * 86400 + 3 * 3600, "2d3h", id="days-hours"),
        pytest.param(3 * 86400, "3d", id="whole-days"),
        pytest.param(45 * 86400, "45d", id="days"),
        pytest.param(2 * 365 * 86400 + 10 * 86400, "2y10d", id="years-days"),
        pytest.param(3 * 365 * 86400, "3y", id="whole-years"),
        pytest.param(9 * 365 * 86400, "9y", id="many-years"),
    ],
)
def test_human_duration_matches_apimachinery(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Severity", "type": "string", "jsonPath": ".spec.severity"},
    {"name": "Count", "type": "integer", "jsonPath": ".spec.count", "priority": 1},
    {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "format": "float"},
    {"name": "On", "type": "boolean", "jsonPath": ".spec.on", "description": "Whether on"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def test_crd_columns_put_name_first_then_printer_columns() -> None:
    columns = crd_columns(PRINTER_COLUMNS)
    assert columns[0] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": NAME_DESCRIPTION,
        "priority": 0,
    }
    assert columns[1] == {
        "name": "Severity",
        "type": "string",
        "format": "",
        "description": "Custom resource definition column (in JSONPath format): .spec.severity",
        "priority": 0,
    }
    assert columns[2]["priority"] == 1
    assert columns[3]["format"] == "float"
    assert columns[4]["description"] == "Whether on"
    assert [c["name"] for c in columns] == ["Name", "Severity", "Count", "Ratio", "On", "Age"]


def test_crd_columns_default_to_name_and_age() -> None:
    assert crd_columns([]) == [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": NAME_DESCRIPTION,
            "priority": 0,
        },
        {
            "name": "Age",
            "type": "date",
            "format": "",
            "description": CREATION_TIMESTAMP_DESCRIPTION,
            "priority": 0,
        },
    ]


def test_crd_row_cells_keep_types_and_render_dates() -> None:
    obj = {**OBJ, "metadata": {**OBJ["metadata"], "creationTimestamp": ago(minutes=5, seconds=10)}}
    assert crd_row_cells(obj, PRINTER_COLUMNS, NOW) == ["inc-1", "P1", 3, 0.5, True, "5m10s"]


def test_crd_row_cells_default_columns_show_age() -> None:
    obj = {"metadata": {"name": "x", "creationTimestamp": ago(hours=3)}}
    assert crd_row_cells(obj, [], NOW) == ["x", "3h"]


@pytest.mark.parametrize(
    ("column_type", "path", "expected"),
    [
        pytest.param("string", ".spec.missing", None, id="missing-is-none"),
        pytest.param("string", ".status.nothing", None, id="null-is-none"),
        pytest.param("string", ".spec.count", "3", id="string-of-integer"),
        pytest.param("string", ".spec.on", "true", id="string-of-boolean"),
        pytest.param("string", ".spec.tags", '["a","b"]', id="string-of-list-is-json"),
        pytest.param("string", ".items[*].name", "a", id="first-result-only"),
        pytest.param("integer", ".spec.ratio", 0, id="integer-truncates-float"),
        pytest.param("integer", ".spec.severity", None, id="integer-of-string"),
        pytest.param("integer", ".spec.on", None, id="integer-of-boolean"),
        pytest.param("number", ".spec.count", 3.0, id="number-of-integer"),
        pytest.param("boolean", ".spec.severity", None, id="boolean-of-string"),
        pytest.param("date", ".spec.severity", "<invalid>", id="date-unparsable"),
        pytest.param("date", ".spec.count", None, id="date-of-integer"),
        pytest.param("date", ".spec.missing", None, id="date-missing"),
        pytest.param("unknown", ".spec.severity", None, id="unknown-type"),
        pytest.param("string", ".spec[", None, id="bad-jsonpath-is-none"),
    ],
)
def test_crd_row_cells_convert_values_like_cell_for_json_value(
    column_type: str, path: str, expected: Any
) -> None:
    column = {"name": "C", "type": column_type, "jsonPath": path}
    assert crd_row_cells(OBJ, [column], NOW) == ["inc-1", expected]


def test_crd_row_cells_empty_date_is_unknown() -> None:
    column = {"name": "C", "type": "date", "jsonPath": ".spec.when"}
    assert crd_row_cells({"metadata": {"name": "x"}, "spec": {"when": ""}}, [column], NOW) == [
        "x",
        "<unknown>",
    ]


def test_crd_row_cells_accept_naive_now_as_utc() -> None:
    obj = {"metadata": {"name": "x", "creationTimestamp": ago(seconds=30)}}
    assert crd_row_cells(obj, [], NOW.replace(tzinfo=None)) == ["x", "30s"]


def pod(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "web-1", "creationTimestamp": ago(minutes=5)},
        "spec": {"containers": [{"name": "app"}], "nodeName": "node-1"},
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.1",
            "containerStatuses": [
                {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}
            ],
        },
    }
    for key, value in overrides.items():
        # status is replaced wholesale; spec and metadata are merged
        obj[key] = value if key == "status" else {**obj[key], **value}
    return obj


def in_phase(phase: str, **status: Any) -> dict[str, Any]:
    """A pod in `phase`, with `status`."""
    return pod(status={"phase": phase, **status})


def failed_pod(terminated: dict[str, Any]) -> dict[str, Any]:
    """A failed pod whose one container ended so."""
    status = {"ready": False, "state": {"terminated": terminated}}
    return pod(status={"phase": "Failed", "containerStatuses": [status]})


def init_pod(state: dict[str, Any]) -> dict[str, Any]:
    """A pending pod whose init container `init` is in `state`."""
    return pod(
        spec={"initContainers": [{"name": "init"}], "containers": [{"name": "app"}]},
        status={
            "phase": "Pending",
            "initContainerStatuses": [{"name": "init", "state": state}],
        },
    )


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(pod(), ("1/1", "Running", "0"), id="running"),
        pytest.param(
            in_phase(
                "Running",
                containerStatuses=[
                    {
                        "ready": False,
                        "restartCount": 4,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"finishedAt": ago(minutes=2)}},
                    }
                ],
            ),
            ("0/1", "CrashLoopBackOff", "4 (2m ago)"),
            id="crash-loop",
        ),
        pytest.param(
            pod(status={"phase": "Pending"}), ("0/1", "Pending", "0"), id="pending-without-statuses"
        ),
        pytest.param(
            failed_pod({"exitCode": 137}),
            ("0/1", "ExitCode:137", "0"),
            id="terminated-without-reason",
        ),
        pytest.param(
            failed_pod({"exitCode": 1, "signal": 9}),
            ("0/1", "Signal:9", "0"),
            id="terminated-by-signal",
        ),
        pytest.param(
            pod(metadata={"deletionTimestamp": ago(seconds=1)}),
            ("1/1", "Terminating", "0"),
            id="terminating",
        ),
        pytest.param(
            pod(status={"phase": "Failed", "reason": "Evicted"}),
            ("0/1", "Evicted", "0"),
            id="status-reason",
        ),
        pytest.param(init_pod({"running": {}}), ("0/1", "Init:0/1", "0"), id="init-running"),
        pytest.param(
            init_pod({"waiting": {"reason": "ImagePullBackOff"}}),
            ("0/1", "Init:ImagePullBackOff", "0"),
            id="init-waiting",
        ),
        pytest.param(
            init_pod({"terminated": {"exitCode": 2}}),
            ("0/1", "Init:ExitCode:2", "0"),
            id="init-failed",
        ),
        pytest.param(
            in_phase("Pending", conditions=[{"type": "PodScheduled", "reason": "SchedulingGated"}]),
            ("0/1", "SchedulingGated", "0"),
            id="scheduling-gated",
        ),
        pytest.param(
            pod(
                spec={
                    "initContainers": [{"name": "side", "restartPolicy": "Always"}],
                    "containers": [{"name": "app"}],
                },
                status={
                    "phase": "Running",
                    "initContainerStatuses": [
                        {"name": "side", "started": True, "ready": True, "state": {"running": {}}}
                    ],
                    "containerStatuses": [{"ready": True, "state": {"running": {}}}],
                },
            ),
            ("2/2", "Running", "0"),
            id="sidecar-counts",
        ),
        pytest.param(
            in_phase(
                "Running",
                conditions=[{"type": "Ready", "status": "False"}],
                containerStatuses=[
                    {"ready": True, "state": {"running": {}}},
                    {"ready": False, "state": {"terminated": {"reason": "Completed"}}},
                ],
            ),
            ("1/1", "NotReady", "0"),
            id="completed-with-running-sibling",
        ),
    ],
)
def test_pod_row_matches_kubectl_status(
    obj: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    """`expected`: the Ready, Status and Restarts cells."""
    columns, cells = builtin_columns_and_cells("Pod", obj, NOW)
    assert header(columns) == (
        "Name|Ready|Status|Restarts|Age|IP|Node|Nominated Node|Readiness Gates"
    )
    assert [c["priority"] for c in columns] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert cells[1:4] == list(expected)


def test_pod_wide_cells() -> None:
    obj = pod(
        spec={"readinessGates": [{"conditionType": "x/ok"}], "containers": [{"name": "app"}]},
        status={
            "phase": "Running",
            "podIPs": [{"ip": "10.0.0.9"}],
            "conditions": [{"type": "x/ok", "status": "True"}],
        },
    )
    _, cells = builtin_columns_and_cells("Pod", obj, NOW)
    assert cells[0] == "web-1"
    assert cells[4:] == ["5m", "10.0.0.9", "node-1", "<none>", "1/1"]


def test_deployment_row() -> None:
    obj = {
        "metadata": {"name": "web", "creationTimestamp": ago(days=2, hours=3)},
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["b", "a"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ],
            },
            "template": {
                "spec": {
                    "containers": [{"name": "a", "image": "i:1"}, {"name": "b", "image": "i:2"}]
                }
            },
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    columns, cells = builtin_columns_and_cells("Deployment", obj, NOW)
    assert header(columns) == "Name|Ready|Up-to-date|Available|Age|Containers|Images|Selector"
    assert cells == ["web", "2/3", 3, 2, "2d3h", "a,b", "i:1,i:2", "app=web,!canary,tier in (a,b)"]


def test_deployment_without_replicas_defaults_to_one() -> None:
    _, cells = builtin_columns_and_cells("Deployment", {"metadata": {"name": "d"}}, NOW)
    assert cells == ["d", "0/1", 0, 0, "<unknown>", "", "", ""]


def test_replicaset_row() -> None:
    obj = {
        "metadata": {"name": "web-abc", "creationTimestamp": ago(seconds=30)},
        "spec": {
            "replicas": 2,
            "selector": {"matchExpressions": [{"key": "k", "operator": "Exists"}]},
        },
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    columns, cells = builtin_columns_and_cells("ReplicaSet", obj, NOW)
    assert [c["name"] for c in columns][:5] == ["Name", "Desired", "Current", "Ready", "Age"]
    assert cells == ["web-abc", 2, 2, 1, "30s", "", "", "k"]


@pytest.mark.parametrize(
    ("kind", "obj", "names", "cells"),
    [
        pytest.param(
            "ConfigMap",
            {
                "metadata": {"name": "cm", "creationTimestamp": ago(days=45)},
                "data": {"a": "1"},
                "binaryData": {"b": ""},
            },
            ["Name", "Data", "Age"],
            ["cm", 2, "45d"],
            id="configmap",
        ),
        pytest.param(
            "Secret",
            {"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "MQ=="}},
            ["Name", "Type", "Data", "Age"],
            ["s", "Opaque", 1, "<unknown>"],
            id="secret",
        ),
        pytest.param(
            "Namespace",
            {
                "metadata": {"name": "ns", "creationTimestamp": ago(hours=1)},
                "status": {"phase": "Active"},
            },
            ["Name", "Status", "Age"],
            ["ns", "Active", "60m"],
            id="namespace",
        ),
        pytest.param(
            "Lease",
            {"metadata": {"name": "l"}, "spec": {"holderIdentity": "op-1"}},
            ["Name", "Holder", "Age"],
            ["l", "op-1", "<unknown>"],
            id="lease",
        ),
        pytest.param(
            "CustomResourceDefinition",
            {
                "metadata": {
                    "name": "incidents.remediator.dev",
                    "creationTimestamp": "2024-01-02T03:04:05+01:00",
                }
            },
            ["Name", "Created At"],
            ["incidents.remediator.dev", "2024-01-02T02:04:05Z"],
            id="crd-created-at-utc",
        ),
        pytest.param(
            "CustomResourceDefinition",
            {"metadata": {"name": "c"}},
            ["Name", "Created At"],
            ["c", "0001-01-01T00:00:00Z"],
            id="crd-zero-time",
        ),
        pytest.param(
            "Service",
            {"metadata": {"name": "svc", "creationTimestamp": ago(seconds=5)}},
            ["Name", "Age"],
            ["svc", "5s"],
            id="fallback-name-age",
        ),
    ],
)
def test_builtin_kinds_columns_and_cells(
    kind: str, obj: dict[str, Any], names: list[str], cells: list[Any]
) -> None:
    columns, row = builtin_columns_and_cells(kind, obj, NOW)
    assert [c["name"] for c in columns] == names
    assert row == cells
    assert all(set(c) == {"name", "type", "format", "description", "priority"} for c in columns)


def test_event_row_renders_wide_cells() -> None:
    obj = {
        "metadata": {"name": "web.17a"},
        "type": "Warning",
        "reason": "BackOff",
        "message": "  Back-off restarting  \n",
        "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(minutes=10),
        "lastTimestamp": ago(seconds=30),
        "count": 7,
    }
    columns, cells = builtin_columns_and_cells("Event", obj, NOW)
    assert header(columns) == (
        "Last Seen|Type|Reason|Object|Subobject|Source|Message|First Seen|Count|Name"
    )
    assert cells == [
        "30s",
        "Warning",
        "BackOff",
        "pod/web-1",
        "spec.containers{app}",
        "kubelet, node-1",
        "Back-off restarting",
        "10m",
        7,
        "web.17a",
    ]


def test_event_row_falls_back_to_event_time_and_series() -> None:
    obj = {
        "metadata": {"name": "e"},
        "eventTime": "2024-05-01T11:59:00.000000Z",
        "series": {"count": 3, "lastObservedTime": "2024-05-01T11:59:50.000000Z"},
        "involvedObject": {"kind": "Node"},
        "reportingComponent": "ctrl",
    }
    _, cells = builtin_columns_and_cells("Event", obj, NOW)
    assert cells[0] == "10s"
    assert cells[3] == "node"
    assert cells[5] == "ctrl"
    assert cells[7:9] == ["60s", 3]


def test_event_without_count_is_a_singleton() -> None:
    _, cells = builtin_columns_and_cells("Event", {"metadata": {"name": "e"}}, NOW)
    assert cells[0] == "<unknown>"
    assert cells[8] == 1


ROW_OBJ = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}}


@pytest.mark.parametrize(
    ("include_object", "expected"),
    [
        pytest.param("None", None, id="none"),
        pytest.param(
            "Metadata",
            {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"name": "cm"},
            },
            id="metadata",
        ),
        pytest.param("Object", ROW_OBJ, id="object"),
    ],
)
def test_build_table_include_object_policies(include_object: str, expected: Any) -> None:
    columns, cells = builtin_columns_and_cells("ConfigMap", ROW_OBJ, NOW)
    table = build_table(
        [(cells, ROW_OBJ)], columns, include_object=include_object, resource_version="42"
    )
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42"}
    assert table["columnDefinitions"] == columns
    assert table["rows"] == [{"cells": ["cm", 1, "<unknown>"], "object": expected}]


def test_build_table_defaults_to_metadata_and_carries_continue_token() -> None:
    table = build_table([], [], resource_version="7", continue_token="abc")
    assert table["metadata"] == {"resourceVersion": "7", "continue": "abc"}
    assert table["rows"] == []


def test_build_table_rejects_unknown_include_object() -> None:
    with pytest.raises(ValueError, match="includeObject"):
        build_table([([], ROW_OBJ)], [], include_object="Everything", resource_version="1")
