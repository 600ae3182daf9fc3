"""Which RemediationPolicy answers an Incident.

Matching is the first decision the operator makes and the one users most need to predict,
so it is a handful of plain rules: every constraint of `spec.match` must hold, and among
the policies that match, the highest `priority`, then the most specific, then the first
name wins. Purely computational, no side effects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from remediator.core import reasons
from remediator.core.models import Incident, LabelExpression, Match, RemediationPolicy


def allows(operator: str, values: Sequence[str], value: str | None) -> bool:
    """Whether a label value (None: the label is absent) satisfies one constraint: "Eq"
    (a `match.labels` entry) or an expression's operator."""
    match operator:
        case "Eq" | "In":
            return value is not None and value in values
        case "NotIn":
            return value is None or value not in values
        case "Exists":
            return value is not None
        case "DoesNotExist":
            return value is None
        case _:  # Regex
            return value is not None and re.fullmatch(values[0], value) is not None


def _expression_holds(expression: LabelExpression, labels: Mapping[str, str]) -> bool:
    return allows(expression.operator, expression.values, labels.get(expression.key))


def matches(policy: RemediationPolicy, incident: Incident) -> bool:
    """Whether every constraint of the policy's `spec.match` holds for the incident."""
    match = policy.spec.match
    spec = incident.spec
    if match.alertnames and spec.alertname not in match.alertnames:
        return False
    if match.severities and spec.severity not in match.severities:
        return False
    if any(spec.labels.get(key) != value for key, value in match.labels.items()):
        return False
    return all(_expression_holds(e, spec.labels) for e in match.expressions)


def specificity(policy: RemediationPolicy) -> int:
    """How many constraints the policy's match has: the more, the more specific."""
    match = policy.spec.match
    return (
        bool(match.alertnames) + bool(match.severities) + len(match.labels) + len(match.expressions)
    )


def ranked(incident: Incident, policies: Iterable[RemediationPolicy]) -> list[RemediationPolicy]:
    """Every policy that matches the incident, best first.

    Only policies in the incident's own namespace are considered (a policy acts only
    inside its namespace); then highest `spec.priority`, highest specificity, and the
    name in ascending order break ties, so the order never depends on list order. The
    first one handles the incident; the next ones are tried only when its plan says it
    does not apply (`reasons.FALL_THROUGH`: a rollback with no recent deployment).
    """
    candidates = [
        p
        for p in policies
        if p.metadata.namespace == incident.metadata.namespace and matches(p, incident)
    ]
    return sorted(candidates, key=lambda p: (-p.spec.priority, -specificity(p), p.metadata.name))


def select_policy(
    incident: Incident, policies: Iterable[RemediationPolicy]
) -> RemediationPolicy | None:
    """The policy that handles the incident, or None (the first of `ranked`)."""
    candidates = ranked(incident, policies)
    return candidates[0] if candidates else None


class PolicyIndex:
    """Policies bucketed by (namespace, alert name), so that matching an incident looks only
    at the policies that can match it: those naming its alert, and those naming none (which
    may match any alert). `ranked` and `select` answer exactly as the functions above do on
    the whole list, since a policy that names alerts never matches another alert. The
    operator keeps the same buckets in its view of the cluster (`view.ClusterView`)."""

    def __init__(self, policies: Iterable[RemediationPolicy]) -> None:
        self._named: dict[tuple[str, str], list[RemediationPolicy]] = {}
        self._any: dict[str, list[RemediationPolicy]] = {}
        for policy in policies:
            namespace = policy.metadata.namespace
            names = policy.spec.match.alertnames
            for name in dict.fromkeys(names):
                self._named.setdefault((namespace, name), []).append(policy)
            if not names:
                self._any.setdefault(namespace, []).append(policy)

    def candidates(self, incident: Incident) -> list[RemediationPolicy]:
        namespace = incident.metadata.namespace
        return [
            *self._named.get((namespace, incident.spec.alertname), ()),
            *self._any.get(namespace, ()),
        ]

    def ranked(self, incident: Incident) -> list[RemediationPolicy]:
        return ranked(incident, self.candidates(incident))

    def select(self, incident: Incident) -> RemediationPolicy | None:
        return select_policy(incident, self.candidates(incident))


# ---------------------------------------------------------------- matcher overlaps
def _constraints(match: Match) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Per label key, the constraints on its value: ("Eq", (v,)), ("In", vs), ..."""
    found: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for key, value in match.labels.items():
        found.setdefault(key, []).append(("Eq", (value,)))
    for expression in match.expressions:
        found.setdefault(expression.key, []).append((expression.operator, tuple(expression.values)))
    return found


def _key_can_overlap(
    left: list[tuple[str, tuple[str, ...]]], right: list[tuple[str, tuple[str, ...]]]
) -> bool:
    """Whether some value (or absence) of one label satisfies both sides' constraints.

    Exact for equality, In, Exists and DoesNotExist; a Regex or NotIn on both sides
    with no fixed candidate value is assumed to overlap (the lint stays conservative).
    """
    both = [*left, *right]
    candidates: list[str | None] = [None]
    for operator, values in both:
        if operator in ("Eq", "In"):
            candidates.extend(values)
    if any(all(allows(op, values, c) for op, values in both) for c in candidates):
        return True
    if any(op in ("Eq", "In") for op, _ in both):
        return False  # any value both accept is one of the fixed candidates: none fits
    # Only NotIn, Exists, DoesNotExist and Regex: a present value that no NotIn lists
    # fits unless absence is required; a pair of regexes is assumed to overlap.
    return not any(op == "DoesNotExist" for op, _ in both)


def can_overlap(a: Match, b: Match) -> bool:
    """Whether one alert could satisfy both matchers."""
    if a.alertnames and b.alertnames and not set(a.alertnames) & set(b.alertnames):
        return False
    if a.severities and b.severities and not set(a.severities) & set(b.severities):
        return False
    left, right = _constraints(a), _constraints(b)
    return all(_key_can_overlap(left[k], right[k]) for k in set(left) & set(right))


def falls_through(reason: str, rank: int, candidates: int) -> bool:
    """Whether a refusal of the policy at `rank` (0: the best) means "try the next matching
    policy" rather than "blocked": only refusals that say the policy does not apply here
    (`reasons.FALL_THROUGH`), and only while there is a next one. The operator and
    `remediator simulate` both decide by this."""
    return reason in reasons.FALL_THROUGH and rank + 1 < candidates
