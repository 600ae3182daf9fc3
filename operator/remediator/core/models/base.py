"""What every resource of `remediator.dev/v1alpha1` shares: the group, the literal types,
the validated string types, durations, and the base models. Purely computational."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "API_VERSION",
    "CONFIGMAP_KEY",
    "DNS1123_LABEL",
    "DNS1123_SUBDOMAIN",
    "DURATION",
    "GROUP",
    "LABEL_KEY",
    "SEVERITIES",
    "VERSION",
    "ActionName",
    "ApprovalMode",
    "Condition",
    "Duration",
    "LabelKey",
    "LongText",
    "Metadata",
    "Model",
    "Phase",
    "ResourceName",
    "Severity",
    "ShortText",
    "WorkloadKind",
    "WorkloadName",
    "parse_duration",
]

GROUP = "remediator.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

Severity = Literal["P0", "P1", "P2", "P3"]
SEVERITIES: tuple[Severity, ...] = ("P0", "P1", "P2", "P3")
Phase = Literal[
    "Pending",
    "Matched",
    "AwaitingApproval",
    "Remediating",
    "Verifying",
    "Remediated",
    "NoPolicy",
    "Rejected",
    "Blocked",
    "DryRun",
    "Failed",
    "Escalated",
    "Resolved",
]
ActionName = Literal[
    "rollback",
    "restartPods",
    "scale",
    "circuitBreaker",
    "suspendCronJobs",
    "isolatePods",
    "notify",
]
WorkloadKind = Literal["Deployment", "StatefulSet"]
ApprovalMode = Literal["auto", "required", "notifyOnly"]

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
DURATION = r"^([0-9]+(ms|s|m|h|d))+$"
CONFIGMAP_KEY = r"^[-._a-zA-Z0-9]+$"

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration such as `90s`, `5m`, `1h30m` or `2d`."""
    if not re.fullmatch(DURATION, text):
        raise ValueError(f"invalid duration {text!r}: use a number and a unit (ms, s, m, h, d)")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d)", text))


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


def _check_regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as e:
        raise ValueError(f"invalid regular expression {text!r}: {e}") from None
    return text


ResourceName = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)
]
WorkloadName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=DNS1123_LABEL)]
LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=317, pattern=LABEL_KEY)]
Duration = Annotated[
    str, StringConstraints(pattern=DURATION, max_length=32), AfterValidator(_check_duration)
]
ShortText = Annotated[str, StringConstraints(max_length=1024)]
LongText = Annotated[str, StringConstraints(max_length=4096)]


class Model(BaseModel):
    """camelCase on the wire, unknown fields refused, python names in code."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        validate_assignment=False,
    )

    def dump(self) -> dict[str, Any]:
        """The wire form: camelCase, no unset optionals."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Metadata(BaseModel):
    """The part of ObjectMeta the operator reads; the rest is kept by the API server."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str = ""
    namespace: str = ""
    uid: str = ""
    generation: int = 0
    resource_version: str = Field("", alias="resourceVersion")
    creation_timestamp: datetime | None = Field(None, alias="creationTimestamp")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class Condition(Model):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: LongText = ""
    last_transition_time: datetime | None = None
    observed_generation: int | None = None
