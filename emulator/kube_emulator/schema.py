"""Custom resource schema handling, as kube-apiserver's apiextensions layer does it.

The sandbox emulates kube-apiserver so that the real ``kubectl`` and the
``kubernetes`` Python client can be pointed at it.  When a custom resource is
written, the real server prunes unknown fields, applies schema defaults and
validates the object against the CRD's ``openAPIV3Schema``; clients (and our
tests) observe the exact wording of the resulting ``422 Invalid`` Status.  This
module reproduces that behaviour and wording (k8s.io/kube-openapi validation
errors converted to ``field.Error`` values by apiextensions-apiserver).

It is purely computational: no I/O, no global state, standard library only.
Every function takes plain JSON-like data (dicts, lists, str, int, float,
bool, None) and returns new data; inputs are never mutated.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import UnionType
from typing import Any

from .validation import go_quote, validate_dns1035_label

__all__ = [
    "Cause",
    "apply_defaults",
    "format_invalid",
    "go_value",
    "prune",
    "structural_errors",
    "validate",
]

# metav1.CauseType values (k8s.io/apimachinery/pkg/util/validation/field.ErrorType).
REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
TYPE_INVALID = "FieldValueTypeInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"

_TYPE_TITLES = {
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    TYPE_INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    DUPLICATE: "Duplicate value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
}

# The path kube reports when an error has no field (a nil *field.Path).
NIL_PATH = "<nil>"

_OMIT = object()


@dataclass(frozen=True)
class Cause:
    """One ``field.Error``: a ``metav1.StatusCause`` of an Invalid Status."""

    type: str
    field: str
    message: str

    def render(self) -> str:
        """``<field>: <message>``, as ``field.Error.Error()`` prints it."""
        return f"{self.field}: {self.message}"

    def to_status_cause(self) -> dict[str, str]:
        """The ``metav1.StatusCause`` JSON object."""
        return {"reason": self.type, "message": self.message, "field": self.field}


# --------------------------------------------------------------------------- Go formatting


def _go_float(value: float) -> str:
    """Go's ``%v`` for a float64 (``strconv.FormatFloat(f, 'g', -1, 64)``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    dec = Decimal(repr(abs(value))).normalize()
    _, digit_tuple, exponent = dec.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(str(d) for d in digit_tuple)
    point = len(digits) + exponent  # position of the decimal point
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _go_syntax(value: Any) -> str:
    """Go's ``%#v`` for an unstructured value (maps, slices and scalars inside them)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{go_quote(str(k))}:{_go_syntax(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[]interface {}{" + ", ".join(_go_syntax(v) for v in value) + "}"
    return go_quote(str(value))


def go_value(value: Any) -> str:
    """How ``field.Error.ErrorBody`` prints a bad value: as ``%#v`` does, but a null
    as the string ``"null"``."""
    return go_quote("null") if value is None else _go_syntax(value)


def _number(value: float | int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _go_float(float(value))


def _body(kind: str, value: Any = _OMIT, detail: str = "") -> str:
    """``field.Error.ErrorBody()``."""
    text = _TYPE_TITLES[kind]
    if kind not in (REQUIRED, FORBIDDEN, TOO_LONG) and value is not _OMIT:
        text = f"{text}: {go_value(value)}"
    if detail:
        text = f"{text}: {detail}"
    return text


def _cause(kind: str, path: str, value: Any = _OMIT, detail: str = "") -> Cause:
    return Cause(kind, path, _body(kind, value, detail))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _field(name: str) -> str:
    """apiextensions' conversion of a kube-openapi error name to a field path."""
    if not name or name == ".":
        return NIL_PATH
    return name.removeprefix(".")


# --------------------------------------------------------------------------- validation


def _json_type(value: Any) -> str:
    """The OpenAPI type name of a JSON value (``unknown`` for what JSON cannot hold)."""
    if value is None:
        return "null"
    found = (name for types, name in _OPENAPI_TYPES if isinstance(value, types))
    return next(found, "unknown")


# bool before int: a bool is an int in Python
_OPENAPI_TYPES: tuple[tuple[type | UnionType, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list | tuple, "array"),
    (Mapping, "object"),
)


def _json_equal(a: Any, b: Any) -> bool:
    """Deep JSON equality: booleans are not numbers, 1 == 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _schema_types(schema: Mapping[str, Any]) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    declared = schema.get("type")
    if isinstance(declared, str) and declared:
        return [declared]
    if isinstance(declared, list):
        return [str(t) for t in declared]
    return []


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HOSTNAME = re.compile(
    r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+$")


def _valid_date_time(value: str) -> bool:
    if not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


def _valid_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _valid_ip(value: str, version: int) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == version


def _valid_cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def _valid_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _valid_byte(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return True


_FORMATS: dict[str, Any] = {
    "date-time": _valid_date_time,
    "datetime": _valid_date_time,
    "date": _valid_date,
    "ipv4": lambda v: _valid_ip(v, 4),
    "ipv6": lambda v: _valid_ip(v, 6),
    "cidr": _valid_cidr,
    "uuid": _valid_uuid,
    "byte": _valid_byte,
    "hostname": lambda v: bool(_HOSTNAME.match(v)) and len(v) <= 255,
    "email": lambda v: bool(_EMAIL.match(v)),
    "duration": lambda v: bool(_DURATION.match(v)),
}


def _go_regex(pattern: str) -> str:
    """Translate the RE2 spelling Python spells differently (end of text)."""
    return pattern.replace("\\z", "\\Z")


class _Validator:
    """kube-openapi's SchemaValidator, restricted to what structural schemas use."""

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def add(self, cause: Cause) -> None:
        # kube-openapi's Result.AddErrors drops exact duplicates
        if cause not in self.causes:
            self.causes.append(cause)

    # The order of the checks follows SchemaValidator: type, schemaProps (allOf/anyOf/
    # oneOf/not), string, format, number, slice, common (enum), object.
    def run(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        if value is None:
            self.check_type(value, schema, path)
            self.check_enum(value, schema, path)
            return
        self.check_type(value, schema, path)
        self.check_composition(value, schema, path)
        if isinstance(value, str):
            self.check_string(value, schema, path)
            self.check_format(value, schema, path)
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.check_number(value, schema, path)
        if isinstance(value, list | tuple):
            self.check_array(value, schema, path)
        self.check_enum(value, schema, path)
        if isinstance(value, Mapping):
            self.check_object(value, schema, path)

    def type_error(self, path: str, expected: str, actual: str) -> None:
        message = f"{path} in body must be of type {expected}: {go_quote(actual)}"
        self.add(_cause(TYPE_INVALID, _field(path), actual, message))

    def check_type(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        types = _schema_types(schema)
        fmt = schema.get("format") or ""
        if value is None:
            if types and "null" not in types and not schema.get("nullable"):
                self.type_error(path, ",".join(types), "null")
            return
        actual = _json_type(value)
        if not types and not fmt:
            return
        data_format = {"integer": "int64", "number": "float64"}.get(actual, "")
        is_float_int = actual == "number" and float(value).is_integer() and "integer" in types
        is_int_float = actual == "integer" and "number" in types
        is_str_or_list = isinstance(value, str | list | tuple)
        if (
            not is_str_or_list
            and fmt
            and not (
                actual in types
                or data_format == fmt
                or is_float_int
                or is_int_float
                or (fmt == "int64" and data_format == "int32")
                or (fmt == "float64" and data_format == "float32")
            )
        ):
            self.type_error(path, fmt, data_format)
            return
        if not ("number" in types or "integer" in types) and fmt and is_str_or_list:
            return
        if not (actual in types or is_float_int or is_int_float):
            self.type_error(path, ",".join(types), actual)

    def check_composition(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        quoted = go_quote(path)
        any_of = schema.get("anyOf") or []
        if any_of:
            best: list[Cause] | None = None
            for sub in any_of:
                found = _collect(value, sub, path)
                if not found:
                    best = None
                    break
                if best is None:
                    best = found
            else:
                self.add(
                    _cause(
                        INVALID, NIL_PATH, "", f"{quoted} must validate at least one schema (anyOf)"
                    )
                )
            for cause in best or []:
                self.add(cause)
        one_of = schema.get("oneOf") or []
        if one_of:
            results = [_collect(value, sub, path) for sub in one_of]
            valid = sum(1 for found in results if not found)
            if valid != 1:
                extra = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
                self.add(
                    _cause(
                        INVALID,
                        NIL_PATH,
                        "",
                        f"{quoted} must validate one and only one schema (oneOf). {extra}",
                    )
                )
                if valid == 0:
                    for cause in results[0]:
                        self.add(cause)
        all_of = schema.get("allOf") or []
        if all_of:
            valid = 0
            for sub in all_of:
                found = _collect(value, sub, path)
                valid += not found
                for cause in found:
                    self.add(cause)
            if valid != len(all_of):
                extra = ". None validated" if valid == 0 else ""
                self.add(
                    _cause(
                        INVALID,
                        NIL_PATH,
                        "",
                        f"{quoted} must validate all the schemas (allOf){extra}",
                    )
                )
        negated = schema.get("not")
        if isinstance(negated, Mapping) and not _collect(value, negated, path):
            self.add(_cause(INVALID, NIL_PATH, "", f"{quoted} must not validate the schema (not)"))

    def check_string(self, value: str, schema: Mapping[str, Any], path: str) -> None:
        # stringValidator stops at the first failing check
        length = len(value)
        max_length = schema.get("maxLength")
        if max_length is not None and length > max_length:
            detail = f"may not be more than {max_length} bytes"
            self.add(_cause(TOO_LONG, _field(path), value, detail))
            return
        min_length = schema.get("minLength")
        if min_length is not None and length < min_length:
            detail = f"{path} in body should be at least {min_length} chars long"
            self.add(_cause(INVALID, _field(path), value, detail))
            return
        pattern = schema.get("pattern")
        if pattern:
            try:
                matched = re.search(_go_regex(pattern), value) is not None
            except re.error:
                matched = True
            if not matched:
                detail = f"{path} in body should match '{pattern}'"
                self.add(_cause(INVALID, _field(path), value, detail))

    def check_format(self, value: str, schema: Mapping[str, Any], path: str) -> None:
        fmt = schema.get("format")
        check = _FORMATS.get(fmt) if isinstance(fmt, str) else None
        if check is not None and not check(value):
            self.type_error(path, str(fmt), value)

    def check_number(self, value: float, schema: Mapping[str, Any], path: str) -> None:
        field_path = _field(path)
        multiple = schema.get("multipleOf")
        if multiple:
            quotient = value / multiple
            if not float(quotient).is_integer():
                detail = f"{path} in body should be a multiple of {_number(multiple)}"
                self.add(_cause(INVALID, field_path, value, detail))
        maximum = schema.get("maximum")
        if maximum is not None:
            exclusive = bool(schema.get("exclusiveMaximum"))
            if value > maximum or (exclusive and value == maximum):
                relation = "less than" if exclusive else "less than or equal to"
                bound = _bound(value, maximum)
                detail = f"{path} in body should be {relation} {bound}"
                self.add(_cause(INVALID, field_path, value, detail))
        minimum = schema.get("minimum")
        if minimum is not None:
            exclusive = bool(schema.get("exclusiveMinimum"))
            if value < minimum or (exclusive and value == minimum):
                relation = "greater than" if exclusive else "greater than or equal to"
                bound = _bound(value, minimum)
                detail = f"{path} in body should be {relation} {bound}"
                self.add(_cause(INVALID, field_path, value, detail))

    def check_array(self, value: Sequence[Any], schema: Mapping[str, Any], path: str) -> None:
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                self.run(item, items, f"{path}[{index}]")
        self.check_size(len(value), schema.get("minItems"), schema.get("maxItems"), path, "items")
        if schema.get("uniqueItems") and _has_duplicates(value):
            detail = f"{path} in body shouldn't contain duplicates"
            self.add(_cause(INVALID, _field(path), "", detail))

    def check_size(
        self, size: int, minimum: int | None, maximum: int | None, path: str, noun: str
    ) -> bool:
        """minItems/maxItems or minProperties/maxProperties; whether the size was in bounds."""
        if minimum is not None and size < minimum:
            detail = f"{path} in body should have at least {minimum} {noun}"
            self.add(_cause(INVALID, _field(path), size, detail))
            return False
        if maximum is not None and size > maximum:
            self.add(_cause(TOO_MANY, _field(path), size, _at_most(maximum)))
            return False
        return True

    def check_enum(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        allowed = schema.get("enum")
        if not allowed:
            return
        if any(_json_equal(value, option) for option in allowed):
            return
        names = [
            option
            if isinstance(option, str)
            else json.dumps(option, separators=(",", ":"), sort_keys=True)
            for option in allowed
        ]
        detail = "supported values: " + ", ".join(go_quote(n) for n in names)
        self.add(_cause(NOT_SUPPORTED, _field(path), value, detail))

    def check_object(self, value: Mapping[str, Any], schema: Mapping[str, Any], path: str) -> None:
        minimum, maximum = schema.get("minProperties"), schema.get("maxProperties")
        if not self.check_size(len(value), minimum, maximum, path, "properties"):
            return
        field_path = _field(path)
        properties: Mapping[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        if additional is False:
            for key in value:
                if key not in properties:
                    detail = f"{path}.{key} in body is a forbidden property"
                    self.add(_cause(INVALID, field_path, key, detail))
        elif isinstance(additional, Mapping):
            for key, item in value.items():
                if key not in properties:
                    self.run(item, additional, f"{path}.{key}")
        for name, sub in properties.items():
            if name in value:
                self.run(value[name], sub, _join(path, name))
        for name in schema.get("required") or []:
            if name not in value:
                self.add(_cause(REQUIRED, _field(f"{path}.{name}")))


def _at_most(limit: int) -> str:
    """field.TooMany's detail."""
    return f"must have at most {limit} item{'' if limit == 1 else 's'}"


def _bound(value: float, bound: float) -> str:
    if isinstance(value, int) and float(bound).is_integer():
        return str(int(bound))
    return _go_float(float(bound))


def _has_duplicates(items: Sequence[Any]) -> bool:
    return any(_json_equal(a, b) for i, a in enumerate(items) for b in items[i + 1 :])


def _collect(value: Any, schema: Mapping[str, Any], path: str) -> list[Cause]:
    validator = _Validator()
    validator.run(value, schema, path)
    return validator.causes


def _list_causes(value: Any, schema: Mapping[str, Any], path: str) -> list[Cause]:
    """apiextensions' ValidateListSetsAndMaps and embedded-resource checks."""
    causes: list[Cause] = []
    if isinstance(value, Mapping):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        if schema.get("x-kubernetes-embedded-resource"):
            causes.extend(_embedded_causes(value, path))
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                causes.extend(_list_causes(item, properties[key], _join(path, key)))
            elif isinstance(additional, Mapping):
                causes.extend(_list_causes(item, additional, f"{path}[{key}]"))
    elif isinstance(value, list | tuple):
        items = schema.get("items")
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            for index, item in enumerate(value):
                if any(_json_equal(item, earlier) for earlier in value[:index]):
                    causes.append(_cause(DUPLICATE, f"{path}[{index}]", item))
        elif list_type == "map":
            keys: list[str] = list(schema.get("x-kubernetes-list-map-keys") or [])
            seen: list[dict[str, Any]] = []
            for index, item in enumerate(value):
                if not isinstance(item, Mapping):
                    continue
                key_map = {k: item[k] for k in keys if k in item}
                if any(_json_equal(key_map, earlier) for earlier in seen):
                    causes.append(_cause(DUPLICATE, f"{path}[{index}]", key_map))
                seen.append(key_map)
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                causes.extend(_list_causes(item, items, f"{path}[{index}]"))
    return causes


def _embedded_causes(value: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("apiVersion", "kind"):
        child = _join(path, key)
        if key not in value:
            causes.append(_cause(REQUIRED, child, detail="must not be empty"))
            continue
        item = value[key]
        if not isinstance(item, str):
            causes.append(_cause(INVALID, child, item, "must be a string"))
        elif not item:
            causes.append(_cause(INVALID, child, item, "must not be empty"))
        elif key == "kind" and (problems := validate_dns1035_label(item.lower())):
            causes.append(
                _cause(
                    INVALID,
                    child,
                    item,
                    "may have mixed case, but should otherwise match: " + ",".join(problems),
                )
            )
    return causes


def validate(obj: Any, schema: Mapping[str, Any]) -> list[Cause]:
    """Validate ``obj`` against an ``openAPIV3Schema`` the way kube-apiserver does.

    Returns the field errors kube would put into the Invalid Status, in a stable
    order (schema order, where kube iterates Go maps randomly). An empty list
    means the object is valid.
    """
    causes = _collect(obj, schema, "")
    for cause in _list_causes(obj, schema, ""):
        if cause not in causes:
            causes.append(cause)
    return causes


# --------------------------------------------------------------------------- pruning


_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _drop_all(value: Any, path: str, dropped: list[str]) -> Any:
    """Pruning with no schema at all: every object field is unknown."""
    if isinstance(value, Mapping):
        dropped.extend(_join(path, key) for key in value)
        return {}
    if isinstance(value, list | tuple):
        return [_drop_all(item, f"{path}[{index}]", dropped) for index, item in enumerate(value)]
    return copy.deepcopy(value)


def _prune(
    value: Any, schema: Mapping[str, Any] | None, path: str, dropped: list[str], root: bool = False
) -> Any:
    if schema is None:
        return _drop_all(value, path, dropped)
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if isinstance(value, Mapping):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        embedded = root or bool(schema.get("x-kubernetes-embedded-resource"))
        result: dict[str, Any] = {}
        for key, item in value.items():
            child = _join(path, key)
            if embedded and key in _ROOT_KEEP:
                result[key] = copy.deepcopy(item)
            elif key in properties:
                result[key] = _prune(item, properties[key], child, dropped)
            elif isinstance(additional, Mapping):
                result[key] = _prune(item, additional, child, dropped)
            elif additional is True or preserve:
                result[key] = copy.deepcopy(item)
            else:
                dropped.append(child)
        return result
    if isinstance(value, list | tuple):
        items = schema.get("items")
        if not isinstance(items, Mapping):
            if preserve:
                return copy.deepcopy(list(value))
            return _drop_all(value, path, dropped)
        return [
            _prune(item, items, f"{path}[{index}]", dropped) for index, item in enumerate(value)
        ]
    return copy.deepcopy(value)


def prune(obj: Any, schema: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """Structural pruning: drop fields the schema does not declare.

    Returns ``(pruned copy, dropped paths)``.  Paths are field paths such as
    ``spec.foo`` or ``spec.steps[0].bar`` (sorted); kube's strict field
    validation reports each as ``unknown field "spec.foo"``.  ``apiVersion``,
    ``kind`` and ``metadata`` at the root (and in embedded resources) are kept
    untouched.
    """
    dropped: list[str] = []
    result = _prune(obj, schema, "", dropped, root=True)
    return result, sorted(dropped)


# --------------------------------------------------------------------------- defaulting


def _default(value: Any, schema: Mapping[str, Any] | None) -> None:
    """structuraldefaulting.Default, in place on a private copy."""
    if schema is None:
        return
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        for key, prop in properties.items():
            if "default" not in prop or prop["default"] is None:
                continue
            if key not in value or _non_nullable_null(value[key], prop):
                value[key] = copy.deepcopy(prop["default"])
        additional = schema.get("additionalProperties")
        for key in list(value):
            item = value[key]
            if key in properties:
                _default(item, properties[key])
            elif isinstance(additional, Mapping):
                if _non_nullable_null(item, additional):
                    value[key] = copy.deepcopy(additional["default"])
                _default(item, additional)
    elif isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return
        for index, item in enumerate(value):
            if _non_nullable_null(item, items):
                value[index] = copy.deepcopy(items["default"])
            _default(item, items)


def _non_nullable_null(value: Any, schema: Mapping[str, Any]) -> bool:
    return value is None and not schema.get("nullable") and schema.get("default") is not None


def _drop_non_nullable_nulls(value: Any, schema: Mapping[str, Any] | None) -> None:
    """structuraldefaulting.PruneNonNullableNullsWithoutDefaults, in place: a null member
    whose schema is neither nullable nor defaulted goes (a list keeps its null items)."""
    if schema is None:
        return
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key in list(value):
            member = properties.get(key, additional if isinstance(additional, Mapping) else None)
            if member is None:
                continue
            if value[key] is None and not member.get("nullable") and member.get("default") is None:
                del value[key]
            else:
                _drop_non_nullable_nulls(value[key], member)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for item in value:
            _drop_non_nullable_nulls(item, schema["items"])


def apply_defaults(obj: Any, schema: Mapping[str, Any]) -> Any:
    """Apply the schema's ``default`` values recursively, then drop the null members no
    schema allows (as kube-apiserver does before validating); returns a new object."""
    result = copy.deepcopy(obj)
    if isinstance(result, Mapping) and not isinstance(result, dict):
        result = dict(result)
    _default(result, schema)
    _drop_non_nullable_nulls(result, schema)
    return result


# --------------------------------------------------------------------------- errors


def format_invalid(kind: str, group: str, name: str, causes: Sequence[Cause]) -> str:
    """The Status message of ``errors.NewInvalid(GroupKind{group, kind}, name, causes)``."""
    qualified = f"{kind}.{group}" if group else kind
    head = f"{qualified} {go_quote(name)} is invalid"
    messages: list[str] = []
    for cause in causes:
        text = cause.render()
        if text not in messages:
            messages.append(text)
    if not messages:
        return head
    if len(messages) == 1:
        return f"{head}: {messages[0]}"
    return f"{head}: [{', '.join(messages)}]"


# --------------------------------------------------------------------------- CRD schema checks


def _structural(
    schema: Mapping[str, Any], path: str, level: str, out: list[str], root: bool = False
) -> None:
    def at(child: str) -> str:
        return _join(path, child)

    for forbidden in ("$ref", "$defs", "definitions"):
        if forbidden in schema:
            what = "definitions are" if forbidden == "definitions" else f"{forbidden} is"
            out.append(f"{at(forbidden)}: Forbidden: {what} not supported")
    type_name = schema.get("type") or ""
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    if embedded and type_name != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        if type_name:
            out.append(f"{at('type')}: Invalid value: {go_value(type_name)}: {detail}")
        else:
            out.append(f"{at('type')}: Required value: {detail}")
    elif (
        not type_name
        and not schema.get("x-kubernetes-int-or-string")
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        detail = {
            "root": "must not be empty at the root",
            "item": "must not be empty for specified array items",
            "field": "must not be empty for specified object fields",
        }[level]
        out.append(f"{at('type')}: Required value: {detail}")
    if root and type_name and type_name != "object":
        out.append(
            f"{at('type')}: Invalid value: {go_value(type_name)}: must be object at the root"
        )
    additional = schema.get("additionalProperties")
    if additional is False:
        out.append(
            f"{at('additionalProperties')}: Forbidden: additionalProperties cannot be set to false"
        )
    if additional is not None and schema.get("properties"):
        out.append(
            f"{at('additionalProperties')}: Forbidden: "
            "additionalProperties and properties are mutual exclusive"
        )
    if schema.get("uniqueItems") is True:
        out.append(
            f"{at('uniqueItems')}: Forbidden: uniqueItems cannot be set to true since the "
            "runtime complexity becomes quadratic"
        )
    if schema.get("x-kubernetes-list-type") == "map" and not schema.get(
        "x-kubernetes-list-map-keys"
    ):
        out.append(
            f"{at('x-kubernetes-list-map-keys')}: Required value: "
            "must not be empty if x-kubernetes-list-type is map"
        )
    properties = schema.get("properties") or {}
    if isinstance(properties, Mapping):
        for key, sub in properties.items():
            if isinstance(sub, Mapping):
                _structural(sub, f"{at('properties')}[{key}]", "field", out)
    items = schema.get("items")
    if isinstance(items, Mapping):
        _structural(items, at("items"), "item", out)
    elif schema.get("type") == "array" and items is None:
        out.append(f"{at('items')}: Required value: must be specified")
    if isinstance(additional, Mapping):
        _structural(additional, at("additionalProperties"), "field", out)


def structural_errors(schema: Mapping[str, Any], path: str = "") -> list[str]:
    """Minimal structural-schema check for CRD creation.

    ``path`` prefixes every message, e.g. ``spec.versions[0].schema.openAPIV3Schema``
    yields ``spec.versions[0].schema.openAPIV3Schema.properties[spec].type:
    Required value: must not be empty for specified object fields``.  Returns an
    empty list for an acceptable schema.
    """
    out: list[str] = []
    _structural(schema, path, "root", out, root=True)
    return out
