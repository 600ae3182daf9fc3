"""PromQL checks: does every sample a query returned satisfy `operator threshold`?

Used for a policy's preconditions (before acting) and its verification (after acting).
A check fails closed: an empty result never holds, and NaN satisfies no comparison.
Purely computational: the samples are an argument.
"""

from __future__ import annotations

import math
import operator as op
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from remediator.core.models import PromCheck

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": op.lt,
    "<=": op.le,
    ">": op.gt,
    ">=": op.ge,
    "==": op.eq,
    "!=": op.ne,
}
SHOWN_VALUES = 5


@dataclass(frozen=True)
class CheckResult:
    holds: bool
    observed: str  # the values, for messages: "0.12 (1 series)", "no data"


def format_value(value: float) -> str:
    """A sample as Prometheus writes it: `NaN`, `+Inf`, `-Inf`, else up to 6 significant digits."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.6g}"


def render_observed(samples: Sequence[float]) -> str:
    """The values for a message, at most five of them, and how many series there were."""
    if not samples:
        return "no data"
    shown = ", ".join(format_value(v) for v in samples[:SHOWN_VALUES])
    if len(samples) > SHOWN_VALUES:
        shown += ", ..."
    return f"{shown} ({len(samples)} series)"


def satisfies(check: PromCheck, value: float) -> bool:
    """Whether one sample satisfies the check (NaN never does, not even `!=`)."""
    if math.isnan(value):
        return False
    return COMPARE[check.operator](value, check.threshold)


def evaluate(check: PromCheck, samples: Sequence[float]) -> CheckResult:
    """Holds only if there is at least one sample and every sample satisfies the check."""
    failing = [v for v in samples if not satisfies(check, v)]
    holds = bool(samples) and not failing
    # the values that fail first, so that a long list still shows them
    ordered = [*failing, *(v for v in samples if satisfies(check, v))]
    return CheckResult(holds=holds, observed=render_observed(ordered))


def describe(check: PromCheck) -> str:
    """The check in one line: its description, else `query op threshold`."""
    condition = f"{check.query} {check.operator} {format_value(check.threshold)}"
    return f"{check.description} ({condition})" if check.description else condition
