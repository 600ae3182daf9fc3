"""JSON, merge and strategic merge patches must produce what kube-apiserver produces."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kube_emulator.patches import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)

from .cases import cases

DOC: dict[str, Any] = {
    "metadata": {"name": "web", "resourceVersion": "7", "labels": {"app": "web", "a/b": "x"}},
    "spec": {"list": [1, 2, 3], "flag": True, "nested": {"k": "v"}, "nothing": None},
}


# ------------------------------------------------------------------------ RFC 6902


@pytest.mark.parametrize(
    ("ops", "expected"), cases("patches", "json_patch", "ops", "expected", base=DOC)
)
def test_json_patch_applies_operations(ops: list[dict[str, Any]], expected: Any) -> None:
    assert apply_json_patch(DOC, ops) == expected


@pytest.mark.parametrize(
    ("ops", "code", "message"), cases("patches", "json_patch_errors", "ops", "code", "message")
)
def test_json_patch_errors_like_kube(ops: Any, code: int, message: str) -> None:
    with pytest.raises(PatchError) as exc_info:
        apply_json_patch(DOC, ops)
    assert exc_info.value.code == code
    assert exc_info.value.message == message
    assert str(exc_info.value) == message


def test_json_patch_is_atomic_and_never_mutates_inputs() -> None:
    doc = copy.deepcopy(DOC)
    ops = [
        {"op": "add", "path": "/spec/nested/extra", "value": {"deep": [1]}},
        {"op": "test", "path": "/metadata/name", "value": "other"},
    ]
    ops_before = copy.deepcopy(ops)
    with pytest.raises(PatchError):
        apply_json_patch(doc, ops)
    assert doc == DOC
    assert ops == ops_before


def test_json_patch_result_does_not_alias_patch_values() -> None:
    value = {"deep": [1]}
    result = apply_json_patch({}, [{"op": "add", "path": "/v", "value": value}])
    result["v"]["deep"].append(2)
    assert value == {"deep": [1]}


# ------------------------------------------------------------------------ RFC 7386


@pytest.mark.parametrize(
    ("doc", "patch", "expected"),
    [
        ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
        ({"a": 1}, {"a": 2}, {"a": 2}),
        ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
        ({"a": 1}, {"x": None}, {"a": 1}),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}, {"a": {"c": 2, "d": 3}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": "x"}, {"a": {"b": 1}}, {"a": {"b": 1}}),
        ({"a": {"b": 1}}, {"a": "x"}, {"a": "x"}),
        ({}, {"a": {"b": None, "c": {"d": None, "e": 1}}}, {"a": {"c": {"e": 1}}}),
        ({"a": 1}, ["x"], ["x"]),
        ({"a": 1}, "x", "x"),
        ({"a": 1}, None, None),
        ("scalar", {"a": 1}, {"a": 1}),
        ({"a": [{"b": None}]}, {}, {"a": [{"b": None}]}),
        # as kube-apiserver 1.34 stores them (evanphx/json-patch; checked on the real
        # cluster): a list that replaces anything but an object loses the null members of
        # its objects, not its null items; one that replaces an object is taken as it is
        ({"a": 1}, {"b": [{"c": None, "d": 1}, None]}, {"a": 1, "b": [{"d": 1}, None]}),
        ({"a": 1, "b": [1]}, {"b": [{"c": {"e": None}}]}, {"a": 1, "b": [{"c": {}}]}),
        ({"o": {"x": 1}}, {"o": [{"c": None}]}, {"o": [{"c": None}]}),
    ],
)
def test_merge_patch_follows_rfc_7386(doc: Any, patch: Any, expected: Any) -> None:
    assert apply_merge_patch(doc, patch) == expected


def test_merge_patch_never_mutates_inputs() -> None:
    doc = {"a": {"b": 1}, "c": [1]}
    patch = {"a": {"d": {"e": 1}}, "c": None}
    result = apply_merge_patch(doc, patch)
    result["a"]["d"]["e"] = 2
    assert doc == {"a": {"b": 1}, "c": [1]}
    assert patch == {"a": {"d": {"e": 1}}, "c": None}


# ------------------------------------------------------------------ strategic merge patch

POD: dict[str, Any] = {
    "metadata": {
        "name": "web",
        "labels": {"app": "web", "tier": "front"},
        "finalizers": ["a", "b"],
        "ownerReferences": [{"uid": "u1", "name": "rs-1"}],
    },
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "app:1",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 80, "name": "http"}],
                "volumeMounts": [{"mountPath": "/data", "name": "data"}],
                "args": ["--x", "--y"],
            },
            {"name": "sidecar", "image": "side:1"},
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "t1"}],
        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}],
        "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 1}],
    },
    "status": {"conditions": [{"type": "Ready", "status": "False"}]},
}


@pytest.mark.parametrize(
    ("patch", "expected"),
    cases("patches", "strategic_merge_patch", "patch", "expected", base=POD),
)
def test_strategic_merge_patch_merges_like_kube(
    patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert apply_strategic_merge_patch(POD, patch) == expected


@pytest.mark.parametrize(
    ("doc", "patch", "expected"),
    cases("patches", "strategic_merge_patch_edge_cases", "doc", "patch", "expected"),
)
def test_strategic_merge_patch_edge_cases(doc: Any, patch: dict[str, Any], expected: Any) -> None:
    assert apply_strategic_merge_patch(doc, patch) == expected


@pytest.mark.parametrize(
    ("patch", "code", "message"),
    cases("patches", "strategic_merge_patch_errors", "patch", "code", "message"),
)
def test_strategic_merge_patch_errors_like_kube(patch: Any, code: int, message: str) -> None:
    with pytest.raises(PatchError) as exc_info:
        apply_strategic_merge_patch(POD, patch)
    assert (exc_info.value.code, exc_info.value.message) == (code, message)


def test_strategic_merge_patch_never_mutates_inputs() -> None:
    doc = copy.deepcopy(POD)
    patch = {
        "metadata": {"labels": {"app": None}, "$deleteFromPrimitiveList/finalizers": ["a"]},
        "spec": {"containers": [{"name": "app", "env": [{"name": "A", "$patch": "delete"}]}]},
    }
    patch_before = copy.deepcopy(patch)
    result = apply_strategic_merge_patch(doc, patch)
    result["spec"]["containers"][1]["image"] = "mutated"
    assert doc == POD
    assert patch == patch_before


def test_patch_error_repr_names_code_and_message() -> None:
    assert repr(PatchError(422, "boom")) == "PatchError(422, 'boom')"
