"""Alertmanager payloads, and how an alert becomes an Incident: table-driven."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from remediator.core.alerts import (
    DEFAULT_SEVERITY_MAP,
    Alert,
    PayloadError,
    incident_for,
    incident_name,
    merge_severity_map,
    parse_payload,
    route,
    severity_of,
)
from remediator.core.models import DNS1123_LABEL, Incident, Severity
from remediator.core.times import precise_time
from support.alertmanager import alert, payload


def without(body: dict[str, Any], *path: str | int) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target: Any = body
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return body


# ------------------------------------------------------------------------ parsing
def test_a_full_payload_parses() -> None:
    parsed = parse_payload(payload())
    assert parsed.version == "4"
    assert parsed.receiver == "remediator"
    assert parsed.external_url == "http://alertmanager:9093"
    assert parsed.group_key == '{}:{alertname="HighErrorRate"}'
    assert parsed.truncated_alerts == 0
    (one,) = parsed.alerts
    assert one.alertname == "HighErrorRate"
    # nanoseconds, as Alertmanager sends them, are kept to the microsecond
    assert one.starts_at == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert one.ends_at is not None and one.ends_at.year == 1
    assert one.generator_url.startswith("http://prometheus")


def test_unknown_fields_are_ignored_and_optional_ones_default() -> None:
    body = payload(alert(extra="x"), future="field")
    for key in ("groupLabels", "commonLabels", "commonAnnotations", "truncatedAlerts"):
        del body[key]
    parsed = parse_payload(body)
    assert parsed.truncated_alerts == 0
    assert parsed.common_labels == {}


BAD_PAYLOADS: list[tuple[str, Any, str]] = [
    ("not an object", [1, 2], ""),
    ("no version", without(payload(), "version"), "version"),
    ("version 3", payload(version="3"), "version"),
    ("no alerts", without(payload(), "alerts"), "alerts"),
    ("alerts not a list", payload(alerts={"a": 1}), "alerts"),
    ("bad status", payload(status="pending"), "status"),
    ("bad alert status", payload(alert(status="ok")), "alerts.0.status"),
    ("no startsAt", payload(without(alert(), "startsAt")), "alerts.0.startsAt"),
    ("bad startsAt", payload(alert(startsAt="yesterday")), "alerts.0.startsAt"),
    ("naive startsAt", payload(alert(startsAt="2024-05-01T10:00:00")), "alerts.0.startsAt"),
    ("no fingerprint", payload(without(alert(), "fingerprint")), "alerts.0.fingerprint"),
    ("empty fingerprint", payload(alert(fingerprint="")), "alerts.0.fingerprint"),
    ("odd fingerprint", payload(alert(fingerprint="a/b")), "alerts.0.fingerprint"),
    ("no alertname", payload(alert(labels={"severity": "P1"})), "alerts.0.labels"),
    (
        "alertname too long",
        payload(alert(labels={"alertname": "A" * 254})),
        "alerts.0.labels",
    ),
    ("label not a string", payload(alert(labels={"alertname": "A", "n": 1})), "alerts.0.labels.n"),
    (
        "label value too long",
        payload(alert(labels={"alertname": "A", "x": "v" * 1025})),
        "alerts.0.labels.x",
    ),
    (
        "label key too long",
        payload(alert(labels={"alertname": "A", "k" * 257: "v"})),
        "alerts.0.labels",
    ),
    (
        "too many labels",
        payload(alert(labels={"alertname": "A", **{f"l{i}": "v" for i in range(64)}})),
        "alerts.0.labels",
    ),
    (
        "annotation too long",
        payload(alert(annotations={"description": "d" * 4097})),
        "alerts.0.annotations.description",
    ),
    ("negative truncatedAlerts", payload(truncatedAlerts=-1), "truncatedAlerts"),
    ("second alert bad", payload(alert(), alert(status=None)), "alerts.1.status"),
]


@pytest.mark.parametrize(
    ("data", "location"),
    [pytest.param(data, loc, id=name) for name, data, loc in BAD_PAYLOADS],
)
def test_bad_payloads_name_the_problem(data: Any, location: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_payload(data)
    locations = [e["loc"] for e in caught.value.errors]
    assert any(loc == location or loc.startswith(location + ".") for loc in locations), locations
    assert location in str(caught.value)


def test_the_alert_limit_is_configurable_and_checked_before_parsing() -> None:
    many = payload(*([alert()] * 11))
    assert len(parse_payload(many, max_alerts=11).alerts) == 11
    with pytest.raises(PayloadError, match="11 alerts in one request; at most 10"):
        parse_payload(many, max_alerts=10)
    # the alerts themselves are not even looked at
    with pytest.raises(PayloadError) as caught:
        parse_payload(payload(*([{}] * 1001)))
    assert [e["loc"] for e in caught.value.errors] == ["alerts"]


def test_error_reports_are_bounded() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_payload(payload(*([{"labels": {"k" * 5000: "v"}}] * 50)))
    assert len(caught.value.errors) <= 20
    assert all(len(e["loc"]) < 200 for e in caught.value.errors)
    assert "more" in str(caught.value)


# ------------------------------------------------------------------------- naming
T0 = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("fp1", T0), ("fp1", T0), True),
        # the same instant in another zone is the same alert
        (("fp1", T0), ("fp1", T0.astimezone(timezone(timedelta(hours=2)))), True),
        (("fp1", T0), ("fp1", T0.replace(tzinfo=None)), True),
        (("fp1", T0), ("fp2", T0), False),
        (("fp1", T0), ("fp1", T0 + timedelta(microseconds=1)), False),
        (("fp1", T0), ("fp1", T0 + timedelta(hours=1)), False),
    ],
)
def test_incident_names_are_deterministic(
    a: tuple[str, datetime], b: tuple[str, datetime], same: bool
) -> None:
    assert (incident_name(*a) == incident_name(*b)) is same


def test_incident_names_are_dns_labels() -> None:
    name = incident_name("c4d2a7e9f0b1a2b3", T0)
    assert re.fullmatch(DNS1123_LABEL, name)
    assert re.fullmatch(r"am-[0-9a-f]{16}", name)
    assert precise_time(T0) == "2024-05-01T10:00:00.123456Z"


# ----------------------------------------------------------------------- severity
CUSTOM: dict[str, Severity] = {"critical": "P0", "sev1": "P0", "warning": "P1"}


@pytest.mark.parametrize(
    ("labels", "mapping", "default", "expected"),
    [
        ({"severity": "page"}, DEFAULT_SEVERITY_MAP, "P3", "P0"),
        ({"severity": "critical"}, DEFAULT_SEVERITY_MAP, "P3", "P1"),
        ({"severity": "CRITICAL"}, DEFAULT_SEVERITY_MAP, "P3", "P1"),
        ({"severity": "high"}, DEFAULT_SEVERITY_MAP, "P3", "P1"),
        ({"severity": "error"}, DEFAULT_SEVERITY_MAP, "P3", "P2"),
        ({"severity": "warning"}, DEFAULT_SEVERITY_MAP, "P3", "P2"),
        ({"severity": "info"}, DEFAULT_SEVERITY_MAP, "P3", "P3"),
        ({"severity": "none"}, DEFAULT_SEVERITY_MAP, "P0", "P3"),
        ({"severity": "P0"}, DEFAULT_SEVERITY_MAP, "P3", "P0"),
        ({"severity": "p2"}, DEFAULT_SEVERITY_MAP, "P3", "P2"),
        ({"severity": " P1 "}, DEFAULT_SEVERITY_MAP, "P3", "P1"),
        ({"priority": "P1"}, DEFAULT_SEVERITY_MAP, "P3", "P1"),
        # severity first; an unknown severity falls through to priority
        ({"severity": "warning", "priority": "P0"}, DEFAULT_SEVERITY_MAP, "P3", "P2"),
        ({"severity": "weird", "priority": "P0"}, DEFAULT_SEVERITY_MAP, "P3", "P0"),
        ({"severity": "weird"}, DEFAULT_SEVERITY_MAP, "P3", "P3"),
        ({"severity": "weird"}, DEFAULT_SEVERITY_MAP, "P2", "P2"),
        ({}, DEFAULT_SEVERITY_MAP, "P3", "P3"),
        ({"severity": "critical"}, CUSTOM, "P3", "P0"),
        ({"severity": "SEV1"}, CUSTOM, "P3", "P0"),
        ({"severity": "warning"}, CUSTOM, "P3", "P1"),
        # literals hold even in a mapping that does not list them
        ({"severity": "P2"}, CUSTOM, "P3", "P2"),
        ({"severity": "info"}, CUSTOM, "P3", "P3"),
    ],
)
def test_severity_of(
    labels: dict[str, str], mapping: dict[str, Severity], default: Severity, expected: str
) -> None:
    assert severity_of(labels, mapping, default) == expected


def test_merged_mapping_overrides_defaults() -> None:
    merged = merge_severity_map({"Critical": "P0"})
    assert severity_of({"severity": "critical"}, merged) == "P0"
    assert severity_of({"severity": "warning"}, merged) == "P2"
    assert DEFAULT_SEVERITY_MAP["critical"] == "P1"  # the defaults are untouched


# ------------------------------------------------------------------------ routing
ALLOWED = frozenset({"shop", "payments"})


@pytest.mark.parametrize(
    ("labels", "allowed", "default", "expected"),
    [
        ({"namespace": "shop"}, ALLOWED, "alerts", "shop"),
        ({"namespace": "payments"}, ALLOWED, None, "payments"),
        ({"namespace": "other"}, ALLOWED, "alerts", "alerts"),
        ({"namespace": "other"}, ALLOWED, None, None),
        ({}, ALLOWED, "alerts", "alerts"),
        ({}, ALLOWED, None, None),
        ({"namespace": ""}, ALLOWED, "", None),
        ({"namespace": "other"}, frozenset({"*"}), "alerts", "other"),
        ({"namespace": "Bad_Name"}, frozenset({"*"}), "alerts", "alerts"),
        ({"namespace": "x" * 64}, frozenset({"*"}), "alerts", "alerts"),
        # protected namespaces only when listed by name
        ({"namespace": "kube-system"}, frozenset({"*"}), "alerts", "alerts"),
        ({"namespace": "kube-system"}, frozenset({"*"}), None, None),
        ({"namespace": "kube-system"}, frozenset({"*", "kube-system"}), "alerts", "kube-system"),
        ({"namespace": "kube-system"}, ALLOWED, "alerts", "alerts"),
    ],
)
def test_route(
    labels: dict[str, str], allowed: frozenset[str], default: str | None, expected: str | None
) -> None:
    assert route(labels, allowed, default) == expected


def test_route_with_custom_protected_namespaces() -> None:
    labels = {"namespace": "secrets"}
    assert route(labels, frozenset({"*"}), "alerts", protected=frozenset({"secrets"})) == "alerts"
    assert route(labels, frozenset({"*"}), "alerts") == "secrets"


# ----------------------------------------------------------------------- incidents
@pytest.mark.parametrize(
    ("annotations", "summary"),
    [
        ({"summary": "short", "description": "long"}, "short"),
        ({"description": "long"}, "long"),
        ({"message": "msg"}, "msg"),
        ({"summary": "  ", "description": "long"}, "long"),
        ({}, ""),
    ],
)
def test_summary_from_annotations(annotations: dict[str, str], summary: str) -> None:
    one = Alert.model_validate(alert(annotations=annotations))
    assert incident_for(one, namespace="shop")["spec"]["summary"] == summary


@pytest.mark.parametrize("status", ["firing", "resolved"])
def test_incident_for_builds_a_valid_incident(status: str) -> None:
    one = Alert.model_validate(alert(status=status))
    body = incident_for(one, namespace="shop", mapping=merge_severity_map({"critical": "P0"}))
    incident = Incident.model_validate(body)  # what the CRD and the operator accept
    assert incident.metadata.name == incident_name("c4d2a7e9f0b1a2b3", T0)
    assert incident.metadata.namespace == "shop"
    spec = incident.spec
    assert spec.source == "alertmanager"
    assert spec.alertname == "HighErrorRate"
    assert spec.severity == "P0"
    assert spec.summary == "5xx above 5%"
    assert spec.labels["deployment"] == "web"
    assert spec.annotations == {"summary": "5xx above 5%", "description": "long text"}
    assert spec.fingerprint == "c4d2a7e9f0b1a2b3"
    assert spec.starts_at == T0
    assert spec.alert_status == status
    assert body["spec"]["startsAt"] == "2024-05-01T10:00:00.123456Z"
    assert body["metadata"]["annotations"]["remediator.dev/generator-url"].startswith("http")


def test_every_accepted_alert_makes_a_valid_incident() -> None:
    """The payload limits are those of the Incident: what parses, the CRD accepts."""
    biggest = alert(
        labels={"alertname": "A" * 253, **{f"l{i}": "v" * 1024 for i in range(63)}},
        annotations={f"a{i}": "d" * 4096 for i in range(64)},
        fingerprint="f" * 64,
    )
    (one,) = parse_payload(payload(biggest)).alerts
    Incident.model_validate(incident_for(one, namespace="shop"))
