"""RemediationPolicy events: report whether the policy is valid, naming the field if not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import kopf
from pydantic import ValidationError

from ..core import reasons
from ..core.conditions import set_condition
from ..core.models import GROUP, VERSION, Condition, RemediationPolicy
from ..core.validation import describe_errors
from .registry import REGISTRY


@kopf.on.create(GROUP, VERSION, "remediationpolicies", registry=REGISTRY)
@kopf.on.resume(GROUP, VERSION, "remediationpolicies", registry=REGISTRY)
@kopf.on.update(GROUP, VERSION, "remediationpolicies", field="spec", registry=REGISTRY)
def policy_changed(
    body: kopf.Body, meta: kopf.Meta, status: kopf.Status, patch: kopf.Patch, **_: Any
) -> None:
    state: Literal["True", "False"]
    try:
        RemediationPolicy.model_validate(dict(body))
    except ValidationError as e:
        state, reason, message = "False", reasons.INVALID_POLICY, describe_errors(e)
    else:
        state, reason, message = "True", reasons.VALID, "the policy is valid"
    generation = meta.get("generation")
    stored = [Condition.model_validate(c) for c in status.get("conditions") or []]
    conditions = set_condition(
        stored,
        reasons.CONDITION_VALID,
        state,
        reason,
        message,
        datetime.now(UTC),
        generation,
    )
    # A restart resumes every policy: one that says so already is not written again (a
    # thousand policies were a thousand PATCHes and watch events at every start).
    if conditions != stored or status.get("observedGeneration") != generation:
        patch.status["conditions"] = [c.dump() for c in conditions]
        patch.status["observedGeneration"] = generation
    if state == "False":
        kopf.warn(body, reason=reason, message=message)
