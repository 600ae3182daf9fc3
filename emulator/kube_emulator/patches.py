"""JSON patch, JSON merge patch and strategic merge patch, as kube-apiserver applies them.

The sandbox API server answers ``PATCH`` requests; to be a faithful stand-in for a real
cluster it must compute the same patched object and fail with the same status code and
message.  This module is purely computational (standard library only, no I/O, inputs
are never mutated) and mirrors:

* ``application/json-patch+json`` -- RFC 6902 as implemented by
  ``gopkg.in/evanphx/json-patch.v4`` (the version kube-apiserver vendors), including
  its quirks: ``replace`` of a missing object member adds it, ``test`` of a missing
  member against ``null`` passes, negative array indices count from the end, a
  ``replace`` of the whole document with a scalar is silently ignored.  Malformed patch
  documents are 400; operations that cannot be applied are 422 (kube-apiserver puts
  that message in ``details.causes[0].message`` and uses the generic Status message
  ``the server rejected our request due to an error in our request``).
* ``application/merge-patch+json`` -- RFC 7386.
* ``application/strategic-merge-patch+json`` -- ``k8s.io/apimachinery`` strategicpatch.

Strategic merge patch approximation
-----------------------------------
The real implementation reads ``patchStrategy``/``patchMergeKey`` struct tags of the Go
type.  Here the strategy is chosen by *field name*, wherever the field appears:

* merged by key ``name``: ``containers``, ``initContainers``, ``ephemeralContainers``,
  ``env``, ``volumes``, ``imagePullSecrets``; by ``ip``: ``hostAliases``; by
  ``mountPath``: ``volumeMounts``; by ``type``: ``conditions``; by ``uid``:
  ``ownerReferences``; by ``topologyKey``: ``topologySpreadConstraints``;
* ``ports``: by ``containerPort`` if its elements carry one, else by ``port`` (Service
  ports) if they carry that, else replaced;
* ``finalizers``: primitive list merged as an ordered set union;
* every other list is replaced wholesale (``patchStrategy`` absent/atomic).

Directives: ``$patch: replace|delete`` on maps and on elements of keyed lists,
``$retainKeys``, ``$deleteFromPrimitiveList/<field>`` and ``$setElementOrder/<field>``
(the resulting order follows kube's ``normalizeElementOrder``: ``$setElementOrder`` >
patch order > live order, so without ``$setElementOrder`` an element new to the live list
lands *before* the live-only elements, exactly as ``kubectl patch`` observes).  ``null``
deletes a key.  Values absent from the live object are merged into an empty value, so
directives and ``null`` never leak into the result (kube copies them verbatim and then
drops them when decoding into the typed object).  Errors
are classified like ``interpretStrategicMergePatchError``: bad directive formats 400,
``$retainKeys`` mismatches 400, other strategic-merge failures (unknown ``$patch``
value, element without its merge key) 500 as kube-apiserver does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

__all__ = [
    "PatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "go_json_kind",
]


class PatchError(Exception):
    """A patch kube-apiserver would reject.

    ``code`` is the HTTP status kube-apiserver answers with (400 malformed patch, 422
    patch that cannot be applied, 500 for the strategic-merge failures kube reports as
    internal errors); ``message`` is its error text.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"PatchError({self.code!r}, {self.message!r})"


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _json_equal(a: Any, b: Any) -> bool:
    """Structural JSON equality; unlike ``==``, ``True`` != ``1`` and ``1`` != ``1.0``."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    return bool(a == b)


def go_json_kind(value: Any) -> str:
    """The JSON kind name Go's encoding/json uses in an UnmarshalTypeError."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return next(name for types, name in _GO_JSON_KINDS if isinstance(value, types))


_GO_JSON_KINDS: Final = (
    (int | float, "number"),
    (str, "string"),
    (list, "array"),
    (object, "object"),
)


def _go_fmt(value: Any) -> str:
    """Go's ``%v`` of a decoded JSON value (maps print as ``map[k:v]`` sorted by key)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_fmt(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_fmt(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    return str(value).lower() if isinstance(value, bool) else str(value)


# --------------------------------------------------------------------------------------
# RFC 6902 JSON patch (evanphx/json-patch v4 semantics)
# --------------------------------------------------------------------------------------

_MISSING_VALUE: Final = "missing value"
_INVALID_INDEX: Final = "invalid index referenced"


class _OpError(Exception):
    """An operation that cannot be applied (422)."""


def _atoi(key: str) -> int:
    """strconv.Atoi: optional sign and decimal digits only."""
    body = key[1:] if key[:1] in ("+", "-") else key
    if not body or not body.isascii() or not body.isdigit():
        raise _OpError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    return int(key)


def _decode_key(key: str) -> str:
    return key.replace("~1", "/").replace("~0", "~")


def _invalid_index(idx: int) -> _OpError:
    return _OpError(f"Unable to access invalid index: {idx}: {_INVALID_INDEX}")


def _container_get(con: dict[str, Any] | list[Any], key: str) -> Any:
    """``get``: ``None`` for a missing object member (v4 does not distinguish null)."""
    if isinstance(con, dict):
        return con.get(key)
    idx = _atoi(key)
    if idx < 0:
        if idx < -len(con):
            raise _invalid_index(idx)
        idx += len(con)
    if idx >= len(con):
        raise _invalid_index(idx)
    return con[idx]


def _container_set(con: dict[str, Any] | list[Any], key: str, value: Any) -> None:
    if isinstance(con, dict):
        con[key] = value
        return
    idx = _atoi(key)
    if idx < 0:
        if idx < -len(con):
            raise _invalid_index(idx)
        idx += len(con)
    con[idx] = value


def _container_add(con: dict[str, Any] | list[Any], key: str, value: Any) -> None:
    if isinstance(con, dict):
        con[key] = value
        return
    if key == "-":
        con.append(value)
        return
    try:
        idx = _atoi(key)
    except _OpError as e:
        raise _OpError(f"value was not a proper array index: '{key}': {e}") from None
    size = len(con) + 1
    if idx >= size:
        raise _invalid_index(idx)
    if idx < 0:
        if idx < -size:
            raise _invalid_index(idx)
        idx += size
    con.insert(idx, value)


def _container_remove(con: dict[str, Any] | list[Any], key: str) -> None:
    if isinstance(con, dict):
        if key not in con:
            raise _OpError(f"Unable to remove nonexistent key: {key}: {_MISSING_VALUE}")
        del con[key]
        return
    idx = _atoi(key)
    if idx >= len(con):
        raise _invalid_index(idx)
    if idx < 0:
        if idx < -len(con):
            raise _invalid_index(idx)
        idx += len(con)
    del con[idx]


def _find_object(doc: Any, path: str) -> tuple[dict[str, Any] | list[Any], str] | None:
    """evanphx findObject: the container holding the last path segment, and that key."""
    split = path.split("/")
    if len(split) < 2:
        return None
    current = doc
    for part in split[1:-1]:
        try:
            nxt = _container_get(current, _decode_key(part))
        except _OpError:
            return None
        if not isinstance(nxt, dict | list):
            return None
        current = nxt
    if not isinstance(current, dict | list):
        return None
    return current, _decode_key(split[-1])


def _string_field(op: Mapping[str, Any], name: str) -> str | None:
    """Operation.Path()/From(): None when absent or null, error text when not a string."""
    value = op.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _OpError(f"json: cannot unmarshal {go_json_kind(value)} into Go value of type string")
    return value


@contextmanager
def _reworded(context: str) -> Iterator[None]:
    """An operation's error, prefixed with where it happened (as json-patch wraps it)."""
    try:
        yield
    except _OpError as e:
        raise _OpError(f"{context}: {e}") from None


class _JsonPatcher:
    def __init__(self, doc: Any) -> None:
        self.doc = doc

    def _path(self, op: Mapping[str, Any], kind: str, *, wrap_cause: bool) -> str:
        try:
            path = _string_field(op, "path")
        except _OpError as e:
            cause = str(e) if wrap_cause else _MISSING_VALUE
            raise _OpError(f"{kind} operation failed to decode path: {cause}") from None
        if path is None:
            cause = (
                f"operation missing path field: {_MISSING_VALUE}" if wrap_cause else _MISSING_VALUE
            )
            raise _OpError(f"{kind} operation failed to decode path: {cause}")
        return path

    def _from(self, op: Mapping[str, Any], kind: str) -> str:
        try:
            src = _string_field(op, "from")
        except _OpError as e:
            raise _OpError(f"{kind} operation failed to decode from: {e}") from None
        if src is None:
            raise _OpError(
                f"{kind} operation failed to decode from: "
                f"operation, missing from field: {_MISSING_VALUE}"
            )
        return src

    def _parent(self, path: str, verb: str, missing: str) -> tuple[Any, str]:
        """The container of ``path`` and the key in it, or the operation does not apply."""
        found = _find_object(self.doc, path)
        if found is None:
            raise _OpError(
                f"{verb} operation does not apply: doc is missing {missing}: {_MISSING_VALUE}"
            )
        return found

    def add(self, op: Mapping[str, Any]) -> None:
        path = self._path(op, "add", wrap_cause=False)
        found = self._parent(path, "add", f'path: "{path}"')
        with _reworded(f"error in add for path: '{path}'"):
            _container_add(*found, copy.deepcopy(op.get("value")))

    def remove(self, op: Mapping[str, Any]) -> None:
        path = self._path(op, "remove", wrap_cause=False)
        found = self._parent(path, "remove", f'path: "{path}"')
        with _reworded(f"error in remove for path: '{path}'"):
            _container_remove(*found)

    def replace(self, op: Mapping[str, Any]) -> None:
        path = self._path(op, "replace", wrap_cause=True)
        value = copy.deepcopy(op.get("value"))
        if path == "":
            # v4 wraps a nil error here, so a scalar replacement is silently ignored.
            if isinstance(value, dict | list):
                self.doc = value
            return
        con, key = self._parent(path, "replace", f"path: {path}")
        try:
            _container_get(con, key)
        except _OpError:
            raise _OpError(
                f"replace operation does not apply: doc is missing key: {path}: {_MISSING_VALUE}"
            ) from None
        with _reworded(f"error in remove for path: '{path}'"):
            _container_set(con, key, value)

    def move(self, op: Mapping[str, Any]) -> None:
        src = self._from(op, "move")
        con, key = self._parent(src, "move", f"from path: {src}")
        with _reworded(f"error in move for path: '{key}'"):
            value = _container_get(con, key)
            _container_remove(con, key)
        path = self._path(op, "move", wrap_cause=True)
        found = self._parent(path, "move", f"destination path: {path}")
        with _reworded(f"error in move for path: '{path}'"):
            _container_add(*found, value)

    def copy(self, op: Mapping[str, Any]) -> None:
        src = self._from(op, "copy")
        found = self._parent(src, "copy", f"from path: {src}")
        with _reworded(f"error in copy for from: '{src}'"):
            value = _container_get(*found)
        path = self._path(op, "copy", wrap_cause=False)
        found = self._parent(path, "copy", f"destination path: {path}")
        with _reworded("error while adding value during copy"):
            _container_add(*found, copy.deepcopy(value))

    def test(self, op: Mapping[str, Any]) -> None:
        path = self._path(op, "test", wrap_cause=True)
        failed = _OpError(f"testing value {path} failed: test failed")
        if path == "":
            if "value" not in op or not _json_equal(self.doc, op["value"]):
                raise failed
            return
        found = _find_object(self.doc, path)
        if found is None:
            raise _OpError(
                f"test operation does not apply: is missing path: {path}: {_MISSING_VALUE}"
            )
        try:
            actual = _container_get(*found)
        except _OpError as e:
            raise _OpError(f"error in test for path: '{path}': {e}") from None
        if "value" not in op:
            raise failed
        if not _json_equal(actual, op["value"]):
            raise failed


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """Applies an RFC 6902 JSON patch (a list of operations) to a copy of ``doc``.

    Raises :class:`PatchError` 400 when ``ops`` is not a list of objects, 422 when an
    operation cannot be applied (the whole patch is then discarded).
    """
    if not isinstance(ops, list):
        raise PatchError(
            400, f"json: cannot unmarshal {go_json_kind(ops)} into Go value of type jsonpatch.Patch"
        )
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise PatchError(
                400,
                f"json: cannot unmarshal {go_json_kind(op)} "
                "into Go value of type jsonpatch.Operation",
            )
    patcher = _JsonPatcher(copy.deepcopy(doc))
    handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
        "add": patcher.add,
        "remove": patcher.remove,
        "replace": patcher.replace,
        "move": patcher.move,
        "copy": patcher.copy,
        "test": patcher.test,
    }
    for raw_op in ops:
        operation: Mapping[str, Any] = raw_op or {}
        kind = operation.get("op")
        if not isinstance(kind, str):
            kind = "unknown"
        handler = handlers.get(kind)
        if handler is None:
            raise PatchError(422, f"Unexpected kind: {kind}")
        try:
            handler(operation)
        except _OpError as e:
            raise PatchError(422, str(e)) from None
    return patcher.doc


# --------------------------------------------------------------------------------------
# RFC 7386 JSON merge patch
# --------------------------------------------------------------------------------------


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Applies an RFC 7386 merge patch to a copy of ``doc``.

    Object members of the patch are merged recursively, ``null`` deletes, and any
    non-object patch replaces the target.  (kube-apiserver additionally rejects a
    non-object top-level patch with 400 ``Invalid JSON Patch``; that check belongs to
    the caller.)  As in kube-apiserver (evanphx/json-patch), a value that replaces
    anything but an object is stored without its ``null`` members, at any depth, also in
    the objects inside a list: ``{"steps": [{"a": null}]}`` stores ``[{}]``.
    """
    if not isinstance(patch, dict):
        if isinstance(doc, dict):
            return copy.deepcopy(patch)  # an object replaced by a list: taken as it is
        return _without_nulls(patch)
    result: dict[str, Any] = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def _without_nulls(value: Any) -> Any:
    """A copy without the ``null`` members of its objects (a list keeps its ``null`` items)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


# --------------------------------------------------------------------------------------
# Strategic merge patch
# --------------------------------------------------------------------------------------

_DIRECTIVE: Final = "$patch"
_RETAIN_KEYS: Final = "$retainKeys"
_DELETE_PRIMITIVE_PREFIX: Final = "$deleteFromPrimitiveList/"
_SET_ORDER_PREFIX: Final = "$setElementOrder/"

# kube's mergepatch.ErrBadPatchFormatFor* messages
_ERR_RETAIN_KEYS, _ERR_SET_ORDER, _ERR_PRIMITIVE_LIST = (
    f"invalid patch format of {what}"
    for what in ("retainKeys", "setElementOrder list", "primitive list")
)

# field name -> merge key; "" means a primitive list merged as a set.
_LIST_MERGE_KEYS: Final[Mapping[str, str]] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "volumeMounts": "mountPath",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "finalizers": "",
}


def _merge_key(field: str, *lists: list[Any]) -> str | None:
    """The merge key of list ``field`` ("" = primitive set merge, None = replace)."""
    if field == "ports":
        for lst in lists:
            for element in lst:
                if isinstance(element, dict) and "containerPort" in element:
                    return "containerPort"
        for lst in lists:
            for element in lst:
                if isinstance(element, dict) and "port" in element:
                    return "port"
        return None
    return _LIST_MERGE_KEYS.get(field)


def _no_merge_key(element: dict[str, Any], key: str) -> PatchError:
    return PatchError(500, f"map: {_go_fmt(element)} does not contain declared merge key: {key}")


def _bad_patch_type(directive: Any, element: dict[str, Any]) -> PatchError:
    return PatchError(500, f"unknown patch type: {_go_fmt(directive)} in map: {_go_fmt(element)}")


def _clean(field: str, value: Any) -> Any:
    """A patch value for a field the live object lacks: merged into an empty value."""
    if isinstance(value, dict):
        return _merge_map({}, value)
    if isinstance(value, list):
        return _merge_list(field, [], value)
    return copy.deepcopy(value)


def _merge_map(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            return _merge_map({}, {k: v for k, v in patch.items() if k != _DIRECTIVE})
        if directive == "delete":
            return {}
        raise _bad_patch_type(directive, patch)

    result = dict(original)
    pending = dict(patch)

    if _RETAIN_KEYS in pending:
        retain = pending.pop(_RETAIN_KEYS)
        if not isinstance(retain, list):
            raise PatchError(400, _ERR_RETAIN_KEYS)
        for key, value in pending.items():
            if value is None or key.startswith((_DELETE_PRIMITIVE_PREFIX, _SET_ORDER_PREFIX)):
                continue
            if key not in retain:
                raise PatchError(400, _ERR_RETAIN_KEYS)
        for key in list(result):
            if key not in retain:
                del result[key]

    for key in [k for k in pending if k.startswith(_SET_ORDER_PREFIX)]:
        order = pending.pop(key)
        field = key[len(_SET_ORDER_PREFIX) :]
        if not isinstance(order, list):
            raise PatchError(400, _ERR_SET_ORDER)
        live = result.get(field)
        incoming = pending.get(field)
        live_list = live if isinstance(live, list) else None
        patch_list = incoming if isinstance(incoming, list) else None
        if live_list is None and patch_list is None:
            continue
        merge_key = _merge_key(field, live_list or [], patch_list or [], order)
        if merge_key is None:
            continue  # not a merging list: the directive carries no meaning
        if patch_list is not None:
            pending.pop(field)
            merged = _merge_list(field, live_list or [], patch_list)
        else:
            merged = list(live_list or [])
        result[field] = _apply_element_order(merged, order, live_list or [], merge_key)

    for key, value in pending.items():
        if not key.startswith(_DELETE_PRIMITIVE_PREFIX):
            continue
        field = key[len(_DELETE_PRIMITIVE_PREFIX) :]
        live = result.get(field)
        if not isinstance(live, list) or not isinstance(value, list):
            continue
        if any(isinstance(v, dict | list) for v in value):
            raise PatchError(400, _ERR_PRIMITIVE_LIST)
        result[field] = [x for x in live if not any(_json_equal(x, d) for d in value)]

    for key, value in pending.items():
        if key.startswith(_DELETE_PRIMITIVE_PREFIX):
            continue
        if value is None:
            result.pop(key, None)
            continue
        if key not in result:
            result[key] = _clean(key, value)
            continue
        live = result[key]
        if isinstance(live, dict) and isinstance(value, dict):
            result[key] = _merge_map(live, value)
        elif isinstance(live, list) and isinstance(value, list):
            result[key] = _merge_list(key, live, value)
        else:
            result[key] = _clean(key, value)
    return result


def _identity(element: Any, merge_key: str) -> Any:
    """What identifies a list element: its merge-key value, or itself for primitives."""
    if merge_key and isinstance(element, dict):
        return element.get(merge_key)
    return element


def _index_of(items: list[Any], element: Any, merge_key: str) -> int:
    wanted = _identity(element, merge_key)
    for i, item in enumerate(items):
        if _json_equal(_identity(item, merge_key), wanted):
            return i
    return -1


def _normalize_order(
    items: list[Any], patch_order: list[Any], server_order: list[Any], merge_key: str
) -> list[Any]:
    """strategicpatch.normalizeElementOrder + mergeSortedSlice.

    ``items`` is split into those named in ``patch_order`` (sorted by it) and server-only
    ones (sorted by ``server_order``); the server-only items are then interleaved so each
    one precedes the first patch item that follows it in the live list.
    """
    in_patch = [x for x in items if _index_of(patch_order, x, merge_key) >= 0]
    server_only = [x for x in items if _index_of(patch_order, x, merge_key) < 0]

    def rank(order: list[Any]) -> Callable[[Any], int]:
        def key(x: Any) -> int:
            i = _index_of(order, x, merge_key)
            return i if i >= 0 else len(order)

        return key

    right = sorted(in_patch, key=rank(patch_order))
    left = sorted(server_only, key=rank(server_order))
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index_of(server_order, left[i], merge_key)
            ri = _index_of(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _apply_element_order(
    merged: list[Any], order: list[Any], live: list[Any], merge_key: str
) -> list[Any]:
    if merge_key:
        wanted = [o.get(merge_key) if isinstance(o, dict) else o for o in order]
        order_items: list[Any] = [{merge_key: w} for w in wanted]
    else:
        order_items = order
    return _normalize_order(merged, order_items, live, merge_key)


def _dedupe(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not any(_json_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _merge_list(field: str, original: list[Any], patch: list[Any]) -> list[Any]:
    merge_key = _merge_key(field, original, patch)
    if merge_key is None:
        return [_merge_map({}, e) if isinstance(e, dict) else copy.deepcopy(e) for e in patch]
    if not original and not patch:
        return []
    elements_are_maps = all(isinstance(e, dict) for e in original + patch)
    if not merge_key or not elements_are_maps:
        if any(isinstance(e, dict) for e in original + patch):
            raise PatchError(500, f"cannot merge lists without merge key for {field}")
        merged = _dedupe(copy.deepcopy(original) + copy.deepcopy(patch))
        return _normalize_order(merged, patch, original, "")

    live = list(original)
    plain: list[dict[str, Any]] = []
    replace = False
    for element in patch:
        if _DIRECTIVE not in element:
            plain.append(element)
            continue
        directive = element[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in element:
                raise _no_merge_key(element, merge_key)
            live = [e for e in live if not _json_equal(e.get(merge_key), element[merge_key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError(500, "merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, element)
    if replace:
        return [_merge_map({}, e) for e in plain]

    merged = list(live)
    for element in plain:
        if merge_key not in element:
            raise _no_merge_key(element, merge_key)
        idx = _index_of(merged, element, merge_key)
        if idx >= 0:
            merged[idx] = _merge_map(merged[idx], element)
        else:
            merged.append(_merge_map({}, element))
    return _normalize_order(merged, plain, live, merge_key)


def apply_strategic_merge_patch(doc: Any, patch: Any) -> Any:
    """Applies a strategic merge patch to a copy of ``doc`` (see the module docstring).

    Raises :class:`PatchError`: 400 when the patch is not a JSON object or a directive
    is malformed, 500 for the failures kube-apiserver reports as internal errors.
    """
    if not isinstance(patch, dict):
        raise PatchError(
            400,
            f"json: cannot unmarshal {go_json_kind(patch)} into Go value of type "
            "map[string]interface {}",
        )
    original = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    return _merge_map(original, copy.deepcopy(patch))
