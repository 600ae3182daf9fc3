"""The resources of `remediator.dev/v1alpha1`: the one source of truth for their shape.

`Incident`, `RemediationPolicy` and `Approval` are pydantic models here; the CRDs in
`crds/` are generated from them (`remediator crds`) and a test fails when they drift, so
what the API server validates and what the operator parses are the same thing. Models
forbid unknown fields and use the camelCase names of the Kubernetes API. Purely
computational: only the standard library and pydantic.
"""

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
    model_validator,
)
from pydantic.alias_generators import to_camel

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


# ------------------------------------------------------------------------------ Incident
class TargetRef(Model):
    """A workload in the Incident's namespace."""

    kind: WorkloadKind = Field("Deployment", description="Kind of the workload.")
    name: WorkloadName = Field(description="Name of the workload (DNS-1123 label).")


class IncidentSpec(Model):
    source: Literal["alertmanager", "manual"] = Field(
        "manual", description="Who reported it: the Alertmanager bridge or a person."
    )
    alertname: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        description="The alert's name; policies match on it."
    )
    severity: Severity = Field(description="P0 (critical) to P3 (low), as in the playbook.")
    summary: LongText = Field("", description="One line for humans.")
    labels: dict[str, Annotated[str, StringConstraints(max_length=1024)]] = Field(
        default_factory=dict, description="The alert's labels; policies match on them."
    )
    annotations: dict[str, LongText] = Field(default_factory=dict)
    fingerprint: Annotated[str, StringConstraints(max_length=64)] = ""
    starts_at: datetime | None = None
    alert_status: Literal["firing", "resolved"] = Field(
        "firing", description="`resolved` cancels a pending plan and closes the incident."
    )
    target: TargetRef | None = Field(
        None, description="Explicit target; else the policy takes it from a label."
    )


class PlannedStep(Model):
    """One action with the concrete state it will set, fixed before anything changes."""

    index: int = Field(ge=0)
    action: ActionName
    target: str = Field(description="What it acts on, e.g. `Deployment/checkout`.")
    summary: ShortText = ""
    desired: dict[str, Any] = Field(
        default_factory=dict,
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
        description="The action's desired state (applying it twice changes nothing).",
    )


class TargetBounds(Model):
    """The workloads a policy may act on, as checked on the live object (see PolicyTarget)."""

    selector: dict[LabelKey, Annotated[str, StringConstraints(max_length=63)]] = Field(
        default_factory=dict, description="Labels the workload itself must carry."
    )
    names: list[WorkloadName] = Field(default_factory=list, description="Allowed names.")


class PlanBinding(Model):
    """What a plan was made for: an approval of the plan holds for exactly this incident
    (its uid: a re-created Incident is another one), this severity, this spec and this
    version of the policy. The plan hash covers it."""

    incident_uid: str = Field(description="The Incident's metadata.uid.")
    severity: Severity
    spec_digest: str = Field(description="Hash of the spec the plan was made from.")
    policy_uid: str = ""
    policy_generation: int = 0
    bounds: TargetBounds | None = Field(
        None, description="The policy's target bounds, checked again just before acting."
    )


class Plan(Model):
    hash: Annotated[str, StringConstraints(max_length=64)] = Field(
        description="Approvals bind to this hash of the steps and the binding."
    )
    steps: list[PlannedStep] = Field(default_factory=list)
    created_at: datetime | None = None
    binding: PlanBinding | None = None


ActionState = Literal["Pending", "Applying", "Applied", "Skipped", "Failed", "Reverted", "DryRun"]


class ActionRecord(Model):
    index: int = Field(ge=0)
    action: ActionName
    target: str = ""
    state: ActionState = "Pending"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: LongText = ""
    revert: dict[str, Any] | None = Field(
        None,
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
        description="What restores the previous state, where the action records it.",
    )
    revert_at: datetime | None = None


class ApprovalRecord(Model):
    name: str = Field(description="The Approval object.")
    approver: ShortText
    decision: Literal["approve", "reject"]
    plan_hash: str = ""
    reason: ShortText = ""
    at: datetime | None = None
    counted: bool = Field(True, description="False when ignored (stale plan, duplicate, ...).")


class Condition(Model):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: LongText = ""
    last_transition_time: datetime | None = None
    observed_generation: int | None = None


class TimelineEntry(Model):
    time: datetime
    reason: str
    message: LongText = ""
    actor: ShortText = "remediator"


class IncidentStatus(Model):
    phase: Phase = "Pending"
    message: LongText = ""
    policy: str | None = None
    action: str | None = Field(None, description="The plan's actions, for the printer column.")
    plan: Plan | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    approvals: list[ApprovalRecord] = Field(default_factory=list)
    respond_by: datetime | None = None
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    verification: VerificationStatus | None = Field(
        None, description="The PromQL check after acting (phase Verifying and after)."
    )
    seal: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        None,
        description="The operator's HMAC over this status and the Incident's uid: a status"
        " written by anyone else does not verify, and the operator acts on none of it.",
    )


class Incident(Model):
    api_version: Literal["remediator.dev/v1alpha1"] = "remediator.dev/v1alpha1"
    kind: Literal["Incident"] = "Incident"
    metadata: Metadata = Field(default_factory=Metadata)
    spec: IncidentSpec
    status: IncidentStatus = Field(default_factory=IncidentStatus)


# --------------------------------------------------------------------- RemediationPolicy
class LabelExpression(Model):
    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Regex"]
    values: list[Annotated[str, StringConstraints(max_length=1024)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelExpression:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"values: required for operator {self.operator}")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"values: must be empty for operator {self.operator}")
        if self.operator == "Regex":
            if len(self.values) != 1:
                raise ValueError("values: operator Regex takes exactly one pattern")
            _check_regex(self.values[0])
        return self


class Match(Model):
    alertnames: list[Annotated[str, StringConstraints(min_length=1, max_length=253)]] = Field(
        default_factory=list, description="Any of these alert names (empty: any)."
    )
    severities: list[Severity] = Field(
        default_factory=list, description="Any of these severities (empty: any)."
    )
    labels: dict[LabelKey, Annotated[str, StringConstraints(max_length=1024)]] = Field(
        default_factory=dict, description="Labels that must be equal."
    )
    expressions: list[LabelExpression] = Field(
        default_factory=list, description="Set and regex conditions on labels."
    )


class LabelSelector(Model):
    """Equality-based label selection (`matchLabels`), as in a Kubernetes selector."""

    match_labels: dict[LabelKey, Annotated[str, StringConstraints(max_length=63)]] = Field(
        min_length=1, description="Labels the selected objects must all carry."
    )


class PolicyTarget(Model):
    """Which workload the policy acts on. Labels come from metrics the applications expose
    themselves, so a name taken from a label is bounded by `selector` (labels on the
    workload itself) and/or `names`, both checked on the live object when planning and
    again just before acting. A fixed `name` is never overridden by an Incident."""

    kind: WorkloadKind = "Deployment"
    name_from_label: LabelKey | None = Field(
        None, description="The incident label holding the workload's name, e.g. `deployment`."
    )
    name: WorkloadName | None = Field(None, description="A fixed workload name.")
    selector: LabelSelector | None = Field(
        None,
        description="Act only on a workload whose own labels include these, e.g."
        ' `remediator.dev/managed: "true"`.',
    )
    names: list[WorkloadName] | None = Field(
        None, min_length=1, max_length=100, description="Act only on workloads of these names."
    )

    @model_validator(mode="after")
    def _one_source(self) -> PolicyTarget:
        if (self.name_from_label is None) == (self.name is None):
            raise ValueError("exactly one of nameFromLabel and name must be set")
        if self.name is not None and self.names is not None:
            raise ValueError("names: only with nameFromLabel (a fixed name is its own bound)")
        return self

    def bounds(self) -> TargetBounds | None:
        """The bounds to check on the live workload, None when there are none."""
        if self.selector is None and not self.names:
            return None
        return TargetBounds(
            selector=dict(self.selector.match_labels) if self.selector else {},
            names=list(self.names or []),
        )

    @property
    def bounded(self) -> bool:
        """Whether an incident label alone cannot pick any workload of the namespace."""
        return self.name is not None or self.bounds() is not None


class SecretKeyRef(Model):
    """A key of a Secret in the policy's namespace."""

    name: ResourceName
    key: Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=CONFIGMAP_KEY)]


NOTIFY_DEFAULT_EVENTS: tuple[Phase, ...] = (
    "AwaitingApproval",
    "Blocked",
    "Failed",
    "Escalated",
    "Rejected",
)


class Notifications(Model):
    """Where to tell people about an incident's transitions (best effort, never blocking)."""

    webhook_secret_ref: SecretKeyRef = Field(
        description="The Secret key holding the webhook URL (Slack-compatible JSON POST)."
    )
    events: list[Phase] = Field(
        default_factory=lambda: list(NOTIFY_DEFAULT_EVENTS),
        description="Phases to notify on entering (default: the escalations AwaitingApproval,"
        " Blocked, Failed, Escalated, Rejected; add Remediating, Remediated, ... for status"
        " updates).",
    )


class Step(Model):
    """One action. Which fields apply depends on `action`; the others must be unset."""

    action: ActionName
    # rollback
    to_revision: int | None = Field(None, ge=1, description="rollback: revision to restore.")
    only_if_rolled_out_within: Duration | None = Field(
        None, description="rollback: act only if the current revision is this recent."
    )
    # restartPods
    mode: Literal["rolling", "evict"] | None = Field(
        None, description="restartPods: rolling restart (default) or eviction of pods."
    )
    # scale
    to: int | None = Field(None, ge=0, description="scale: absolute replica count.")
    by: int | None = Field(None, description="scale: replicas to add (or remove).")
    factor: float | None = Field(None, gt=0, le=10, description="scale: multiply replicas.")
    min: int | None = Field(None, ge=0, description="scale: lower bound.")
    max: int | None = Field(None, ge=1, le=1000, description="scale: upper bound.")
    # circuitBreaker
    config_map: ResourceName | None = Field(None, description="circuitBreaker: ConfigMap name.")
    key: Annotated[str, StringConstraints(max_length=253, pattern=CONFIGMAP_KEY)] | None = None
    value: ShortText | None = Field(None, description="circuitBreaker: value to set (`open`).")
    revert_after: Duration | None = Field(
        None,
        description="circuitBreaker: restore the previous value after this long;"
        " isolatePods: delete the NetworkPolicy after this long (default: it stays).",
    )
    # suspendCronJobs
    selector: LabelSelector | None = Field(
        None, description="suspendCronJobs: the CronJobs of the namespace with these labels."
    )
    cron_jobs: list[ResourceName] | None = Field(
        None, max_length=50, description="suspendCronJobs: CronJobs by name."
    )
    resume_after: Duration | None = Field(
        None,
        description="suspendCronJobs: resume the CronJobs it suspended after this long"
        " (default: they stay suspended until a human resumes them).",
    )
    # notify
    webhook_secret_ref: SecretKeyRef | None = Field(
        None, description="notify: the Secret key holding the webhook URL."
    )
    message: ShortText | None = Field(None, description="notify: text added to the message.")

    @model_validator(mode="after")
    def _fields_fit_action(self) -> Step:
        allowed = {
            "rollback": {"to_revision", "only_if_rolled_out_within"},
            "restartPods": {"mode"},
            "scale": {"to", "by", "factor", "min", "max"},
            "circuitBreaker": {"config_map", "key", "value", "revert_after"},
            "suspendCronJobs": {"selector", "cron_jobs", "resume_after"},
            "isolatePods": {"revert_after"},
            "notify": {"webhook_secret_ref", "message"},
        }[self.action]
        for name in type(self).model_fields:
            if name != "action" and getattr(self, name) is not None and name not in allowed:
                raise ValueError(f"{to_camel(name)}: not a field of action {self.action}")
        if self.action == "scale":
            given = [n for n in ("to", "by", "factor") if getattr(self, n) is not None]
            if len(given) != 1:
                raise ValueError("scale takes exactly one of to, by, factor")
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ValueError("min: must not exceed max")
        if self.action == "circuitBreaker" and (self.config_map is None or self.key is None):
            raise ValueError("circuitBreaker needs configMap and key")
        if self.action == "suspendCronJobs" and (self.selector is None) == (not self.cron_jobs):
            raise ValueError("suspendCronJobs takes exactly one of selector, cronJobs")
        if self.action == "notify" and self.webhook_secret_ref is None:
            raise ValueError("notify needs webhookSecretRef")
        return self


class ApprovalRule(Model):
    mode: ApprovalMode
    approvers: int = Field(1, ge=1, le=5, description="Distinct approvers needed.")


class ApprovalPolicy(Model):
    p0: ApprovalRule | None = Field(None, alias="P0")
    p1: ApprovalRule | None = Field(None, alias="P1")
    p2: ApprovalRule | None = Field(None, alias="P2")
    p3: ApprovalRule | None = Field(None, alias="P3")
    approver_groups: list[ShortText] = Field(
        default_factory=list, description="If set, approvers must belong to one of these groups."
    )

    def rule(self, severity: Severity) -> ApprovalRule:
        explicit: ApprovalRule | None = getattr(self, severity.lower())
        if explicit is not None:
            return explicit
        return ApprovalRule(mode="required" if severity in ("P0", "P1") else "auto")


class PromCheck(Model):
    """A PromQL query whose every returned sample must satisfy `operator threshold`."""

    query: Annotated[str, StringConstraints(min_length=1, max_length=4096)] = Field(
        description="PromQL; an empty result never satisfies the check (fail closed)."
    )
    operator: Literal["<", "<=", ">", ">=", "==", "!="]
    threshold: float
    description: ShortText = ""


class Verify(PromCheck):
    """After acting, poll the query until the condition holds, or escalate (and revert)."""

    within: Duration = Field("5m", description="How long the metrics get to recover.")
    interval: Duration = Field("15s", description="How often to query.")
    revert_on_failure: bool = Field(
        True, description="Restore recorded previous states (scale, circuitBreaker) on failure."
    )


class VerificationStatus(Model):
    """Progress of the `verify` check; the check is copied from the policy when acting ends,
    so that editing the policy does not change a verification under way."""

    check: Verify
    started_at: datetime
    deadline: datetime = Field(description="Escalate if the check does not hold by then.")
    last_check_at: datetime | None = None
    checks: int = Field(0, ge=0, description="Queries made so far.")
    observed: ShortText = Field("", description="What the last query returned.")
    error: ShortText = Field("", description="Why the last query got no answer, if it did not.")


class Guards(Model):
    cooldown: Duration = Field("10m", description="Minimum time between actions on a target.")
    max_actions_per_target_per_hour: int = Field(3, ge=1, le=100)
    max_actions_per_policy_per_hour: int = Field(10, ge=1, le=1000)
    preconditions: list[PromCheck] = Field(
        default_factory=list,
        max_length=10,
        description="PromQL checks that must all hold before acting (Prometheus down: Blocked).",
    )


class RemediationPolicySpec(Model):
    match: Match
    priority: int = Field(0, ge=-1000, le=1000, description="Higher wins.")
    target: PolicyTarget
    steps: list[Step] = Field(min_length=1, max_length=10)
    approval: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    guards: Guards = Field(default_factory=Guards)
    verify: Verify | None = Field(None, description="PromQL check that the action worked.")
    dry_run: bool = Field(False, description="Record what would happen; change nothing.")
    notifications: Notifications | None = Field(
        None, description="Webhook notifications of the incident's transitions."
    )

    @model_validator(mode="after")
    def _isolation_is_never_automatic(self) -> RemediationPolicySpec:
        if not any(s.action == "isolatePods" for s in self.steps):
            return self
        for severity in SEVERITIES:
            rule: ApprovalRule | None = getattr(self.approval, severity.lower())
            if rule is not None and rule.mode == "auto":
                raise ValueError(
                    f"approval.{severity}.mode: a policy with an isolatePods step always needs"
                    " a human approval; use required (or notifyOnly), not auto"
                )
        return self


class RemediationPolicyStatus(Model):
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = None


class RemediationPolicy(Model):
    api_version: Literal["remediator.dev/v1alpha1"] = "remediator.dev/v1alpha1"
    kind: Literal["RemediationPolicy"] = "RemediationPolicy"
    metadata: Metadata = Field(default_factory=Metadata)
    spec: RemediationPolicySpec
    status: RemediationPolicyStatus = Field(default_factory=RemediationPolicyStatus)


# ------------------------------------------------------------------------------ Approval
class ApprovalSpec(Model):
    incident: ResourceName = Field(description="The Incident, in the same namespace.")
    decision: Literal["approve", "reject"]
    plan_hash: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The plan this decision was made on (`status.plan.hash`)."
    )
    reason: ShortText = ""
    approver: ShortText | None = Field(
        None, description="Stamped by the admission webhook from the requester's identity."
    )
    approver_groups: list[ShortText] = Field(
        default_factory=list, description="Stamped by the admission webhook."
    )


class Approval(Model):
    api_version: Literal["remediator.dev/v1alpha1"] = "remediator.dev/v1alpha1"
    kind: Literal["Approval"] = "Approval"
    metadata: Metadata = Field(default_factory=Metadata)
    spec: ApprovalSpec
