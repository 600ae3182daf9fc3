"""The workload an Incident's remediation acts on.

A policy never templates names: the target is the incident's explicit `spec.target`, the
policy's fixed `target.name`, or the value of one incident label, and that value must be
a DNS-1123 label. Anything else is refused with a reason that names the field at fault.
Purely computational, no side effects.
"""

from __future__ import annotations

import re

from remediator.core import reasons
from remediator.core.models import DNS1123_LABEL, Incident, RemediationPolicy, TargetRef

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
    return TargetRef(kind=wanted.kind, name=name)
