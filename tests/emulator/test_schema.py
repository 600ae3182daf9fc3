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

from .cases import cases


def spec_schema(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": properties}}}


@pytest.mark.parametrize(
    ("field_schema", "value", "expected"),
    cases(
        "schema",
        "validate_reports_kube_cause_for_each_keyword",
        "field_schema",
        "value",
        "expected",
    ),
)
def test_validate_reports_kube_cause_for_each_keyword(
    field_schema: dict[str, Any], value: Any, expected: dict[str, str]
) -> None:
    causes = validate({"spec": {"f": value}}, spec_schema(f=field_schema))
    assert Cause(**expected) in causes


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
    cases("schema", "format_invalid_matches_errors_new_invalid", "causes", "expected"),
)
def test_format_invalid_matches_errors_new_invalid(
    causes: list[dict[str, str]], expected: str
) -> None:
    assert (
        format_invalid("Incident", "remediator.dev", "x", [Cause(**c) for c in causes]) == expected
    )


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
    cases("schema", "prune_honours_schema_extensions", "field_schema", "value", "kept", "dropped"),
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
    cases("schema", "apply_defaults_fills_missing_values", "field_schema", "value", "expected"),
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
    cases("schema", "structural_errors_flags_non_structural_schemas", "schema", "expected"),
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
