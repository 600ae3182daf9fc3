"""Alertmanager webhook payloads (version 4) and how each alert becomes an Incident.

Purely computational (standard library and pydantic): the bridge (`remediator.bridge`)
parses a request with `parse_payload`, then for every alert routes it to a namespace
(`route`), names it (`incident_name`) and builds the Incident body (`incident_for`).

Decisions, in one place:

- **Naming.** ``am-`` and the first 16 hex digits of the SHA-256 of the alert's fingerprint
  and its startsAt (normalised to UTC, RFC 3339 with microseconds). Alertmanager's resends,
  `repeat_interval` repeats and the duplicates of an HA pair carry the same fingerprint and
  startsAt, so they name the same Incident; the same alert firing again later (a new
  startsAt) is a new Incident.
- **Severity.** The `severity` label, else the `priority` label, looked up
  case-insensitively in a mapping: ``page`` → P0; ``critical`` and ``high`` → P1;
  ``error``, ``warning`` and ``medium`` → P2; ``info``, ``low`` and ``none`` → P3; the
  literals ``P0``..``P3`` stand for themselves. The mapping is configurable (entries given
  override the defaults). An alert with no recognised value (``sev1``, ``CRIT``, none at
  all) fails closed: it gets the configured default, P1 unless set otherwise, which needs
  a human approval, and the Incident says so (`UNKNOWN_SEVERITY_ANNOTATION`).
  ``critical`` is P1, not P0, because most rule sets mark every paging alert critical;
  P0 is kept for alerts that say so (``P0``, or ``page``).
- **Routing.** The alert's `namespace` label when that namespace is allowed, else the
  configured default namespace (None: the alert is skipped). ``*`` in the allow-list allows
  any namespace except the protected ones, which are targets only when listed by name.
- **Limits.** Alerts per request (1000 by default), labels and annotations per alert (64
  each), key sizes (256), label values (1024) and annotation values (4096, the size of
  the Incident fields they are copied to). Unknown fields are ignored (Alertmanager may add
  fields within version 4); missing or ill-typed ones are errors naming their location.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .models import API_VERSION, DNS1123_LABEL, SEVERITIES, Severity
from .times import precise_time

MAX_ALERTS = 1000
MAX_LABELS = 64
MAX_ANNOTATIONS = 64
MAX_KEY = 256
MAX_LABEL_VALUE = 1024
MAX_ANNOTATION_VALUE = 4096
MAX_ALERTNAME = 253
MAX_URL = 4096
MAX_ERRORS = 20

SOURCE_LABEL = "remediator.dev/source"
FINGERPRINT_ANNOTATION = "remediator.dev/alert-fingerprint"
UNKNOWN_SEVERITY_ANNOTATION = "remediator.dev/unknown-severity"  # the value not recognised
DEFAULT_UNKNOWN_SEVERITY: Severity = "P1"  # fail closed: P1 needs approval by default
GENERATOR_URL_ANNOTATION = "remediator.dev/generator-url"

DEFAULT_SEVERITY_MAP: Mapping[str, Severity] = MappingProxyType(
    {
        "page": "P0",
        "critical": "P1",
        "high": "P1",
        "error": "P2",
        "warning": "P2",
        "medium": "P2",
        "info": "P3",
        "low": "P3",
        "none": "P3",
        "p0": "P0",
        "p1": "P1",
        "p2": "P2",
        "p3": "P3",
    }
)
SEVERITY_LABELS = ("severity", "priority")
_LITERAL_SEVERITIES: Mapping[str, Severity] = MappingProxyType({s.lower(): s for s in SEVERITIES})
DEFAULT_PROTECTED: frozenset[str] = frozenset({"kube-system", "kube-public", "kube-node-lease"})
ANY_NAMESPACE = "*"

Key = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY)]
LabelValue = Annotated[str, StringConstraints(max_length=MAX_LABEL_VALUE)]
AnnotationValue = Annotated[str, StringConstraints(max_length=MAX_ANNOTATION_VALUE)]
Labels = Annotated[dict[Key, LabelValue], Field(max_length=MAX_LABELS)]
Annotations = Annotated[dict[Key, AnnotationValue], Field(max_length=MAX_ANNOTATIONS)]
Url = Annotated[str, StringConstraints(max_length=MAX_URL)]
AlertStatus = Literal["firing", "resolved"]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Alert(_Wire):
    """One alert of a webhook notification."""

    status: AlertStatus
    labels: Labels
    annotations: Annotations = Field(default_factory=dict)
    starts_at: AwareDatetime = Field(alias="startsAt")
    # "0001-01-01T00:00:00Z" while the alert fires
    ends_at: AwareDatetime | None = Field(None, alias="endsAt")
    generator_url: Url = Field("", alias="generatorURL")
    fingerprint: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")
    ]

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _in_utc_range(cls, moment: datetime | None) -> datetime | None:
        # 0001-01-01T00:00:00+01:00 and 9999-12-31T23:59:59-01:00 parse, but have no UTC
        # spelling (the Incident's name and startsAt are in UTC): a 422, not a crash later
        if moment is not None:
            try:
                moment.astimezone(UTC)
            except OverflowError:
                raise ValueError("the time is out of range once converted to UTC") from None
        return moment

    @field_validator("labels")
    @classmethod
    def _has_alertname(cls, labels: dict[str, str]) -> dict[str, str]:
        name = labels.get("alertname", "")
        if not name:
            raise ValueError("the label alertname is required")
        if len(name) > MAX_ALERTNAME:
            raise ValueError(f"the label alertname is longer than {MAX_ALERTNAME} characters")
        return labels

    @property
    def alertname(self) -> str:
        return self.labels["alertname"]


class Payload(_Wire):
    """The body Alertmanager posts to a webhook receiver (`version` "4")."""

    receiver: Annotated[str, StringConstraints(max_length=MAX_KEY)]
    status: AlertStatus
    alerts: list[Alert]
    group_labels: Labels = Field(default_factory=dict, alias="groupLabels")
    common_labels: Labels = Field(default_factory=dict, alias="commonLabels")
    common_annotations: Annotations = Field(default_factory=dict, alias="commonAnnotations")
    external_url: Url = Field("", alias="externalURL")
    version: Literal["4"]
    group_key: Annotated[str, StringConstraints(max_length=2 * MAX_URL)] = Field(
        "", alias="groupKey"
    )
    truncated_alerts: int = Field(0, ge=0, alias="truncatedAlerts")

    @field_validator("alerts", mode="before")
    @classmethod
    def _not_too_many(cls, alerts: Any, info: ValidationInfo) -> Any:
        # checked before the alerts are parsed, so a huge list costs nothing
        limit = (info.context or {}).get("max_alerts", MAX_ALERTS)
        if isinstance(alerts, list) and len(alerts) > limit:
            raise ValueError(f"{len(alerts)} alerts in one request; at most {limit} are accepted")
        return alerts

    @model_validator(mode="before")
    @classmethod
    def _is_object(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"the payload must be a JSON object, not {type(data).__name__}")
        return data


class PayloadError(ValueError):
    """A payload that is not an Alertmanager v4 notification; `errors` name each problem."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        shown = "; ".join(f"{e['loc'] or '(body)'}: {e['msg']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"invalid Alertmanager payload: {shown}{more}")


def parse_payload(data: Any, *, max_alerts: int = MAX_ALERTS) -> Payload:
    """The payload, validated; `PayloadError` lists every problem with its location."""
    try:
        return Payload.model_validate(data, context={"max_alerts": max_alerts})
    except ValidationError as e:
        # locations can hold keys of the payload: shorten them, and report at most 20
        raise PayloadError(
            [
                {"loc": ".".join(_short(str(part)) for part in error["loc"]), "msg": error["msg"]}
                for error in e.errors(include_url=False)[:MAX_ERRORS]
            ]
        ) from None


def _short(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------ decisions
BRIDGE_NAME_PREFIX = "am-"


def incident_name(fingerprint: str, starts_at: datetime) -> str:
    """The Incident's name: deterministic in (fingerprint, startsAt), a DNS-1123 label."""
    digest = hashlib.sha256(f"{fingerprint}@{precise_time(starts_at)}".encode()).hexdigest()
    return f"{BRIDGE_NAME_PREFIX}{digest[:16]}"


def severity_of(
    labels: Mapping[str, str],
    mapping: Mapping[str, Severity] = DEFAULT_SEVERITY_MAP,
    default: Severity = DEFAULT_UNKNOWN_SEVERITY,
) -> Severity:
    """The severity named by the `severity` (else `priority`) label; `default` if none."""
    known = recognised_severity(labels, mapping)
    return known if known is not None else default


def recognised_severity(
    labels: Mapping[str, str], mapping: Mapping[str, Severity] = DEFAULT_SEVERITY_MAP
) -> Severity | None:
    lowered = {key.lower(): value for key, value in mapping.items()}
    for label in SEVERITY_LABELS:
        value = labels.get(label, "").strip().lower()
        if value in lowered:
            return lowered[value]
        if value in _LITERAL_SEVERITIES:
            return _LITERAL_SEVERITIES[value]
    return None


def unrecognised_severity_value(labels: Mapping[str, str]) -> str:
    """What the alert said its severity was, for the record ("" when it said nothing)."""
    for label in SEVERITY_LABELS:
        if labels.get(label, "").strip():
            return f"{label}={labels[label].strip()[:64]}"
    return "(no severity or priority label)"


def merge_severity_map(overrides: Mapping[str, Severity]) -> dict[str, Severity]:
    """The default mapping with `overrides` on top (keys compared case-insensitively)."""
    merged = dict(DEFAULT_SEVERITY_MAP)
    merged.update({key.lower(): value for key, value in overrides.items()})
    return merged


def route(
    alert_labels: Mapping[str, str],
    allowed: frozenset[str],
    default_namespace: str | None,
    protected: frozenset[str] = DEFAULT_PROTECTED,
) -> str | None:
    """The namespace the alert's Incident goes to, or None when it has nowhere to go."""
    namespace = alert_labels.get("namespace", "")
    if namespace and re.fullmatch(DNS1123_LABEL, namespace) and len(namespace) <= 63:
        if namespace in allowed:
            return namespace
        if ANY_NAMESPACE in allowed and namespace not in protected:
            return namespace
    return default_namespace or None


def summary_of(annotations: Mapping[str, str]) -> str:
    for key in ("summary", "description", "message"):
        text = annotations.get(key, "").strip()
        if text:
            return text[:MAX_ANNOTATION_VALUE]
    return ""


def incident_for(
    alert: Alert,
    *,
    namespace: str,
    mapping: Mapping[str, Severity] = DEFAULT_SEVERITY_MAP,
    default_severity: Severity = DEFAULT_UNKNOWN_SEVERITY,
) -> dict[str, Any]:
    """The Incident body (as the API takes it) that records `alert` in `namespace`."""
    annotations = {FINGERPRINT_ANNOTATION: alert.fingerprint}
    if alert.generator_url:
        annotations[GENERATOR_URL_ANNOTATION] = alert.generator_url
    if recognised_severity(alert.labels, mapping) is None:
        annotations[UNKNOWN_SEVERITY_ANNOTATION] = unrecognised_severity_value(alert.labels)
    return {
        "apiVersion": API_VERSION,
        "kind": "Incident",
        "metadata": {
            "name": incident_name(alert.fingerprint, alert.starts_at),
            "namespace": namespace,
            "labels": {SOURCE_LABEL: "alertmanager"},
            "annotations": annotations,
        },
        "spec": {
            "source": "alertmanager",
            "alertname": alert.alertname,
            "severity": severity_of(alert.labels, mapping, default_severity),
            "summary": summary_of(alert.annotations),
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "fingerprint": alert.fingerprint,
            "startsAt": precise_time(alert.starts_at),
            "alertStatus": alert.status,
        },
    }
