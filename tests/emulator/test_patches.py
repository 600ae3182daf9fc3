"""JSON, merge and strategic merge patches must produce what kube-apiserver produces."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kube_emulator.patches import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)

DOC: dict[str, Any] = {
    "metadata": {"name": "web", "resourceVersion": "7", "labels": {"app": "web", "a/b": "x"}},
    "spec": {"list": [1, 2, 3], "flag": True, "nested": {"k": "v"}, "nothing": None},
}


def _with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(DOC)
    change(doc)
    return doc


# ------------------------------------------------------------------------ RFC 6902


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        pytest.param([], DOC, id="empty-patch"),
        pytest.param(
            [{"op": "add", "path": "/spec/new", "value": {"x": 1}}],
            _with(lambda d: d["spec"].__setitem__("new", {"x": 1})),
            id="add-member",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/flag", "value": False}],
            _with(lambda d: d["spec"].__setitem__("flag", False)),
            id="add-overwrites-member",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/1", "value": 9}],
            _with(lambda d: d["spec"].__setitem__("list", [1, 9, 2, 3])),
            id="add-inserts-at-index",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/3", "value": 9}],
            _with(lambda d: d["spec"].__setitem__("list", [1, 2, 3, 9])),
            id="add-at-length-appends",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/-", "value": 9}],
            _with(lambda d: d["spec"].__setitem__("list", [1, 2, 3, 9])),
            id="add-dash-appends",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/-1", "value": 9}],
            _with(lambda d: d["spec"].__setitem__("list", [1, 2, 3, 9])),
            id="add-negative-index-counts-from-end",
        ),
        pytest.param(
            [{"op": "add", "path": "/metadata/labels/a~1b", "value": "y"}],
            _with(lambda d: d["metadata"]["labels"].__setitem__("a/b", "y")),
            id="add-unescapes-tilde-one",
        ),
        pytest.param(
            [{"op": "add", "path": "/metadata/labels/c~0d", "value": "z"}],
            _with(lambda d: d["metadata"]["labels"].__setitem__("c~d", "z")),
            id="add-unescapes-tilde-zero",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/new"}],
            _with(lambda d: d["spec"].__setitem__("new", None)),
            id="add-without-value-adds-null",
        ),
        pytest.param(
            [{"op": "remove", "path": "/metadata/labels/app"}],
            _with(lambda d: d["metadata"]["labels"].pop("app")),
            id="remove-member",
        ),
        pytest.param(
            [{"op": "remove", "path": "/spec/list/0"}],
            _with(lambda d: d["spec"].__setitem__("list", [2, 3])),
            id="remove-index",
        ),
        pytest.param(
            [{"op": "remove", "path": "/spec/list/-1"}],
            _with(lambda d: d["spec"].__setitem__("list", [1, 2])),
            id="remove-negative-index",
        ),
        pytest.param(
            [{"op": "remove", "path": "/spec/nothing"}],
            _with(lambda d: d["spec"].pop("nothing")),
            id="remove-null-member",
        ),
        pytest.param(
            [{"op": "replace", "path": "/metadata/name", "value": "db"}],
            _with(lambda d: d["metadata"].__setitem__("name", "db")),
            id="replace-member",
        ),
        pytest.param(
            [{"op": "replace", "path": "/spec/list/2", "value": 0}],
            _with(lambda d: d["spec"].__setitem__("list", [1, 2, 0])),
            id="replace-index",
        ),
        pytest.param(
            [{"op": "replace", "path": "/spec/absent", "value": 1}],
            _with(lambda d: d["spec"].__setitem__("absent", 1)),
            id="replace-missing-member-adds-it-like-json-patch-v4",
        ),
        pytest.param(
            [{"op": "replace", "path": "", "value": {"x": 1}}],
            {"x": 1},
            id="replace-whole-document",
        ),
        pytest.param(
            [{"op": "replace", "path": "", "value": 5}],
            DOC,
            id="replace-whole-document-with-scalar-is-ignored-like-json-patch-v4",
        ),
        pytest.param(
            [{"op": "move", "from": "/metadata/labels/app", "path": "/spec/app"}],
            _with(lambda d: d["spec"].__setitem__("app", d["metadata"]["labels"].pop("app"))),
            id="move-member",
        ),
        pytest.param(
            [{"op": "move", "from": "/spec/list/0", "path": "/spec/list/-"}],
            _with(lambda d: d["spec"].__setitem__("list", [2, 3, 1])),
            id="move-within-list",
        ),
        pytest.param(
            [{"op": "copy", "from": "/spec/nested", "path": "/spec/copy"}],
            _with(lambda d: d["spec"].__setitem__("copy", {"k": "v"})),
            id="copy-member",
        ),
        pytest.param(
            [{"op": "copy", "from": "/spec/list/0", "path": "/spec/list/0"}],
            _with(lambda d: d["spec"].__setitem__("list", [1, 1, 2, 3])),
            id="copy-into-list",
        ),
        pytest.param(
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
                {"op": "replace", "path": "/metadata/name", "value": "db"},
            ],
            _with(lambda d: d["metadata"].__setitem__("name", "db")),
            id="test-passes-then-applies",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/nested", "value": {"k": "v"}}],
            DOC,
            id="test-compares-objects",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/list", "value": [1, 2, 3]}],
            DOC,
            id="test-compares-lists",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/absent", "value": None}],
            DOC,
            id="test-missing-member-equals-null",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/nothing", "value": None}],
            DOC,
            id="test-null-member",
        ),
        pytest.param(
            [{"op": "test", "path": "", "value": DOC}],
            DOC,
            id="test-whole-document",
        ),
    ],
)
def test_json_patch_applies_operations(ops: list[dict[str, Any]], expected: Any) -> None:
    assert apply_json_patch(DOC, ops) == expected


@pytest.mark.parametrize(
    ("ops", "code", "message"),
    [
        pytest.param(
            {"op": "add"},
            400,
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
            id="patch-not-a-list",
        ),
        pytest.param(
            ["add"],
            400,
            "json: cannot unmarshal string into Go value of type jsonpatch.Operation",
            id="operation-not-an-object",
        ),
        pytest.param([{"op": "frobnicate"}], 422, "Unexpected kind: frobnicate", id="unknown-op"),
        pytest.param([{"path": "/a"}], 422, "Unexpected kind: unknown", id="missing-op"),
        pytest.param([None], 422, "Unexpected kind: unknown", id="null-operation"),
        pytest.param(
            [{"op": "test", "path": "/metadata/resourceVersion", "value": "6"}],
            422,
            "testing value /metadata/resourceVersion failed: test failed",
            id="test-fails",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/flag", "value": 1}],
            422,
            "testing value /spec/flag failed: test failed",
            id="test-distinguishes-bool-from-number",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/absent", "value": "x"}],
            422,
            "testing value /spec/absent failed: test failed",
            id="test-missing-member",
        ),
        pytest.param(
            [{"op": "test", "path": "/metadata/name"}],
            422,
            "testing value /metadata/name failed: test failed",
            id="test-without-value",
        ),
        pytest.param(
            [{"op": "test", "path": "", "value": {}}],
            422,
            "testing value  failed: test failed",
            id="test-whole-document-fails",
        ),
        pytest.param(
            [{"op": "test", "path": "/nope/x", "value": 1}],
            422,
            "test operation does not apply: is missing path: /nope/x: missing value",
            id="test-missing-parent",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/list/5", "value": 1}],
            422,
            "error in test for path: '/spec/list/5': "
            "Unable to access invalid index: 5: invalid index referenced",
            id="test-index-out-of-range",
        ),
        pytest.param(
            [{"op": "test", "value": 1}],
            422,
            "test operation failed to decode path: operation missing path field: missing value",
            id="test-missing-path",
        ),
        pytest.param(
            [{"op": "add", "path": "/nope/x", "value": 1}],
            422,
            'add operation does not apply: doc is missing path: "/nope/x": missing value',
            id="add-missing-parent",
        ),
        pytest.param(
            [{"op": "add", "path": "/metadata/name/x", "value": 1}],
            422,
            'add operation does not apply: doc is missing path: "/metadata/name/x": missing value',
            id="add-below-scalar",
        ),
        pytest.param(
            [{"op": "add", "path": "", "value": 1}],
            422,
            'add operation does not apply: doc is missing path: "": missing value',
            id="add-root",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/4", "value": 1}],
            422,
            "error in add for path: '/spec/list/4': "
            "Unable to access invalid index: 4: invalid index referenced",
            id="add-index-out-of-range",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/-5", "value": 1}],
            422,
            "error in add for path: '/spec/list/-5': "
            "Unable to access invalid index: -5: invalid index referenced",
            id="add-negative-index-out-of-range",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/x", "value": 1}],
            422,
            "error in add for path: '/spec/list/x': value was not a proper array index: 'x': "
            'strconv.Atoi: parsing "x": invalid syntax',
            id="add-non-numeric-index",
        ),
        pytest.param(
            [{"op": "add", "value": 1}],
            422,
            "add operation failed to decode path: missing value",
            id="add-missing-path",
        ),
        pytest.param(
            [{"op": "add", "path": 5, "value": 1}],
            422,
            "add operation failed to decode path: missing value",
            id="add-non-string-path",
        ),
        pytest.param(
            [{"op": "remove", "path": "/metadata/absent"}],
            422,
            "error in remove for path: '/metadata/absent': "
            "Unable to remove nonexistent key: absent: missing value",
            id="remove-missing-member",
        ),
        pytest.param(
            [{"op": "remove", "path": "/spec/list/3"}],
            422,
            "error in remove for path: '/spec/list/3': "
            "Unable to access invalid index: 3: invalid index referenced",
            id="remove-index-out-of-range",
        ),
        pytest.param(
            [{"op": "remove", "path": "/nope/x"}],
            422,
            'remove operation does not apply: doc is missing path: "/nope/x": missing value',
            id="remove-missing-parent",
        ),
        pytest.param(
            [{"op": "replace", "path": "/spec/list/3", "value": 1}],
            422,
            "replace operation does not apply: doc is missing key: /spec/list/3: missing value",
            id="replace-index-out-of-range",
        ),
        pytest.param(
            [{"op": "replace", "path": "/nope/x", "value": 1}],
            422,
            "replace operation does not apply: doc is missing path: /nope/x: missing value",
            id="replace-missing-parent",
        ),
        pytest.param(
            [{"op": "replace", "path": 1, "value": 1}],
            422,
            "replace operation failed to decode path: "
            "json: cannot unmarshal number into Go value of type string",
            id="replace-non-string-path",
        ),
        pytest.param(
            [{"op": "move", "from": "/spec/absent", "path": "/spec/x"}],
            422,
            "error in move for path: 'absent': "
            "Unable to remove nonexistent key: absent: missing value",
            id="move-missing-source",
        ),
        pytest.param(
            [{"op": "move", "from": "/nope/x", "path": "/spec/x"}],
            422,
            "move operation does not apply: doc is missing from path: /nope/x: missing value",
            id="move-missing-source-parent",
        ),
        pytest.param(
            [{"op": "move", "from": "/spec/nested", "path": "/spec/nested/k"}],
            422,
            "move operation does not apply: doc is missing destination path: /spec/nested/k: "
            "missing value",
            id="move-into-own-child",
        ),
        pytest.param(
            [{"op": "move", "path": "/spec/x"}],
            422,
            "move operation failed to decode from: operation, missing from field: missing value",
            id="move-missing-from",
        ),
        pytest.param(
            [{"op": "copy", "from": "/nope/x", "path": "/spec/x"}],
            422,
            "copy operation does not apply: doc is missing from path: /nope/x: missing value",
            id="copy-missing-source-parent",
        ),
        pytest.param(
            [{"op": "copy", "from": "/spec/list/7", "path": "/spec/x"}],
            422,
            "error in copy for from: '/spec/list/7': "
            "Unable to access invalid index: 7: invalid index referenced",
            id="copy-source-index-out-of-range",
        ),
        pytest.param(
            [{"op": "copy", "from": "/spec/nested", "path": "/nope/x"}],
            422,
            "copy operation does not apply: doc is missing destination path: /nope/x: "
            "missing value",
            id="copy-missing-destination",
        ),
        pytest.param(
            [{"op": "copy", "from": "/spec/nested", "path": "/spec/list/9"}],
            422,
            "error while adding value during copy: "
            "Unable to access invalid index: 9: invalid index referenced",
            id="copy-destination-index-out-of-range",
        ),
    ],
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


def _pod(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    pod = copy.deepcopy(POD)
    change(pod)
    return pod


def _app(pod: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        pytest.param({}, POD, id="empty-patch"),
        pytest.param(
            {"metadata": {"labels": {"tier": "back", "new": "x"}}},
            _pod(lambda p: p["metadata"]["labels"].update(tier="back", new="x")),
            id="maps-merge",
        ),
        pytest.param(
            {"metadata": {"labels": {"tier": None}}},
            _pod(lambda p: p["metadata"]["labels"].pop("tier")),
            id="null-deletes-key",
        ),
        pytest.param(
            {"metadata": {"annotations": {"a": "1", "gone": None}}},
            _pod(lambda p: p["metadata"].__setitem__("annotations", {"a": "1"})),
            id="new-map-drops-nulls",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "sidecar", "image": "side:2"}]}},
            _pod(lambda p: p["spec"]["containers"][1].__setitem__("image", "side:2")),
            id="containers-merge-by-name",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "new", "image": "n:1", "x": None}]}},
            _pod(lambda p: p["spec"]["containers"].insert(0, {"name": "new", "image": "n:1"})),
            id="containers-new-element-goes-first-like-kube-merge-sorted-slice",
        ),
        pytest.param(
            {
                "spec": {
                    "containers": [{"name": "new", "image": "n"}, {"name": "app", "image": "2"}]
                }
            },
            _pod(
                lambda p: p["spec"].__setitem__(
                    "containers",
                    [
                        {"name": "new", "image": "n"},
                        {**_app(p), "image": "2"},
                        p["spec"]["containers"][1],
                    ],
                )
            ),
            id="containers-order-follows-patch-then-live",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "3"}]}]}},
            _pod(lambda p: _app(p)["env"][1].__setitem__("value", "3")),
            id="env-merge-by-name",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "$patch": "delete"}]}]}},
            _pod(lambda p: _app(p).__setitem__("env", [{"name": "B", "value": "2"}])),
            id="list-element-patch-delete",
        ),
        pytest.param(
            {
                "spec": {
                    "containers": [
                        {"name": "app", "env": [{"name": "Z", "value": "9"}, {"$patch": "replace"}]}
                    ]
                }
            },
            _pod(lambda p: _app(p).__setitem__("env", [{"name": "Z", "value": "9"}])),
            id="list-patch-replace",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 80, "x": 1}]}]}},
            _pod(lambda p: _app(p)["ports"][0].__setitem__("x", 1)),
            id="container-ports-merge-by-container-port",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 81}]}]}},
            _pod(
                lambda p: _app(p).__setitem__(
                    "ports", [{"containerPort": 81}, {"containerPort": 80, "name": "http"}]
                )
            ),
            id="container-ports-add",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "app", "volumeMounts": [{"mountPath": "/x"}]}]}},
            _pod(
                lambda p: _app(p).__setitem__(
                    "volumeMounts", [{"mountPath": "/x"}, {"mountPath": "/data", "name": "data"}]
                )
            ),
            id="volume-mounts-merge-by-mount-path",
        ),
        pytest.param(
            {"spec": {"volumes": [{"name": "data", "emptyDir": {"medium": "Memory"}}]}},
            _pod(lambda p: p["spec"]["volumes"][0].__setitem__("emptyDir", {"medium": "Memory"})),
            id="volumes-merge-by-name",
        ),
        pytest.param(
            {"spec": {"hostAliases": [{"ip": "10.0.0.1", "hostnames": ["b"]}]}},
            _pod(lambda p: p["spec"]["hostAliases"][0].__setitem__("hostnames", ["b"])),
            id="host-aliases-merge-by-ip-and-inner-lists-replace",
        ),
        pytest.param(
            {"spec": {"topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}]}},
            _pod(lambda p: p["spec"]["topologySpreadConstraints"][0].__setitem__("maxSkew", 2)),
            id="topology-spread-constraints-merge-by-topology-key",
        ),
        pytest.param(
            {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            _pod(lambda p: p["status"]["conditions"][0].__setitem__("status", "True")),
            id="conditions-merge-by-type",
        ),
        pytest.param(
            {"metadata": {"ownerReferences": [{"uid": "u2", "name": "rs-2"}]}},
            _pod(
                lambda p: p["metadata"]["ownerReferences"].insert(0, {"uid": "u2", "name": "rs-2"})
            ),
            id="owner-references-merge-by-uid",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "app", "args": ["--z"]}]}},
            _pod(lambda p: _app(p).__setitem__("args", ["--z"])),
            id="other-primitive-lists-replace",
        ),
        pytest.param(
            {"spec": {"tolerations": [{"key": "t2"}]}},
            _pod(lambda p: p["spec"].__setitem__("tolerations", [{"key": "t2"}])),
            id="other-object-lists-replace",
        ),
        pytest.param(
            {"metadata": {"finalizers": ["c", "a"]}},
            _pod(lambda p: p["metadata"].__setitem__("finalizers", ["c", "a", "b"])),
            id="finalizers-set-union",
        ),
        pytest.param(
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "zz"]}},
            _pod(lambda p: p["metadata"].__setitem__("finalizers", ["b"])),
            id="delete-from-primitive-list",
        ),
        pytest.param(
            {"metadata": {"$deleteFromPrimitiveList/absent": ["a"]}},
            POD,
            id="delete-from-absent-primitive-list-is-noop",
        ),
        pytest.param(
            {"metadata": {"$setElementOrder/finalizers": ["b", "a"]}},
            _pod(lambda p: p["metadata"].__setitem__("finalizers", ["b", "a"])),
            id="set-element-order-primitives",
        ),
        pytest.param(
            {
                "metadata": {
                    "$setElementOrder/finalizers": ["c", "b"],
                    "finalizers": ["c"],
                    "$deleteFromPrimitiveList/finalizers": ["a"],
                }
            },
            _pod(lambda p: p["metadata"].__setitem__("finalizers", ["c", "b"])),
            id="set-element-order-with-additions-and-deletions",
        ),
        pytest.param(
            {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}},
            _pod(lambda p: p["spec"]["containers"].reverse()),
            id="set-element-order-maps",
        ),
        pytest.param(
            {
                "spec": {
                    "$setElementOrder/containers": [
                        {"name": "app"},
                        {"name": "sidecar"},
                        {"name": "new"},
                    ],
                    "containers": [{"name": "new", "image": "n"}],
                }
            },
            _pod(lambda p: p["spec"]["containers"].append({"name": "new", "image": "n"})),
            id="set-element-order-places-new-element-like-kubectl-apply",
        ),
        pytest.param(
            {"spec": {"$setElementOrder/tolerations": [{"key": "t1"}]}},
            POD,
            id="set-element-order-on-replaced-list-is-stripped",
        ),
        pytest.param(
            {"metadata": {"labels": {"$patch": "replace", "only": "this"}}},
            _pod(lambda p: p["metadata"].__setitem__("labels", {"only": "this"})),
            id="map-patch-replace",
        ),
        pytest.param(
            {"metadata": {"labels": {"$patch": "delete"}}},
            _pod(lambda p: p["metadata"].__setitem__("labels", {})),
            id="map-patch-delete",
        ),
        pytest.param(
            {"status": {"$retainKeys": ["phase"], "phase": "Running"}},
            _pod(lambda p: p.__setitem__("status", {"phase": "Running"})),
            id="retain-keys-clears-unlisted-fields",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "app", "$retainKeys": ["name", "image"]}]}},
            _pod(
                lambda p: p["spec"]["containers"].__setitem__(0, {"name": "app", "image": "app:1"})
            ),
            id="retain-keys-in-list-element",
        ),
        pytest.param(
            {"metadata": {"name": ["x"]}},
            _pod(lambda p: p["metadata"].__setitem__("name", ["x"])),
            id="type-change-replaces",
        ),
        pytest.param(
            {"spec": {"initContainers": [{"name": "init", "$patch": "delete"}, {"name": "i2"}]}},
            _pod(lambda p: p["spec"].__setitem__("initContainers", [{"name": "i2"}])),
            id="new-list-strips-directives",
        ),
    ],
)
def test_strategic_merge_patch_merges_like_kube(
    patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert apply_strategic_merge_patch(POD, patch) == expected


@pytest.mark.parametrize(
    ("doc", "patch", "expected"),
    [
        pytest.param(
            {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}]}},
            {"spec": {"ports": [{"port": 443, "name": "https"}]}},
            {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}},
            id="service-ports-merge-by-port",
        ),
        pytest.param(
            {"spec": {"ports": [{"protocol": "TCP"}]}},
            {"spec": {"ports": [{"protocol": "UDP"}]}},
            {"spec": {"ports": [{"protocol": "UDP"}]}},
            id="ports-without-keys-replace",
        ),
        pytest.param(
            {"a": 1},
            {"$patch": "replace", "b": 2},
            {"b": 2},
            id="root-patch-replace",
        ),
        pytest.param(
            {"spec": {"imagePullSecrets": [{"name": "a"}]}},
            {"spec": {"imagePullSecrets": [{"name": "b"}]}},
            {"spec": {"imagePullSecrets": [{"name": "b"}, {"name": "a"}]}},
            id="image-pull-secrets-merge-by-name",
        ),
        pytest.param(
            {"spec": {"ephemeralContainers": [{"name": "a", "image": "1"}]}},
            {"spec": {"ephemeralContainers": [{"name": "a", "image": "2"}]}},
            {"spec": {"ephemeralContainers": [{"name": "a", "image": "2"}]}},
            id="ephemeral-containers-merge-by-name",
        ),
        pytest.param(
            {"metadata": {"finalizers": ["a"]}},
            {"metadata": {"finalizers": ["a", "a", "b"]}},
            {"metadata": {"finalizers": ["a", "b"]}},
            id="finalizers-deduplicated",
        ),
        pytest.param(
            {"metadata": {"finalizers": ["a", "b"]}},
            {"metadata": {"finalizers": None}},
            {"metadata": {}},
            id="null-deletes-list",
        ),
        pytest.param(
            {"spec": {"containers": []}},
            {"spec": {"containers": []}},
            {"spec": {"containers": []}},
            id="empty-lists",
        ),
        pytest.param(
            {"items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}, {"name": "c", "v": 3}]},
            {"items": [{"name": "c", "v": 30}]},
            {"items": [{"name": "c", "v": 30}]},
            id="unknown-list-fields-replace",
        ),
        pytest.param(
            {"env": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
            {"env": [{"name": "d"}, {"name": "b", "v": 1}]},
            {"env": [{"name": "d"}, {"name": "a"}, {"name": "b", "v": 1}, {"name": "c"}]},
            id="server-only-items-keep-their-place-around-patch-items",
        ),
    ],
)
def test_strategic_merge_patch_edge_cases(doc: Any, patch: dict[str, Any], expected: Any) -> None:
    assert apply_strategic_merge_patch(doc, patch) == expected


@pytest.mark.parametrize(
    ("patch", "code", "message"),
    [
        pytest.param(
            ["x"],
            400,
            "json: cannot unmarshal array into Go value of type map[string]interface {}",
            id="patch-not-an-object",
        ),
        pytest.param(
            {"spec": {"containers": [{"image": "x"}]}},
            500,
            "map: map[image:x] does not contain declared merge key: name",
            id="element-without-merge-key",
        ),
        pytest.param(
            {"spec": {"containers": [{"$patch": "delete", "image": "x"}]}},
            500,
            "map: map[$patch:delete image:x] does not contain declared merge key: name",
            id="delete-element-without-merge-key",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "app", "$patch": "bogus"}]}},
            500,
            "unknown patch type: bogus in map: map[$patch:bogus name:app]",
            id="unknown-list-element-directive",
        ),
        pytest.param(
            {"spec": {"containers": [{"$patch": "merge"}]}},
            500,
            "merging lists cannot yet be specified in the patch",
            id="list-patch-merge-unsupported",
        ),
        pytest.param(
            {"metadata": {"labels": {"$patch": "bogus"}}},
            500,
            "unknown patch type: bogus in map: map[$patch:bogus]",
            id="unknown-map-directive",
        ),
        pytest.param(
            {"spec": {"$retainKeys": "containers"}},
            400,
            "invalid patch format of retainKeys",
            id="retain-keys-not-a-list",
        ),
        pytest.param(
            {"spec": {"$retainKeys": ["volumes"], "containers": []}},
            400,
            "invalid patch format of retainKeys",
            id="retain-keys-missing-patched-field",
        ),
        pytest.param(
            {"metadata": {"$setElementOrder/finalizers": "a"}},
            400,
            "invalid patch format of setElementOrder list",
            id="set-element-order-not-a-list",
        ),
        pytest.param(
            {"metadata": {"$deleteFromPrimitiveList/finalizers": [{"a": 1}]}},
            400,
            "invalid patch format of primitive list",
            id="delete-from-primitive-list-with-objects",
        ),
        pytest.param(
            {"metadata": {"finalizers": [{"a": 1}]}},
            500,
            "cannot merge lists without merge key for finalizers",
            id="finalizers-with-objects",
        ),
    ],
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
