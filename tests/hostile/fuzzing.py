"""What the hostile-input tests share: hypothesis settings that give the same cases in every
run, and the phases in which an incident has settled (the operator waits or is done)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, settings

from remediator.core import lifecycle

SETTLED = {
    *lifecycle.TERMINAL,
    "Remediated",
    "AwaitingApproval",
    "Verifying",  # waits for its PromQL check until `within`, then settles
}


def fuzz(examples: int, *, shrink: bool = True) -> Any:
    """Deterministic hypothesis settings: the same `examples` cases in every run. Without
    `shrink`, the first failing case is reported as it is (where one costs seconds of a real
    operator, shrinking would take minutes)."""
    phases = list(Phase) if shrink else [Phase.explicit, Phase.generate]
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
        phases=phases,
    )
