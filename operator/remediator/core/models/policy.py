"""RemediationPolicy: what may be done, to which workloads, under which guards and
approvals. Purely computational."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .base import (
    CONFIGMAP_KEY,
    SEVERITIES,
    ActionName,
    ApprovalMode,
    Condition,
    Duration,
    LabelKey,
    Metadata,
    Model,
    Phase,
    ResourceName,
    Severity,
    ShortText,
    WorkloadKind,
    WorkloadName,
    _check_regex,
    parse_duration,
)


class TargetBounds(Model):
    """The workloads a policy may act on, as checked on the live object (see PolicyTarget)."""

    selector: dict[LabelKey, Annotated[str, StringConstraints(max_length=63)]] = Field(
        default_factory=dict, description="Labels the workload itself must carry."
    )
    names: list[WorkloadName] = Field(default_factory=list, description="Allowed names.")


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
        None, description="suspendCronJobs: resume them after this long (default: a human does)."
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


class EvidenceQuery(Model):
    """A PromQL query whose value is recorded with the evidence."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=63)]
    query: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class EvidencePolicy(Model):
    """What is captured of the target just before a step changes it: its pods (phase,
    restarts, last termination), their logs, the recent Events, the revision history and
    PromQL values, kept in a Secret the Incident owns."""

    capture: Literal["auto", "always", "never"] = Field(
        "auto",
        description="auto: before rollback, restartPods, isolatePods and suspendCronJobs (not"
        " before a scale alone); always: before any step that changes something; never.",
    )
    budget: Duration = Field(
        "2s",
        description="Longest the capture may delay the action; what has not arrived by then"
        " is recorded as missing (at most 30s).",
    )
    max_pods: int = Field(5, ge=1, le=20, description="Pods of the target captured.")
    log_lines: int = Field(
        100,
        ge=0,
        le=2000,
        description="Last lines of each container's log, and of the previous container where"
        " it restarted.",
    )
    max_bytes: int = Field(
        256 * 1024,
        ge=4096,
        le=900 * 1024,
        description="Cap on the whole evidence; logs are cut, with a marker, to fit.",
    )
    queries: list[EvidenceQuery] = Field(
        default_factory=list,
        max_length=10,
        description="PromQL values to record (the preconditions and the verify query too).",
    )

    @model_validator(mode="after")
    def _budget_is_bounded(self) -> EvidencePolicy:
        if parse_duration(self.budget) > 30:
            raise ValueError("budget: at most 30s (the capture delays the action)")
        return self


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
    evidence: EvidencePolicy = Field(
        default_factory=EvidencePolicy,
        description="What is captured of the target before it is changed.",
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
    """What may be done about which alerts, to which workloads of its own namespace."""

    api_version: Literal["remediator.dev/v1alpha1"] = "remediator.dev/v1alpha1"
    kind: Literal["RemediationPolicy"] = "RemediationPolicy"
    metadata: Metadata = Field(default_factory=Metadata)
    spec: RemediationPolicySpec
    status: RemediationPolicyStatus = Field(default_factory=RemediationPolicyStatus)
