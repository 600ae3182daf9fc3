"""The workload an Incident's remediation acts on.

A policy never templates names: the target is the policy's fixed `target.name`, or the
incident's explicit `spec.target`, or the value of one incident label, and that value must
be a DNS-1123 label. An Incident's creator may ask, but only the policy decides: a fixed
name is never overridden, and a name from the incident is held to the policy's bounds
(`target.selector`, `target.names`) on the live workload (`check_bounds`), when planning
and again just before acting. Anything else is refused with a reason that names the field
at fault. Purely computational, no side effects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from remediator.core import reasons
from remediator.core.models import (
    DNS1123_LABEL,
    Incident,
    RemediationPolicy,
    TargetBounds,
    TargetRef,
)

_MAX_NAME = 63


class TargetError(ValueError):
    """The target cannot be resolved; `reason` is a constant from `reasons`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def resolve_target(incident: Incident, policy: RemediationPolicy) -> TargetRef:
    """The workload to act on, in the incident's namespace."""
    wanted = policy.spec.target
    explicit = incident.spec.target
    if explicit is not None:
        if explicit.kind != wanted.kind:
            raise TargetError(
                reasons.INVALID_TARGET,
                f"incident spec.target.kind is {explicit.kind} but policy"
                f" {policy.metadata.name} acts on a {wanted.kind} (spec.target.kind)",
            )
        if wanted.name is not None and explicit.name != wanted.name:
            raise TargetError(
                reasons.TARGET_NOT_ALLOWED,
                f"incident spec.target.name is {explicit.name} but policy"
                f" {policy.metadata.name} acts only on {wanted.kind}/{wanted.name}"
                " (spec.target.name)",
            )
        _check_names(explicit.name, policy, "incident spec.target.name")
        return explicit
    if wanted.name is not None:
        return TargetRef(kind=wanted.kind, name=wanted.name)
    label = wanted.name_from_label
    assert label is not None  # PolicyTarget requires exactly one of name, nameFromLabel
    name = incident.spec.labels.get(label)
    if name is None:
        raise TargetError(
            reasons.TARGET_LABEL_MISSING,
            f'incident has no label "{label}" (policy spec.target.nameFromLabel)',
        )
    if len(name) > _MAX_NAME or not re.fullmatch(DNS1123_LABEL, name):
        raise TargetError(
            reasons.INVALID_TARGET,
            f'incident label "{label}" is {name!r}, not a {wanted.kind} name'
            f" (a DNS-1123 label: at most {_MAX_NAME} lowercase letters, digits and '-')",
        )
    _check_names(name, policy, f'incident label "{label}"')
    return TargetRef(kind=wanted.kind, name=name)


def _check_names(name: str, policy: RemediationPolicy, source: str) -> None:
    allowed = policy.spec.target.names
    if allowed and name not in allowed:
        raise TargetError(
            reasons.TARGET_NOT_ALLOWED,
            f"{source} names {name}, which policy {policy.metadata.name} does not allow"
            f" (spec.target.names: {', '.join(allowed)})",
        )


def out_of_bounds(bounds: TargetBounds | None, ref: str, workload: Mapping[str, Any]) -> str | None:
    """Why the live workload is outside the bounds (a message), None when inside."""
    if bounds is None:
        return None
    meta = workload.get("metadata") or {}
    if bounds.names and meta.get("name") not in bounds.names:
        return f"{ref} is not among the allowed names ({', '.join(bounds.names)})"
    labels = meta.get("labels") or {}
    missing = {k: v for k, v in bounds.selector.items() if labels.get(k) != v}
    if missing:
        wanted = ",".join(f"{k}={v}" for k, v in sorted(missing.items()))
        return f"{ref} does not carry the labels the policy selects ({wanted})"
    return None


def check_bounds(policy: RemediationPolicy, target: TargetRef, workload: Mapping[str, Any]) -> None:
    """TargetError (TargetNotAllowed) unless the live workload is within the policy's bounds."""
    why = out_of_bounds(policy.spec.target.bounds(), f"{target.kind}/{target.name}", workload)
    if why is not None:
        raise TargetError(
            reasons.TARGET_NOT_ALLOWED, f"{why}: policy {policy.metadata.name} may not act on it"
        )


def workload_selector(workload: Mapping[str, Any]) -> str | None:
    """The workload's `spec.selector` as a label-selector query (`matchLabels` and
    `matchExpressions`, as kube-apiserver reads them); None when it selects nothing, so
    that nobody LISTs a whole namespace in its place."""
    selector = (workload.get("spec") or {}).get("selector") or {}
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(sorted(str(v) for v in expression.get("values") or []))
        terms.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }.get(operator, "")
        )
    if not terms or not all(terms):
        return None
    return ",".join(terms)


def selects(workload: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether the workload's selector selects an object with these labels (what a LIST
    with `workload_selector` returns)."""
    if workload_selector(workload) is None:
        return False
    selector = (workload.get("spec") or {}).get("selector") or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = {str(v) for v in expression.get("values") or []}
        present = key in labels
        if (
            (operator == "In" and (not present or labels[key] not in values))
            or (operator == "NotIn" and present and labels[key] in values)
            or (operator == "Exists" and not present)
            or (operator == "DoesNotExist" and present)
        ):
            return False
    return True
