"""Custom resource schema handling must match kube-apiserver's wording and semantics."""

from __future__ import annotations

from typing import Any

import pytest

from kube_emulator.schema import (
    Cause,
    apply_defaults,
    format_invalid,
    go_value,
    prune,
    structural_errors,
    validate,
)
from kube_emulator.validation import go_quote, validate_dns1123_label, validate_dns1123_subdomain


def spec_schema(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": properties}}}


@pytest.mark.parametrize(
    ("field_schema", "value", "expected"),
    [
        pytest.param(
            {"type": "integer"},
            "x",
            Cause(
                "FieldValueTypeInvalid",
                "spec.f",
                'Invalid value: "string": spec.f in body must be of type integer: "string"',
            ),
            id="type-string-for-integer",
        ),
        pytest.param(
            {"type": "string"},
            {"a": 1},
            Cause(
                "FieldValueTypeInvalid",
                "spec.f",
                'Invalid value: "object": spec.f in body must be of type string: "object"',
            ),
            id="type-object-for-string",
        ),
        pytest.param(
            {"type": "boolean"},
            1,
            Cause(
                "FieldValueTypeInvalid",
                "spec.f",
                'Invalid value: "integer": spec.f in body must be of type boolean: "integer"',
            ),
            id="type-integer-for-boolean",
        ),
        pytest.param(
            {"type": "integer"},
            True,
            Cause(
                "FieldValueTypeInvalid",
                "spec.f",
                'Invalid value: "boolean": spec.f in body must be of type integer: "boolean"',
            ),
            id="type-boolean-is-not-integer",
        ),
        pytest.param(
            {"type": "array"},
            "x",
            Cause(
                "FieldValueTypeInvalid",
                "spec.f",
                'Invalid value: "string": spec.f in body must be of type array: "string"',
            ),
            id="type-string-for-array",
        ),
        pytest.param(
            {"type": "string"},
            None,
            Cause(
                "FieldValueTypeInvalid",
                "spec.f",
                'Invalid value: "null": spec.f in body must be of type string: "null"',
            ),
            id="type-null-for-non-nullable",
        ),
        pytest.param(
            {"x-kubernetes-int-or-string": True},
            1.5,
            Cause(
                "FieldValueTypeInvalid",
                "spec.f",
                'Invalid value: "number": spec.f in body must be of type integer,string: "number"',
            ),
            id="int-or-string-rejects-float",
        ),
        pytest.param(
            {"type": "string", "format": "date-time"},
            5,
            Cause(
                "FieldValueTypeInvalid",
                "spec.f",
                'Invalid value: "int64": spec.f in body must be of type date-time: "int64"',
            ),
            id="format-with-wrong-type",
        ),
        pytest.param(
            {"type": "string", "format": "date-time"},
            "yesterday",
            Cause(
                "FieldValueTypeInvalid",
                "spec.f",
                'Invalid value: "yesterday": spec.f in body must be of type date-time: "yesterday"',
            ),
            id="format-date-time",
        ),
        pytest.param(
            {"type": "string", "enum": ["P0", "P1"]},
            "P9",
            Cause(
                "FieldValueNotSupported",
                "spec.f",
                'Unsupported value: "P9": supported values: "P0", "P1"',
            ),
            id="enum-string",
        ),
        pytest.param(
            {"type": "integer", "enum": [1, 2]},
            3,
            Cause(
                "FieldValueNotSupported",
                "spec.f",
                'Unsupported value: 3: supported values: "1", "2"',
            ),
            id="enum-integer-values-are-json-quoted",
        ),
        pytest.param(
            {"type": "string", "pattern": "^[a-z]+$"},
            "abc1",
            Cause(
                "FieldValueInvalid",
                "spec.f",
                "Invalid value: \"abc1\": spec.f in body should match '^[a-z]+$'",
            ),
            id="pattern",
        ),
        pytest.param(
            {"type": "string", "maxLength": 63},
            "x" * 64,
            Cause("FieldValueTooLong", "spec.f", "Too long: may not be more than 63 bytes"),
            id="max-length",
        ),
        pytest.param(
            {"type": "string", "minLength": 2},
            "x",
            Cause(
                "FieldValueInvalid",
                "spec.f",
                'Invalid value: "x": spec.f in body should be at least 2 chars long',
            ),
            id="min-length",
        ),
        pytest.param(
            {"type": "integer", "maximum": 10},
            11,
            Cause(
                "FieldValueInvalid",
                "spec.f",
                "Invalid value: 11: spec.f in body should be less than or equal to 10",
            ),
            id="maximum",
        ),
        pytest.param(
            {"type": "integer", "maximum": 10, "exclusiveMaximum": True},
            10,
            Cause(
                "FieldValueInvalid",
                "spec.f",
                "Invalid value: 10: spec.f in body should be less than 10",
            ),
            id="exclusive-maximum",
        ),
        pytest.param(
            {"type": "number", "minimum": 0.5},
            0.25,
            Cause(
                "FieldValueInvalid",
                "spec.f",
                "Invalid value: 0.25: spec.f in body should be greater than or equal to 0.5",
            ),
            id="minimum-float",
        ),
        pytest.param(
            {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
            1,
            Cause(
                "FieldValueInvalid",
                "spec.f",
                "Invalid value: 1: spec.f in body should be greater than 1",
            ),
            id="exclusive-minimum",
        ),
        pytest.param(
            {"type": "integer", "multipleOf": 5},
            7,
            Cause(
                "FieldValueInvalid",
                "spec.f",
                "Invalid value: 7: spec.f in body should be a multiple of 5",
            ),
            id="multiple-of",
        ),
        pytest.param(
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
            [],
            Cause(
                "FieldValueInvalid",
                "spec.f",
                "Invalid value: 0: spec.f in body should have at least 1 items",
            ),
            id="min-items",
        ),
        pytest.param(
            {"type": "array", "items": {"type": "string"}, "maxItems": 2},
            ["a", "b", "c"],
            Cause("FieldValueTooMany", "spec.f", "Too many: 3: must have at most 2 items"),
            id="max-items",
        ),
        pytest.param(
            {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            ["a", "a"],
            Cause(
                "FieldValueInvalid",
                "spec.f",
                'Invalid value: "": spec.f in body shouldn\'t contain duplicates',
            ),
            id="unique-items",
        ),
        pytest.param(
            {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1},
            {},
            Cause(
                "FieldValueInvalid",
                "spec.f",
                "Invalid value: 0: spec.f in body should have at least 1 properties",
            ),
            id="min-properties",
        ),
        pytest.param(
            {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 1},
            {"a": "1", "b": "2"},
            Cause("FieldValueTooMany", "spec.f", "Too many: 2: must have at most 1 items"),
            id="max-properties",
        ),
        pytest.param(
            {"type": "object", "additionalProperties": {"type": "integer"}},
            {"a": "x"},
            Cause(
                "FieldValueTypeInvalid",
                "spec.f.a",
                'Invalid value: "string": spec.f.a in body must be of type integer: "string"',
            ),
            id="additional-properties-schema",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": False,
            },
            {"b": "x"},
            Cause(
                "FieldValueInvalid",
                "spec.f",
                'Invalid value: "b": spec.f.b in body is a forbidden property',
            ),
            id="additional-properties-false",
        ),
        pytest.param(
            {"type": "array", "items": {"type": "object", "required": ["action"]}},
            [{"action": "x"}, {}],
            Cause("FieldValueRequired", "spec.f[1].action", "Required value"),
            id="required-inside-array-item",
        ),
        pytest.param(
            {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            ["a", "b", "a"],
            Cause("FieldValueDuplicate", "spec.f[2]", 'Duplicate value: "a"'),
            id="list-type-set-duplicate",
        ),
        pytest.param(
            {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
            [{"name": "a"}, {"name": "a"}],
            Cause(
                "FieldValueDuplicate",
                "spec.f[1]",
                'Duplicate value: map[string]interface {}{"name":"a"}',
            ),
            id="list-type-map-duplicate-key",
        ),
        pytest.param(
            {"type": "object", "x-kubernetes-embedded-resource": True},
            {"kind": "Pod"},
            Cause("FieldValueRequired", "spec.f.apiVersion", "Required value: must not be empty"),
            id="embedded-resource-needs-api-version",
        ),
        pytest.param(
            {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            True,
            Cause(
                "FieldValueInvalid",
                "<nil>",
                'Invalid value: "": "spec.f" must validate at least one schema (anyOf)',
            ),
            id="any-of-none-matches",
        ),
        pytest.param(
            {"oneOf": [{"type": "integer"}, {"type": "number"}]},
            1,
            Cause(
                "FieldValueInvalid",
                "<nil>",
                'Invalid value: "": "spec.f" must validate one and only one schema (oneOf). '
                "Found 2 valid alternatives",
            ),
            id="one-of-two-match",
        ),
        pytest.param(
            {"allOf": [{"type": "string"}, {"type": "string", "minLength": 5}]},
            "abc",
            Cause(
                "FieldValueInvalid",
                "<nil>",
                'Invalid value: "": "spec.f" must validate all the schemas (allOf)',
            ),
            id="all-of-one-fails",
        ),
        pytest.param(
            {"type": "string", "not": {"enum": ["bad"]}},
            "bad",
            Cause(
                "FieldValueInvalid",
                "<nil>",
                'Invalid value: "": "spec.f" must not validate the schema (not)',
            ),
            id="not-matches",
        ),
    ],
)
def test_validate_reports_kube_cause_for_each_keyword(
    field_schema: dict[str, Any], value: Any, expected: Cause
) -> None:
    causes = validate({"spec": {"f": value}}, spec_schema(f=field_schema))
    assert expected in causes


@pytest.mark.parametrize(
    ("field_schema", "value"),
    [
        pytest.param({"type": "integer"}, 3, id="integer"),
        pytest.param({"type": "integer"}, 3.0, id="integral-float-is-integer"),
        pytest.param({"type": "number"}, 3, id="integer-is-number"),
        pytest.param({"type": "string", "nullable": True}, None, id="nullable-null"),
        pytest.param({"x-kubernetes-int-or-string": True}, "50%", id="int-or-string-string"),
        pytest.param({"x-kubernetes-int-or-string": True}, 50, id="int-or-string-int"),
        pytest.param(
            {"type": "string", "format": "date-time"}, "2024-01-02T03:04:05Z", id="date-time"
        ),
        pytest.param(
            {"type": "string", "format": "unknown-format"}, "anything", id="unknown-format"
        ),
        pytest.param({"x-kubernetes-preserve-unknown-fields": True}, {"any": [1]}, id="untyped"),
        pytest.param({"type": "string", "enum": ["a"]}, "a", id="enum-member"),
        pytest.param({"type": "number", "enum": [1]}, 1.0, id="enum-numeric-equality"),
        pytest.param({"anyOf": [{"type": "integer"}, {"type": "string"}]}, "x", id="any-of"),
        pytest.param({"oneOf": [{"type": "integer"}, {"type": "string"}]}, "x", id="one-of"),
        pytest.param({"type": "array", "x-kubernetes-list-type": "set"}, [1, 2], id="set"),
    ],
)
def test_validate_accepts_conforming_values(field_schema: dict[str, Any], value: Any) -> None:
    assert validate({"spec": {"f": value}}, spec_schema(f=field_schema)) == []


def test_validate_reports_missing_required_field_at_root_and_nested() -> None:
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {"spec": {"type": "object", "required": ["a", "b"]}},
    }
    assert validate({}, schema) == [Cause("FieldValueRequired", "spec", "Required value")]
    assert validate({"spec": {"a": 1}}, schema) == [
        Cause("FieldValueRequired", "spec.b", "Required value")
    ]


def test_validate_string_checks_stop_at_first_failure() -> None:
    schema = spec_schema(f={"type": "string", "maxLength": 2, "pattern": "^[a-z]+$"})
    causes = validate({"spec": {"f": "ABC"}}, schema)
    assert [c.type for c in causes] == ["FieldValueTooLong"]


def test_validate_any_of_reports_the_branch_failures_too() -> None:
    schema = spec_schema(f={"anyOf": [{"type": "string", "maxLength": 1}]})
    causes = validate({"spec": {"f": "abc"}}, schema)
    assert [c.type for c in causes] == ["FieldValueInvalid", "FieldValueTooLong"]


@pytest.mark.parametrize(
    ("causes", "expected"),
    [
        pytest.param([], 'Incident.remediator.dev "x" is invalid', id="no-causes"),
        pytest.param(
            [Cause("FieldValueRequired", "spec.a", "Required value")],
            'Incident.remediator.dev "x" is invalid: spec.a: Required value',
            id="one-cause",
        ),
        pytest.param(
            [
                Cause("FieldValueRequired", "spec.a", "Required value"),
                Cause("FieldValueRequired", "spec.b", "Required value"),
                Cause("FieldValueRequired", "spec.a", "Required value"),
            ],
            'Incident.remediator.dev "x" is invalid: '
            "[spec.a: Required value, spec.b: Required value]",
            id="several-causes-deduplicated",
        ),
    ],
)
def test_format_invalid_matches_errors_new_invalid(causes: list[Cause], expected: str) -> None:
    assert format_invalid("Incident", "remediator.dev", "x", causes) == expected


def test_format_invalid_omits_empty_group() -> None:
    cause = Cause("FieldValueInvalid", "data", "Invalid value")
    assert format_invalid("ConfigMap", "", 'a"b', [cause]) == (
        'ConfigMap "a\\"b" is invalid: data: Invalid value'
    )


def test_cause_renders_and_serialises_as_status_cause() -> None:
    cause = Cause("FieldValueRequired", "spec.a", "Required value")
    assert cause.render() == "spec.a: Required value"
    assert cause.to_status_cause() == {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.a",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param('a"b\n', '"a\\"b\\n"', id="string-escapes"),
        pytest.param(None, '"null"', id="null"),
        pytest.param(True, "true", id="bool"),
        pytest.param(7, "7", id="int"),
        pytest.param(1e6, "1e+06", id="float-exponent"),
        pytest.param(2.0, "2", id="float-integral"),
        pytest.param(0.0001, "0.0001", id="float-small"),
        pytest.param(1e-5, "1e-05", id="float-tiny"),
        pytest.param(["a", 1], '[]interface {}{"a", 1}', id="list"),
    ],
)
def test_go_value_formats_bad_values_like_go(value: Any, expected: str) -> None:
    assert go_value(value) == expected


def test_go_quote_escapes_control_characters() -> None:
    assert go_quote("\x01é") == '"\\x01é"'


def test_prune_drops_unknown_fields_and_reports_their_paths() -> None:
    schema = spec_schema(
        a={"type": "string"},
        steps={
            "type": "array",
            "items": {"type": "object", "properties": {"x": {"type": "string"}}},
        },
    )
    obj: dict[str, Any] = {
        "apiVersion": "remediator.dev/v1",
        "kind": "Incident",
        "metadata": {"name": "n", "anything": 1},
        "spec": {"a": "1", "foo": 2, "steps": [{"x": "1", "y": 2}]},
        "extra": True,
    }
    pruned, dropped = prune(obj, schema)
    assert pruned == {
        "apiVersion": "remediator.dev/v1",
        "kind": "Incident",
        "metadata": {"name": "n", "anything": 1},
        "spec": {"a": "1", "steps": [{"x": "1"}]},
    }
    assert dropped == ["extra", "spec.foo", "spec.steps[0].y"]
    assert obj["spec"]["foo"] == 2  # input untouched


@pytest.mark.parametrize(
    ("field_schema", "value", "kept", "dropped"),
    [
        pytest.param(
            {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            {"any": {"deep": 1}},
            {"any": {"deep": 1}},
            [],
            id="preserve-unknown-fields",
        ),
        pytest.param(
            {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"k": {"type": "object", "properties": {}}},
            },
            {"any": 1, "k": {"gone": 1}},
            {"any": 1, "k": {}},
            ["spec.f.k.gone"],
            id="preserve-still-prunes-known-children",
        ),
        pytest.param(
            {
                "type": "object",
                "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}},
            },
            {"a": {"v": "1", "w": 2}},
            {"a": {"v": "1"}},
            ["spec.f.a.w"],
            id="additional-properties-schema",
        ),
        pytest.param(
            {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
            ["spec.f.spec"],
            id="embedded-resource-keeps-type-meta",
        ),
        pytest.param(
            {"type": "object"}, {"x": 1}, {}, ["spec.f.x"], id="object-without-properties"
        ),
        pytest.param({"type": "string"}, "s", "s", [], id="scalar"),
    ],
)
def test_prune_honours_schema_extensions(
    field_schema: dict[str, Any], value: Any, kept: Any, dropped: list[str]
) -> None:
    pruned, paths = prune({"spec": {"f": value}}, spec_schema(f=field_schema))
    assert pruned == {"spec": {"f": kept}}
    assert paths == dropped


def test_prune_never_touches_root_metadata_even_when_declared() -> None:
    schema = {"type": "object", "properties": {"metadata": {"type": "object"}}}
    pruned, dropped = prune({"metadata": {"name": "n", "labels": {"a": "b"}}}, schema)
    assert pruned == {"metadata": {"name": "n", "labels": {"a": "b"}}}
    assert dropped == []


@pytest.mark.parametrize(
    ("field_schema", "value", "expected"),
    [
        pytest.param(
            {"type": "object", "properties": {"sev": {"type": "string", "default": "P2"}}},
            {},
            {"sev": "P2"},
            id="missing-property",
        ),
        pytest.param(
            {"type": "object", "properties": {"sev": {"type": "string", "default": "P2"}}},
            {"sev": "P0"},
            {"sev": "P0"},
            id="present-property-kept",
        ),
        pytest.param(
            {"type": "object", "properties": {"sev": {"type": "string", "default": "P2"}}},
            {"sev": None},
            {"sev": "P2"},
            id="non-nullable-null-replaced",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"sev": {"type": "string", "nullable": True, "default": "P2"}},
            },
            {"sev": None},
            {"sev": None},
            id="nullable-null-kept",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {
                    "o": {
                        "type": "object",
                        "default": {},
                        "properties": {"n": {"type": "integer", "default": 3}},
                    }
                },
            },
            {},
            {"o": {"n": 3}},
            id="nested-defaults-inside-default",
        ),
        pytest.param(
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"retries": {"type": "integer", "default": 1}},
                },
            },
            [{}, {"retries": 5}],
            [{"retries": 1}, {"retries": 5}],
            id="array-items",
        ),
        pytest.param(
            {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"on": {"type": "boolean", "default": True}},
                },
            },
            {"a": {}},
            {"a": {"on": True}},
            id="additional-properties",
        ),
    ],
)
def test_apply_defaults_fills_missing_values(
    field_schema: dict[str, Any], value: Any, expected: Any
) -> None:
    original = {"spec": {"f": value}}
    result = apply_defaults(original, spec_schema(f=field_schema))
    assert result == {"spec": {"f": expected}}
    assert original == {"spec": {"f": value}}


def test_apply_defaults_returns_copy_of_default_values() -> None:
    schema = spec_schema(f={"type": "object", "default": {"a": [1]}})
    first = apply_defaults({"spec": {}}, schema)
    first["spec"]["f"]["a"].append(2)
    assert apply_defaults({"spec": {}}, schema) == {"spec": {"f": {"a": [1]}}}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        pytest.param(
            {"type": "object", "properties": {"spec": {"type": "object"}}}, [], id="structural"
        ),
        pytest.param(
            {"properties": {}},
            ["p.type: Required value: must not be empty at the root"],
            id="root-without-type",
        ),
        pytest.param(
            {"type": "string"},
            ['p.type: Invalid value: "string": must be object at the root'],
            id="root-not-object",
        ),
        pytest.param(
            {"type": "object", "properties": {"spec": {"properties": {}}}},
            [
                "p.properties[spec].type: Required value: "
                "must not be empty for specified object fields"
            ],
            id="field-without-type",
        ),
        pytest.param(
            {"type": "object", "properties": {"l": {"type": "array", "items": {}}}},
            [
                "p.properties[l].items.type: Required value: "
                "must not be empty for specified array items"
            ],
            id="item-without-type",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {
                    "a": {"x-kubernetes-int-or-string": True},
                    "b": {"x-kubernetes-preserve-unknown-fields": True},
                },
            },
            [],
            id="untyped-allowed-with-extensions",
        ),
        pytest.param(
            {"type": "object", "$ref": "#/definitions/x"},
            ["p.$ref: Forbidden: $ref is not supported"],
            id="ref",
        ),
        pytest.param(
            {"type": "object", "definitions": {}},
            ["p.definitions: Forbidden: definitions are not supported"],
            id="definitions",
        ),
        pytest.param(
            {"type": "object", "$defs": {}},
            ["p.$defs: Forbidden: $defs is not supported"],
            id="defs",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            },
            [
                "p.additionalProperties: Forbidden: "
                "additionalProperties and properties are mutual exclusive"
            ],
            id="properties-and-additional-properties",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"e": {"type": "string", "x-kubernetes-embedded-resource": True}},
            },
            [
                'p.properties[e].type: Invalid value: "string": '
                "must be object if x-kubernetes-embedded-resource is true"
            ],
            id="embedded-resource-not-object",
        ),
        pytest.param(
            {"type": "object", "properties": {"l": {"type": "array"}}},
            ["p.properties[l].items: Required value: must be specified"],
            id="array-without-items",
        ),
    ],
)
def test_structural_errors_flags_non_structural_schemas(
    schema: dict[str, Any], expected: list[str]
) -> None:
    assert structural_errors(schema, "p") == expected


def test_structural_errors_without_prefix_starts_at_the_schema() -> None:
    assert structural_errors({"properties": {}}) == [
        "type: Required value: must not be empty at the root"
    ]


SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("web-1.example.com", [], id="valid"),
        pytest.param("Web", [SUBDOMAIN_MESSAGE], id="uppercase"),
        pytest.param("-web", [SUBDOMAIN_MESSAGE], id="leading-dash"),
        pytest.param("", [SUBDOMAIN_MESSAGE], id="empty"),
        pytest.param("web\n", [SUBDOMAIN_MESSAGE], id="trailing-newline"),
        pytest.param("a" * 254, ["must be no more than 253 characters"], id="too-long"),
        pytest.param(
            "A" * 254,
            ["must be no more than 253 characters", SUBDOMAIN_MESSAGE],
            id="too-long-and-invalid",
        ),
    ],
)
def test_validate_dns1123_subdomain(value: str, expected: list[str]) -> None:
    assert validate_dns1123_subdomain(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("my-name", [], id="valid"),
        pytest.param("a.b", [LABEL_MESSAGE], id="dot-not-allowed"),
        pytest.param("a" * 64, ["must be no more than 63 characters"], id="too-long"),
    ],
)
def test_validate_dns1123_label(value: str, expected: list[str]) -> None:
    assert validate_dns1123_label(value) == expected
