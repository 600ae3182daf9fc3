"""Offline checks of RemediationPolicy documents: the schema, then the rules a reviewer needs.

`remediator validate` runs this on the policy files of a git checkout before they are
merged. The schema check is the pydantic model itself (unknown fields, types, cross-field
rules: exactly what the admission webhook enforces); the semantic lint catches policies
that are valid but wrong or dangerous:

- `schema` (error): the document does not validate against the RemediationPolicy model;
- `not-an-object` (error): a YAML document that is not a mapping with apiVersion and kind;
- `unknown-kind` (error): a `remediator.dev` document that is not a RemediationPolicy;
- `duplicate-name` (error): two policies with the same namespace and name;
- `overlapping-match` (error): two policies of one namespace at equal priority and
  specificity whose matchers can both match one alert (the winner would be decided by
  the names alone);
- `scale-without-max` (error): a `scale` step without `max`;
- `auto-p0-unacknowledged` (error): `approval.P0` (or `P1`) is `auto` without the
  annotation `remediator.dev/allow-auto-p0: "true"` (or `remediator.dev/allow-auto-p1`);
- `target-label-never-set` (error): `target.nameFromLabel` names a label that none of the
  matched alerts sets; `match-label-never-set` (error): `match` requires such a label, so
  the policy never matches; `unknown-alertname` (warning): no known alert has that name
  (these three only when the alerts are known: recorded payloads or rule files);
- `circuit-breaker-without-revert` (warning): a breaker without `revertAfter` stays open
  (unless the policy is annotated `remediator.dev/manual-revert: "true"`: a maintenance
  mode that must stay on until a human lifts it);
- `rollback-without-window` (warning): a `rollback` without `onlyIfRolledOutWithin` also
  rolls back a long-stable release;
- `unbounded-target` (warning): `target.nameFromLabel` without `target.selector` or
  `target.names`: any workload of the namespace an alert label names could be acted on.

Every finding names the file, the object (`RemediationPolicy/name`) and the field
(`spec.steps[0].max`). Purely computational: documents arrive parsed, alerts as a catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from remediator.core.alert_catalog import IMPLICIT_LABELS, LabelCatalog
from remediator.core.matching import can_overlap, specificity
from remediator.core.models import GROUP, RemediationPolicy
from remediator.core.validation import field_errors

Level = Literal["error", "warning"]

ACK_ANNOTATION = {
    "P0": f"{GROUP}/allow-auto-p0",
    "P1": f"{GROUP}/allow-auto-p1",
}
"""Annotations (value `"true"`) that acknowledge a P0 / P1 approval mode of `auto`."""

MANUAL_REVERT_ANNOTATION = f"{GROUP}/manual-revert"
"""Annotation (value `"true"`): the policy's changes stay until a human reverts them."""


@dataclass(frozen=True)
class Document:
    """One YAML document of a file: `index` is its position in the file (0-based)."""

    path: str
    index: int
    body: Any


@dataclass(frozen=True)
class Finding:
    level: Level
    rule: str
    path: str
    obj: str  # "RemediationPolicy/name", or "document 2" when it has no name
    field: str  # "spec.steps[0].max"; "" for the whole object
    message: str

    def __str__(self) -> str:
        where = f"{self.obj} {self.field}" if self.field else self.obj
        return f"{self.path}: {self.level}: {where}: {self.message} [{self.rule}]"

    def to_dict(self) -> dict[str, str]:
        return {
            "level": self.level,
            "rule": self.rule,
            "file": self.path,
            "object": self.obj,
            "field": self.field,
            "message": self.message,
        }


@dataclass(frozen=True)
class Located:
    """A policy that validated, and where it came from."""

    policy: RemediationPolicy
    document: Document

    @property
    def obj(self) -> str:
        return f"RemediationPolicy/{self.policy.metadata.name}"


@dataclass
class Result:
    findings: list[Finding] = field(default_factory=list)
    policies: list[Located] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def ok(self, *, strict: bool = False) -> bool:
        return not (self.findings if strict else self.errors)


def _object_name(document: Document) -> str:
    body = document.body
    if isinstance(body, Mapping):
        kind = body.get("kind") or "object"
        metadata = body.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        if name:
            return f"{kind}/{name}"
        return f"{kind} (document {document.index + 1})"
    return f"document {document.index + 1}"


def _is_policy_document(body: Mapping[str, Any]) -> bool:
    return str(body.get("apiVersion", "")).startswith(f"{GROUP}/")


# --------------------------------------------------------------------------- schema
def parse(documents: Iterable[Document]) -> Result:
    """Validate each document; keep the RemediationPolicies that pass."""
    result = Result()
    for document in documents:
        body = document.body
        if body is None:
            continue  # an empty document (`---` at the end of a file)
        obj = _object_name(document)
        if not isinstance(body, Mapping) or not body.get("apiVersion") or not body.get("kind"):
            result.findings.append(
                Finding(
                    "error",
                    "not-an-object",
                    document.path,
                    obj,
                    "",
                    "not a Kubernetes object (a mapping with apiVersion and kind)",
                )
            )
            continue
        if not _is_policy_document(body):
            continue  # other resources may live next to policies; not ours to judge
        if body.get("kind") != "RemediationPolicy":
            result.findings.append(
                Finding(
                    "error",
                    "unknown-kind",
                    document.path,
                    obj,
                    "kind",
                    f"{body.get('kind')} is not a policy kind; expected RemediationPolicy",
                )
            )
            continue
        try:
            policy = RemediationPolicy.model_validate(body)
        except ValidationError as e:
            for path, message in field_errors(e):
                result.findings.append(
                    Finding("error", "schema", document.path, obj, path, message)
                )
            continue
        if not policy.metadata.name:
            result.findings.append(
                Finding("error", "schema", document.path, obj, "metadata.name", "required")
            )
            continue
        result.policies.append(Located(policy, document))
    return result


# ------------------------------------------------------------------------ semantics
def _finding(located: Located, level: Level, rule: str, path: str, message: str) -> Finding:
    return Finding(level, rule, located.document.path, located.obj, path, message)


def _step_rules(located: Located) -> list[Finding]:
    found = []
    annotations = located.policy.metadata.annotations
    manual_revert = annotations.get(MANUAL_REVERT_ANNOTATION, "").lower() == "true"
    for index, step in enumerate(located.policy.spec.steps):
        where = f"spec.steps[{index}]"
        if step.action == "scale" and step.max is None:
            found.append(
                _finding(
                    located,
                    "error",
                    "scale-without-max",
                    f"{where}.max",
                    "scale needs an upper bound: set max (the most replicas it may set)",
                )
            )
        if step.action == "circuitBreaker" and step.revert_after is None and not manual_revert:
            found.append(
                _finding(
                    located,
                    "warning",
                    "circuit-breaker-without-revert",
                    f"{where}.revertAfter",
                    "without revertAfter the breaker stays open until someone closes it;"
                    " set it to go half-open by itself (or annotate the policy"
                    f' {MANUAL_REVERT_ANNOTATION}: "true" if that is intended)',
                )
            )
        if step.action == "rollback" and step.only_if_rolled_out_within is None:
            found.append(
                _finding(
                    located,
                    "warning",
                    "rollback-without-window",
                    f"{where}.onlyIfRolledOutWithin",
                    "without onlyIfRolledOutWithin a long-stable release is rolled back too;"
                    " the playbook rolls back only after a recent deployment",
                )
            )
    return found


def _target_rules(located: Located) -> list[Finding]:
    target = located.policy.spec.target
    if target.name_from_label is None or target.bounded:
        return []
    return [
        _finding(
            located,
            "warning",
            "unbounded-target",
            "spec.target",
            f'the workload is named by the alert label "{target.name_from_label}" with no'
            " bounds: labels come from metrics the applications expose themselves, so one"
            " service could get another one acted on; bound it with target.selector (e.g."
            ' matchLabels: {remediator.dev/managed: "true"}) and/or target.names',
        )
    ]


def _approval_rules(located: Located) -> list[Finding]:
    found = []
    policy = located.policy
    severities = policy.spec.match.severities
    annotations = policy.metadata.annotations
    for severity, annotation in ACK_ANNOTATION.items():
        rule = getattr(policy.spec.approval, severity.lower())
        if rule is None or rule.mode != "auto":
            continue
        if severities and severity not in severities:
            continue  # the policy never sees this severity
        if annotations.get(annotation, "").lower() == "true":
            continue
        found.append(
            _finding(
                located,
                "error",
                "auto-p0-unacknowledged",
                f"spec.approval.{severity}.mode",
                f"{severity} incidents would be remediated without a human; if that is"
                f' intended, annotate the policy with {annotation}: "true"',
            )
        )
    return found


def _overlap_rules(policies: Sequence[Located]) -> list[Finding]:
    found = []
    for i, one in enumerate(policies):
        for other in policies[i + 1 :]:
            p, q = one.policy, other.policy
            if p.metadata.namespace != q.metadata.namespace:
                continue
            if p.metadata.name == q.metadata.name:
                found.append(
                    _finding(
                        other,
                        "error",
                        "duplicate-name",
                        "metadata.name",
                        f"{p.metadata.name} is also defined in {one.document.path}",
                    )
                )
                continue
            if p.spec.priority != q.spec.priority or specificity(p) != specificity(q):
                continue
            if not can_overlap(p.spec.match, q.spec.match):
                continue
            first, second = sorted((one, other), key=lambda x: x.policy.metadata.name)
            found.append(
                _finding(
                    second,
                    "error",
                    "overlapping-match",
                    "spec.match",
                    f"overlaps {first.obj} (in {first.document.path}) at equal priority"
                    f" {p.spec.priority} and specificity {specificity(p)}: an alert matching both"
                    f" goes to {first.obj} only because its name sorts first; make the matchers"
                    " disjoint or set spec.priority",
                )
            )
    return found


# ------------------------------------------------------------------ known alerts
def _alert_rules(located: Located, catalog: LabelCatalog) -> list[Finding]:
    policy = located.policy
    names = policy.spec.match.alertnames
    if not names:
        return []  # matches any alert: which labels it gets cannot be known
    found = []
    for index, name in enumerate(names):
        if name not in catalog:
            found.append(
                _finding(
                    located,
                    "warning",
                    "unknown-alertname",
                    f"spec.match.alertnames[{index}]",
                    f"no known alert is named {name} (check the spelling against the rules)",
                )
            )
    known = [catalog[n] for n in names if n in catalog]
    if not known or any(labels is None for labels in known):
        return found
    labels = frozenset().union(*(k for k in known if k is not None)) | IMPLICIT_LABELS
    alerts = ", ".join(n for n in names if n in catalog)
    label = policy.spec.target.name_from_label
    if label is not None and label not in labels:
        found.append(
            _finding(
                located,
                "error",
                "target-label-never-set",
                "spec.target.nameFromLabel",
                f'label "{label}" is never set by the matched alerts ({alerts}); they set'
                f" {', '.join(sorted(labels))}",
            )
        )
    for key in policy.spec.match.labels:
        if key not in labels:
            found.append(
                _finding(
                    located,
                    "error",
                    "match-label-never-set",
                    f"spec.match.labels.{key}",
                    f'label "{key}" is never set by the matched alerts ({alerts}):'
                    " the policy never matches",
                )
            )
    for index, expression in enumerate(policy.spec.match.expressions):
        needs_label = expression.operator in ("In", "Exists", "Regex")
        if needs_label and expression.key not in labels:
            found.append(
                _finding(
                    located,
                    "error",
                    "match-label-never-set",
                    f"spec.match.expressions[{index}].key",
                    f'label "{expression.key}" is never set by the matched alerts ({alerts}):'
                    " the policy never matches",
                )
            )
    return found


def lint(documents: Iterable[Document], catalog: LabelCatalog | None = None) -> Result:
    """Schema and semantic findings for the documents, in file order.

    `catalog` (alertname → label keys) enables the checks against the alerts; without it
    they are skipped.
    """
    result = parse(documents)
    for located in result.policies:
        result.findings.extend(_target_rules(located))
        result.findings.extend(_step_rules(located))
        result.findings.extend(_approval_rules(located))
        if catalog is not None:
            result.findings.extend(_alert_rules(located, catalog))
    result.findings.extend(_overlap_rules(result.policies))
    return result
