"""Label and field selectors must parse, match and fail exactly like kube-apiserver's."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from kube_emulator.selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    default_field_labels,
    label_selector_from_dict,
    parse_field_selector,
    parse_label_selector,
)

from .conftest import expect_error

QNAME_HINT = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_HINT = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
DNS_HINT = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)

LABELS = {"app": "web", "tier": "front", "empty": "", "n": "5", "example.com/team": "sre"}


# ------------------------------------------------------------------------ label selectors


LABEL_SELECTOR_MATCHES = [
    # equality: =, ==
    ("app=web", True),
    ("app==web", True),
    ("app=db", False),
    ("missing=web", False),
    ("empty=", True),
    ("missing=", False),
    # inequality matches objects lacking the key
    ("app!=db", True),
    ("app!=web", False),
    ("missing!=x", True),
    # set membership
    ("app in (web,db)", True),
    ("app in (db)", False),
    ("missing in (web)", False),
    ("app notin (db,cache)", True),
    ("app notin (web)", False),
    ("missing notin (web)", True),
    ("empty in ()", True),
    ("empty in (,x)", True),
    ("app in (x,,y)", False),
    # existence
    ("app", True),
    ("missing", False),
    ("!missing", True),
    ("!app", False),
    # numeric comparison
    ("n>4", True),
    ("n>5", False),
    ("n<6", True),
    ("n<5", False),
    ("app>1", False),
    ("missing<9", False),
    # prefixed keys
    ("example.com/team=sre", True),
    # conjunction
    ("app=web,tier=front", True),
    ("app=web,tier=back", False),
    ("app=web,!missing,tier in (front),n>1", True),
    # whitespace tolerance
    ("  app = web ,  tier  in ( front , back )  ", True),
    ("app\t!=\tdb", True),
    # keywords are ordinary values and keys in value position
    ("app notin (in,notin)", True),
]


@pytest.mark.parametrize(("selector", "expected"), LABEL_SELECTOR_MATCHES)
def test_label_selector_matches_like_kube(selector: str, expected: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is expected


@pytest.mark.parametrize("selector", [None, "", "   "])
def test_empty_label_selector_matches_everything(selector: str | None) -> None:
    parsed = parse_label_selector(selector)
    assert parsed.empty
    assert parsed.matches(None)
    assert parsed.matches({"a": "b"})


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("!a", None, True),
        ("a!=b", None, True),
        ("a", None, False),
        ("a notin (x)", {}, True),
    ],
)
def test_label_selector_treats_missing_labels_as_empty(
    selector: str, labels: dict[str, str] | None, expected: bool
) -> None:
    assert parse_label_selector(selector).matches(labels) is expected


@pytest.mark.parametrize(
    ("selector", "canonical"),
    [
        ("b=1,a=2", "a=2,b=1"),
        ("x in (c,a,b)", "x in (a,b,c)"),
        ("x notin (b,a)", "x notin (a,b)"),
        ("!x", "!x"),
        ("x", "x"),
        ("x==1", "x==1"),
        ("x!=1", "x!=1"),
        ("x>1,y<2", "x>1,y<2"),
    ],
)
def test_label_selector_string_form_is_sorted_like_kube(selector: str, canonical: str) -> None:
    assert str(parse_label_selector(selector)) == canonical


INVALID_LABEL_SELECTORS = [
    ("a,", "found '', expected: identifier after ','"),
    ("a,,b", "found ',', expected: identifier after ','"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
    ("(a)", "found '(', expected: !, identifier, or 'end of string'"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a=b=c", "found '=', expected: ',' or 'end of string'"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
    ("a =! b", "unable to parse requirement: found '!', expected: identifier"),
    ("a in x", "unable to parse requirement: found 'x' expected: '('"),
    ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a in (x y)", "unable to parse requirement: found 'y', expected: ',' or ')'"),
    ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
    ("a in (x,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
    ("a in", "unable to parse requirement: found '' expected: '('"),
    (
        "-a=b",
        f'unable to parse requirement: <nil>: Invalid value: "-a": name part {QNAME_HINT}',
    ),
    (
        "a=-b",
        f'unable to parse requirement: values[0][a]: Invalid value: "-b": {VALUE_HINT}',
    ),
    (
        "a=" + "x" * 64,
        f'unable to parse requirement: values[0][a]: Invalid value: "{"x" * 64}": '
        "must be no more than 63 characters",
    ),
    (
        "x" * 64,
        f'unable to parse requirement: <nil>: Invalid value: "{"x" * 64}": '
        "name part must be no more than 63 characters",
    ),
    (
        "a/b/c",
        'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name '
        f"{QNAME_HINT} with an optional DNS subdomain prefix and '/' "
        "(e.g. 'example.com/MyName')",
    ),
    (
        "Foo.com/x",
        f'unable to parse requirement: <nil>: Invalid value: "Foo.com/x": prefix part {DNS_HINT}',
    ),
    (
        "/x",
        'unable to parse requirement: <nil>: Invalid value: "/x": prefix part must be non-empty',
    ),
    (
        "a>b",
        'unable to parse requirement: values[0]: Invalid value: "b": '
        "for 'Gt', 'Lt' operators, the value must be an integer",
    ),
]


@pytest.mark.parametrize(("selector", "message"), INVALID_LABEL_SELECTORS)
def test_invalid_label_selector_is_rejected_with_kube_message(selector: str, message: str) -> None:
    with pytest.raises(SelectorError) as exc_info:
        parse_label_selector(selector)
    assert str(exc_info.value) == message


def test_selector_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="identifier after ','"):
        parse_label_selector("a,")


def test_label_selector_is_immutable_and_comparable() -> None:
    first = parse_label_selector("b=1,a in (y,x)")
    second = parse_label_selector("a in (x,y),b=1")
    assert first == second
    assert hash(first) == hash(second)
    with pytest.raises(AttributeError):
        first.requirements = ()  # type: ignore[misc]


# ------------------------------------------------------------- metav1.LabelSelector dicts


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({"matchLabels": {"app": "web"}}, LABELS, True),
        ({"matchLabels": {"app": "db"}}, LABELS, False),
        ({"matchLabels": {"app": "web", "tier": "front"}}, LABELS, True),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}, LABELS, True),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["db"]}]}, LABELS, False),
        (
            {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]},
            LABELS,
            True,
        ),
        ({"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["db"]}]}, {}, True),
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, LABELS, True),
        ({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, LABELS, False),
        ({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, LABELS, True),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, LABELS, False),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["back"]}],
            },
            LABELS,
            False,
        ),
        ({"matchLabels": {"app": "web"}}, None, False),
    ],
)
def test_label_selector_dict_matches_like_label_selector_as_selector(
    selector: dict[str, Any], labels: dict[str, str] | None, expected: bool
) -> None:
    assert label_selector_from_dict(selector).matches(labels) is expected


@pytest.mark.parametrize("selector", [{}, {"matchLabels": {}}, {"matchExpressions": []}])
def test_empty_label_selector_dict_matches_everything(selector: dict[str, Any]) -> None:
    parsed = label_selector_from_dict(selector)
    assert parsed.empty
    assert parsed.matches({"anything": "x"})
    assert parsed.matches(None)


def test_null_label_selector_dict_matches_nothing() -> None:
    parsed = label_selector_from_dict(None)
    assert not parsed.empty
    assert not parsed.matches({})
    assert not parsed.matches(LABELS)


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        (
            {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]},
            '"Equals" is not a valid label selector operator',
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "in", "values": ["x"]}]},
            '"in" is not a valid label selector operator',
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "In"}]},
            "values: Invalid value: []string(nil): "
            "for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]},
            "values: Invalid value: []string(nil): "
            "for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            'values: Invalid value: []string{"x"}: '
            "values set must be empty for exists and does not exist",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": ["x"]}]},
            'values: Invalid value: []string{"x"}: '
            "values set must be empty for exists and does not exist",
        ),
        ({"matchLabels": {"a b": "x"}}, f'key: Invalid value: "a b": name part {QNAME_HINT}'),
        ({"matchLabels": {"a": "x y"}}, f'values[0][a]: Invalid value: "x y": {VALUE_HINT}'),
        (
            {"matchExpressions": [{"key": "-a", "operator": "In", "values": ["-x"]}]},
            f'[key: Invalid value: "-a": name part {QNAME_HINT}, '
            f'values[0][-a]: Invalid value: "-x": {VALUE_HINT}]',
        ),
    ],
)
def test_invalid_label_selector_dict_is_rejected(selector: dict[str, Any], message: str) -> None:
    with pytest.raises(SelectorError) as exc_info:
        label_selector_from_dict(selector)
    assert str(exc_info.value) == message


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": {"a": 1}},
        {"matchLabels": ["a"]},
        {"matchExpressions": {"key": "a"}},
        {"matchExpressions": ["a"]},
        {"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]},
    ],
)
def test_malformed_label_selector_dict_is_rejected(selector: dict[str, Any]) -> None:
    with pytest.raises(SelectorError):
        label_selector_from_dict(selector)


# ------------------------------------------------------------------------ field selectors

POD = {
    "metadata": {"name": "web-1", "namespace": "prod"},
    "spec": {"nodeName": "node-a", "restartPolicy": "Always"},
    "status": {"phase": "Running"},
}
POD_FIELDS = default_field_labels("Pod")


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=web-1", True),
        ("metadata.name==web-1", True),
        ("metadata.name=web-2", False),
        ("metadata.name!=web-2", True),
        ("metadata.name!=web-1", False),
        ("metadata.namespace=prod,status.phase=Running", True),
        ("metadata.namespace=prod,status.phase!=Running", False),
        ("spec.nodeName=node-a", True),
        # a missing field evaluates to the empty string
        ("spec.schedulerName=", True),
        ("status.podIP!=", False),
        ("status.podIP=10.0.0.1", False),
        # empty terms are ignored
        ("metadata.name=web-1,", True),
    ],
)
def test_field_selector_matches_like_kube(selector: str, expected: bool) -> None:
    assert parse_field_selector(selector, POD_FIELDS).matches(POD) is expected


@pytest.mark.parametrize("selector", [None, ""])
def test_empty_field_selector_matches_everything(selector: str | None) -> None:
    parsed = parse_field_selector(selector, frozenset())
    assert parsed == FieldSelector()
    assert parsed.empty
    assert parsed.matches({})


@pytest.mark.parametrize(
    ("selector", "obj", "expected"),
    [
        (r"metadata.name=a\,b", {"metadata": {"name": "a,b"}}, True),
        (r"metadata.name=a\=b", {"metadata": {"name": "a=b"}}, True),
        (r"metadata.name=a\\b", {"metadata": {"name": "a\\b"}}, True),
        (r"metadata.name!=a\,b,metadata.namespace=x", {"metadata": {"namespace": "x"}}, True),
    ],
)
def test_field_selector_unescapes_values(
    selector: str, obj: dict[str, Any], expected: bool
) -> None:
    assert parse_field_selector(selector, POD_FIELDS).matches(obj) is expected


@pytest.mark.parametrize(
    ("kind", "selector", "obj", "expected"),
    [
        ("Event", "source=kubelet", {"source": {"component": "kubelet"}}, True),
        ("Event", "involvedObject.kind=Pod", {"involvedObject": {"kind": "Pod"}}, True),
        ("Event", "type!=Normal", {"type": "Warning"}, True),
        ("Secret", "type=Opaque", {"type": "Opaque"}, True),
        ("Namespace", "status.phase=Active", {"status": {"phase": "Active"}}, True),
        ("ReplicaSet", "status.replicas=0", {"status": {"replicas": 0}}, True),
        ("ReplicationController", "status.replicas=3", {"status": {"replicas": 2}}, False),
    ],
)
def test_field_selector_reads_kind_specific_fields(
    kind: str, selector: str, obj: dict[str, Any], expected: bool
) -> None:
    assert parse_field_selector(selector, default_field_labels(kind)).matches(obj) is expected


INVALID_FIELD_SELECTORS = [
    ("spec.replicas=1", "field label not supported: spec.replicas"),
    ("metadata.name=a,spec.bogus!=b", "field label not supported: spec.bogus"),
    ("metadata.name = a", "field label not supported: metadata.name "),
    ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
    ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
    ("metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
    (r"metadata.name=a\x", "invalid field selector: invalid escape sequence: \\x"),
    ("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
]


@pytest.mark.parametrize(("selector", "message"), INVALID_FIELD_SELECTORS)
def test_invalid_field_selector_is_rejected_with_kube_message(selector: str, message: str) -> None:
    with pytest.raises(SelectorError) as exc_info:
        parse_field_selector(selector, POD_FIELDS)
    assert str(exc_info.value) == message


@pytest.mark.parametrize(
    ("kind", "own_labels"),
    [
        ("ConfigMap", ""),
        ("Deployment", ""),
        (
            "Pod",
            "spec.nodeName spec.restartPolicy spec.schedulerName spec.serviceAccountName "
            "status.phase status.podIP status.nominatedNodeName",
        ),
        ("Secret", "type"),
        ("Namespace", "status.phase"),
        ("ReplicaSet", "status.replicas"),
        ("ReplicationController", "status.replicas"),
        (
            "Event",
            "involvedObject.kind involvedObject.namespace involvedObject.name "
            "involvedObject.uid involvedObject.apiVersion involvedObject.resourceVersion "
            "involvedObject.fieldPath reason reportingComponent source type",
        ),
    ],
)
def test_default_field_labels_lists_what_kube_supports(kind: str, own_labels: str) -> None:
    """metadata.name and metadata.namespace, and the kind's own labels."""
    expected = {"metadata.name", "metadata.namespace", *own_labels.split()}
    assert default_field_labels(kind) == frozenset(expected)


def test_field_selector_string_form_is_sorted_and_escaped() -> None:
    parsed = parse_field_selector(r"metadata.namespace!=b,metadata.name=a\,z", POD_FIELDS)
    assert str(parsed) == r"metadata.name=a\,z,metadata.namespace!=b"


def test_label_selector_type_is_exported() -> None:
    assert isinstance(parse_label_selector("a"), LabelSelector)


# ------------------------------------------------------------ the same, through the API


@pytest.mark.parametrize(
    ("option", "selector", "message"),
    [
        *(
            pytest.param("label_selector", *case, id=f"label:{case[0]}")
            for case in INVALID_LABEL_SELECTORS
        ),
        *(
            pytest.param("field_selector", *case, id=f"field:{case[0]}")
            for case in INVALID_FIELD_SELECTORS
        ),
    ],
)
def test_a_list_with_an_invalid_selector_is_a_400_with_kube_message(
    core: client.CoreV1Api, option: str, selector: str, message: str
) -> None:
    body = expect_error(400, core.list_namespaced_pod, "default", **{option: selector})
    assert body["reason"] == "BadRequest"
    assert body["message"] == message


@pytest.mark.parametrize(("selector", "expected"), LABEL_SELECTOR_MATCHES)
def test_a_list_by_label_selector_matches_like_kube(
    core: client.CoreV1Api, selector: str, expected: bool
) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "labelled", "labels": LABELS}}
    )
    items = core.list_namespaced_config_map("default", label_selector=selector).items
    # (the real cluster's root-CA ConfigMap, unlabelled, matches the negative selectors)
    assert [i.metadata.name for i in items if i.metadata.name != "kube-root-ca.crt"] == (
        ["labelled"] if expected else []
    )
