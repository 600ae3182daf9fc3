"""The guards that may refuse a remediation, in a fixed order, each naming its reason.

Guards fail closed and their state survives an operator restart and deleted Incidents:
the history they count is the guard ledger (`core.ledger`), into which every action is
written as it starts (the `Applying` mark), so an action in flight counts at once. Purely
computational, no side effects: the history, the count of active remediations and `now`
are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from remediator.core import reasons
from remediator.core.lifecycle import ACTIVE
from remediator.core.models import (
    Incident,
    RemediationPolicy,
    TargetRef,
    parse_duration,
)
from remediator.core.planning import format_duration

RATE_WINDOW = timedelta(hours=1)
MAX_CONCURRENT_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class GlobalConfig:
    """Operator-wide switches (from the operator's configuration)."""

    paused: bool = False
    protected_namespaces: frozenset[str] = frozenset(
        {"kube-system", "kube-public", "kube-node-lease"}
    )
    max_concurrent: int = 5
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class PastAction:
    """One action that changed a workload, as recorded in an Incident's status."""

    namespace: str
    target: str  # "Deployment/checkout"
    policy: str  # the policy's name (it acts only in `namespace`)
    incident: str
    at: datetime
    uid: str = ""  # the incident's uid, where known (a re-created Incident has another)


@dataclass(frozen=True)
class Verdict:
    """Whether the remediation may go ahead; `retry_after` is set when "not yet"."""

    allowed: bool
    reason: str = ""
    message: str = ""
    retry_after: float | None = None


ALLOWED = Verdict(allowed=True)


def active_remediations(incidents: Iterable[Incident]) -> int:
    """How many incidents are Remediating or Verifying."""
    return sum(1 for incident in incidents if incident.status.phase in ACTIVE)


def _own(action: PastAction, incident: Incident) -> bool:
    """Whether the action is this incident's own (never counted against it). An Incident
    deleted and created again under its name is another incident: its uid tells."""
    if action.incident != incident.metadata.name:
        return False
    return not action.uid or action.uid == incident.metadata.uid


def check_guards(
    incident: Incident,
    policy: RemediationPolicy,
    target: TargetRef,
    config: GlobalConfig,
    history: Sequence[PastAction],
    active: int,
    now: datetime,
) -> Verdict:
    """The first guard that refuses, in order: Paused, ProtectedNamespace, Cooldown,
    TargetRateLimit, PolicyRateLimit, MaxConcurrent; else allowed.

    This incident's own actions never count against it, so checking again after a
    crash in the middle of a plan gives the same answer. `active` must not count this
    incident. Only MaxConcurrent is temporary (`retry_after` set).
    """
    namespace = incident.metadata.namespace
    ref = f"{target.kind}/{target.name}"
    guards = policy.spec.guards
    others = [a for a in history if not _own(a, incident)]
    on_target = [a for a in others if a.namespace == namespace and a.target == ref]

    if config.paused:
        return Verdict(False, reasons.PAUSED, "paused: remediation is paused operator-wide")
    if namespace in config.protected_namespaces:
        return Verdict(
            False,
            reasons.PROTECTED_NAMESPACE,
            f"protected namespace: {namespace} is never remediated automatically",
        )
    cooldown = parse_duration(guards.cooldown)
    last = max(on_target, key=lambda a: a.at, default=None)
    if last is not None and (now - last.at).total_seconds() < cooldown:
        return Verdict(
            False,
            reasons.COOLDOWN,
            f"cooldown: {ref} was acted on {format_duration((now - last.at).total_seconds())}"
            f" ago by incident {last.incident}; cooldown is {guards.cooldown}",
        )
    since = now - RATE_WINDOW
    recent_on_target = sum(1 for a in on_target if a.at > since)
    if recent_on_target >= guards.max_actions_per_target_per_hour:
        return Verdict(
            False,
            reasons.TARGET_RATE_LIMIT,
            f"target rate limit: {recent_on_target} actions on {ref} in the last hour;"
            f" the limit is {guards.max_actions_per_target_per_hour}",
        )
    recent_by_policy = sum(
        1
        for a in others
        if a.namespace == policy.metadata.namespace
        and a.policy == policy.metadata.name
        and a.at > since
    )
    if recent_by_policy >= guards.max_actions_per_policy_per_hour:
        return Verdict(
            False,
            reasons.POLICY_RATE_LIMIT,
            f"policy rate limit: policy {policy.metadata.name} took {recent_by_policy}"
            f" actions in the last hour; the limit is {guards.max_actions_per_policy_per_hour}",
        )
    if active >= config.max_concurrent:
        return Verdict(
            False,
            reasons.MAX_CONCURRENT,
            f"max concurrent: {active} remediations are running; the limit is"
            f" {config.max_concurrent}",
            retry_after=MAX_CONCURRENT_RETRY_SECONDS,
        )
    return ALLOWED
