"""Kubernetes-style conditions on a status.

A condition's `lastTransitionTime` says when its status last changed, not when it was
last written, so setting the same status again keeps the time. Purely computational.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from remediator.core.models import Condition

ConditionStatus = Literal["True", "False", "Unknown"]


def get_condition(conditions: Sequence[Condition], type: str) -> Condition | None:
    """The condition of this type, if there is one."""
    return next((c for c in conditions if c.type == type), None)


def set_condition(
    conditions: Sequence[Condition],
    type: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None,
) -> list[Condition]:
    """A new list with the condition of this type replaced (in place) or appended."""
    previous = get_condition(conditions, type)
    since = now
    if previous is not None and previous.status == status and previous.last_transition_time:
        since = previous.last_transition_time
    condition = Condition(
        type=type,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )
    if previous is None:
        return [*conditions, condition]
    return [condition if c.type == type else c for c in conditions]
