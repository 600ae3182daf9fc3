"""From a policy's steps and what the cluster looks like now, the exact state to set.

Every action is split in two: `plan` (here) fixes the concrete desired state of each step
before anything changes, and the executor applies it idempotently. The plan is stored in
the Incident's status and hashed, so approvals bind to exactly what will happen and a
crash mid-action resumes the same plan. Kubernetes semantics follow kubectl: rollback is
`kubectl rollout undo`, a rolling restart is `kubectl rollout restart`. Purely
computational, no side effects: the observed objects and `now` are arguments.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from remediator.core import bindings, reasons
from remediator.core.models import (
    Incident,
    Plan,
    PlannedStep,
    RemediationPolicy,
    Step,
    TargetRef,
    parse_duration,
)
from remediator.core.times import kube_time, parse_time

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"


@dataclass(frozen=True)
class Observed:
    """The raw Kubernetes objects (as dicts) that planning reads.

    `replicasets` are those owned by the workload, `pods` those its selector selects,
    `hpa` the HorizontalPodAutoscaler whose scaleTargetRef is the workload,
    `config_maps` the ConfigMaps named by circuitBreaker steps (None: not found), and
    `cron_jobs` every CronJob of the namespace (suspendCronJobs selects among them with
    `select_cron_jobs`, here, so the reconciler and `simulate` select alike).
    """

    workload: dict[str, Any] | None
    replicasets: tuple[dict[str, Any], ...] = ()
    pods: tuple[dict[str, Any], ...] = ()
    hpa: dict[str, Any] | None = None
    config_maps: Mapping[str, dict[str, Any] | None] = field(default_factory=dict)
    cron_jobs: tuple[dict[str, Any], ...] = ()


class PlanningError(ValueError):
    """A step cannot be planned; `reason` is a constant from `reasons`, `step` its index."""

    def __init__(self, reason: str, step: int, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.step = step
        self.message = message


def _revision(obj: Mapping[str, Any]) -> int | None:
    value = obj.get("metadata", {}).get("annotations", {}).get(REVISION_ANNOTATION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def semantic(value: Any) -> Any:
    """The value without nulls, empty maps and empty lists, at any depth: Kubernetes objects
    as the API server's typed round trip would compare them.

    The API server and clients disagree on whether an unset field is absent, null or
    empty; templates are compared after pruning so that never counts as a difference (by
    planning here, and by the executor when it checks what it is about to change).
    """
    if isinstance(value, Mapping):
        pruned = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


def _without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(template))
    labels = copy.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return copy


def format_duration(seconds: float) -> str:
    """`45s`, `3m`, `1h5m`: a duration as people write it."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    hours, minutes = divmod(whole // 60, 60)
    return f"{hours}h{minutes}m" if minutes else f"{hours}h"


@dataclass(frozen=True)
class _Context:
    index: int
    step: Step
    target: TargetRef
    ref: str  # "Deployment/checkout"
    workload: dict[str, Any]
    observed: Observed
    now: datetime

    def refuse(self, reason: str, message: str) -> PlanningError:
        return PlanningError(
            reason, self.index, f"step {self.index} ({self.step.action}): {message}"
        )

    @property
    def paused(self) -> bool:
        return bool(self.workload.get("spec", {}).get("paused"))


_Planned = tuple[dict[str, Any], str]  # (desired, summary)


def _plan_rollback(ctx: _Context) -> _Planned:
    if ctx.target.kind != "Deployment":
        raise ctx.refuse(
            reasons.INVALID_TARGET, f"rollback works on Deployments, not {ctx.target.kind}"
        )
    if ctx.paused:
        raise ctx.refuse(
            reasons.WORKLOAD_PAUSED, f"{ctx.ref} is paused; resume it before rolling back"
        )
    by_revision: dict[int, dict[str, Any]] = {}
    for rs in ctx.observed.replicasets:
        revision = _revision(rs)
        if revision is not None:
            by_revision[revision] = rs
    current = _revision(ctx.workload)
    if current is None:
        current = max(by_revision, default=0)
    wanted = ctx.step.to_revision
    if wanted is not None:
        if wanted not in by_revision:
            known = ", ".join(str(r) for r in sorted(by_revision)) or "none"
            raise ctx.refuse(
                reasons.REVISION_NOT_FOUND,
                f"{ctx.ref} has no revision {wanted} (revisions: {known})",
            )
    else:
        older = [r for r in by_revision if r < current]
        if not older:
            raise ctx.refuse(
                reasons.NO_PREVIOUS_REVISION,
                f"{ctx.ref} has no revision before {current} to roll back to",
            )
        wanted = max(older)
    rs = by_revision[wanted]
    template = _without_hash(rs.get("spec", {}).get("template", {}))
    if semantic(template) == semantic(_without_hash(ctx.workload["spec"].get("template", {}))):
        raise ctx.refuse(
            reasons.TEMPLATE_ALREADY_MATCHES,
            f"{ctx.ref} already runs the template of revision {wanted}",
        )
    window = ctx.step.only_if_rolled_out_within
    if window is not None:
        _check_rolled_out_within(ctx, by_revision.get(current), current, window)
    desired = {
        "revision": wanted,
        "fromRevision": current,
        "replicaSet": rs["metadata"]["name"],
        "template": template,
    }
    return desired, f"roll back {ctx.ref} from revision {current} to {wanted}"


def _check_rolled_out_within(
    ctx: _Context, current_rs: dict[str, Any] | None, current: int, window: str
) -> None:
    created = (current_rs or {}).get("metadata", {}).get("creationTimestamp")
    if created is None:
        raise ctx.refuse(
            reasons.ROLLOUT_TOO_OLD,
            f"cannot tell when revision {current} of {ctx.ref} rolled out"
            " (no ReplicaSet with a creationTimestamp has it)",
        )
    age = (ctx.now - parse_time(created)).total_seconds()
    if age > parse_duration(window):
        raise ctx.refuse(
            reasons.ROLLOUT_TOO_OLD,
            f"revision {current} of {ctx.ref} rolled out {format_duration(age)} ago,"
            f" not within {window} (onlyIfRolledOutWithin)",
        )


def _plan_restart(ctx: _Context) -> _Planned:
    if ctx.step.mode == "evict":
        pods = sorted(
            (p for p in ctx.observed.pods if not p["metadata"].get("deletionTimestamp")),
            key=lambda p: str(p["metadata"]["name"]),
        )
        if not pods:
            raise ctx.refuse(reasons.NO_PODS_SELECTED, f"{ctx.ref} selects no running pods")
        desired = {
            "mode": "evict",
            "pods": [
                {"name": p["metadata"]["name"], "uid": p["metadata"].get("uid", "")} for p in pods
            ],
        }
        noun = "pod" if len(pods) == 1 else "pods"
        return desired, f"evict {len(pods)} {noun} of {ctx.ref}"
    if ctx.paused:
        raise ctx.refuse(
            reasons.WORKLOAD_PAUSED, f"{ctx.ref} is paused; resume it before restarting it"
        )
    return {"mode": "rolling", "restartedAt": kube_time(ctx.now)}, f"rolling restart of {ctx.ref}"


def _plan_scale(ctx: _Context) -> _Planned:
    step = ctx.step
    current = int(ctx.workload.get("spec", {}).get("replicas", 1))
    if step.to is not None:
        wanted = step.to
    elif step.by is not None:
        wanted = current + step.by
    else:
        assert step.factor is not None  # Step requires exactly one of to, by, factor
        wanted = math.ceil(current * step.factor)
    low = step.min or 0
    wanted = max(wanted, low)
    if step.max is not None:
        wanted = min(wanted, step.max)
    bounds = f"bounds {low}..{step.max if step.max is not None else '∞'}"
    hpa = ctx.observed.hpa
    if hpa is not None:
        hpa_spec = hpa.get("spec", {})
        hpa_name = hpa["metadata"]["name"]
        previous_min = int(hpa_spec.get("minReplicas", 1))
        previous_max = hpa_spec.get("maxReplicas")
        if previous_min >= wanted:
            raise ctx.refuse(
                reasons.SCALE_BOUNDS,
                f"HorizontalPodAutoscaler {hpa_name} already keeps at least {previous_min}"
                f" replicas of {ctx.ref} (wanted {wanted}); {bounds}",
            )
        desired = {
            "via": "hpa",
            "hpa": hpa_name,
            "replicas": wanted,
            "previousMinReplicas": previous_min,
            "previousMaxReplicas": previous_max,
            "maxReplicas": max(int(previous_max or 0), wanted),
        }
        return desired, f"scale {ctx.ref} {current} → {wanted} (via HPA minReplicas)"
    if wanted == current:
        raise ctx.refuse(
            reasons.SCALE_BOUNDS, f"{ctx.ref} is already at {current} replicas; {bounds}"
        )
    return {"via": "scale", "replicas": wanted, "previous": current}, (
        f"scale {ctx.ref} {current} → {wanted}"
    )


def _plan_circuit_breaker(index: int, step: Step, observed: Observed) -> PlannedStep:
    name, key = step.config_map, step.key
    # Step requires both for circuitBreaker
    assert name is not None
    assert key is not None
    ref = f"ConfigMap/{name}"
    config_map = observed.config_maps.get(name)
    if config_map is None:
        raise PlanningError(
            reasons.CONFIG_MAP_NOT_FOUND,
            index,
            f"step {index} (circuitBreaker): {ref} does not exist",
        )
    previous = (config_map.get("data") or {}).get(key)
    value = step.value if step.value is not None else "open"
    revert = parse_duration(step.revert_after) if step.revert_after else None
    summary = f'set {ref} key "{key}" to "{value}"'
    summary += f' (was "{previous}")' if previous is not None else " (was unset)"
    if step.revert_after:
        summary += f", revert after {step.revert_after}"
    desired = {
        "configMap": name,
        "key": key,
        "value": value,
        "previous": previous,
        "revertAfterSeconds": revert,
    }
    return PlannedStep(
        index=index, action="circuitBreaker", target=ref, summary=summary, desired=desired
    )


ISOLATE_PREFIX = "remediator-isolate-"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "remediator"
INCIDENT_ANNOTATION = "remediator.dev/incident"


def isolation_name(workload_name: str) -> str:
    """The NetworkPolicy that isolates a workload's pods: one per workload, deterministic."""
    return f"{ISOLATE_PREFIX}{workload_name}"


def _plan_isolate(ctx: _Context) -> _Planned:
    labels = (ctx.workload.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    if not labels:
        raise ctx.refuse(
            reasons.INVALID_TARGET,
            f"{ctx.ref} has no spec.selector.matchLabels to select its pods by",
        )
    name = isolation_name(ctx.target.name)
    after = ctx.step.revert_after
    desired = {
        "networkPolicy": name,
        # deny all: both policy types, no rules
        "spec": {
            "podSelector": {"matchLabels": dict(sorted(labels.items()))},
            "policyTypes": ["Ingress", "Egress"],
        },
        "revertAfterSeconds": parse_duration(after) if after else None,
    }
    summary = f"isolate the pods of {ctx.ref}: NetworkPolicy {name} denies all traffic"
    summary += f", removed after {after}" if after else " (stays until a human removes it)"
    return desired, summary


def _selector_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def select_cron_jobs(step: Step, cron_jobs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The CronJobs a suspendCronJobs step acts on, by name: those its `selector` selects,
    or those its `cronJobs` names (each name at most once; missing ones are left out)."""
    selected: dict[str, dict[str, Any]] = {}
    for job in cron_jobs:
        meta = job.get("metadata") or {}
        name = str(meta.get("name", ""))
        if step.selector is not None:
            labels = meta.get("labels") or {}
            if all(labels.get(k) == v for k, v in step.selector.match_labels.items()):
                selected[name] = dict(job)
        elif name in (step.cron_jobs or []):
            selected[name] = dict(job)
    return [selected[n] for n in sorted(selected)]


def cron_jobs_ref(step: Step) -> str:
    if step.selector is not None:
        return f"CronJobs/{_selector_text(step.selector.match_labels)}"
    return f"CronJobs/{','.join(step.cron_jobs or [])}"


def _plan_suspend_cron_jobs(index: int, step: Step, observed: Observed) -> PlannedStep:
    ref = cron_jobs_ref(step)
    jobs = select_cron_jobs(step, observed.cron_jobs)
    found = {str(j["metadata"]["name"]) for j in jobs}
    missing = [n for n in step.cron_jobs or [] if n not in found]
    if missing:
        raise PlanningError(
            reasons.CRON_JOB_NOT_FOUND,
            index,
            f"step {index} (suspendCronJobs): CronJob {', '.join(missing)} does not exist",
        )
    if not jobs:
        raise PlanningError(
            reasons.NO_CRON_JOBS_SELECTED,
            index,
            f"step {index} (suspendCronJobs): no CronJob has the labels"
            f" {ref.removeprefix('CronJobs/')}",
        )
    running = [str(j["metadata"]["name"]) for j in jobs if not j.get("spec", {}).get("suspend")]
    already = [str(j["metadata"]["name"]) for j in jobs if j.get("spec", {}).get("suspend")]
    after = step.resume_after
    summary = f"suspend CronJob {', '.join(running)}" if running else "no CronJob to suspend"
    if running:
        summary += f", resume after {after}" if after else " until a human resumes it"
    if already:
        summary += f"; {', '.join(already)} already suspended, left as is"
    desired = {
        # only these are resumed by the revert: a CronJob suspended before stays suspended
        "suspend": running,
        "alreadySuspended": already,
        "resumeAfterSeconds": parse_duration(after) if after else None,
    }
    return PlannedStep(
        index=index, action="suspendCronJobs", target=ref, summary=summary, desired=desired
    )


def notify_text(incident: Incident, extra: str | None = None) -> str:
    """The human line of a notify step, fixed at planning time."""
    spec = incident.spec
    text = f"[{spec.severity}] {spec.alertname} in {incident.metadata.namespace}"
    text += f": {spec.summary}" if spec.summary else ""
    return f"{text} — {extra}" if extra else text


def _plan_notify(index: int, step: Step, incident: Incident) -> PlannedStep:
    ref = step.webhook_secret_ref
    assert ref is not None  # Step requires it for notify
    desired = {
        "webhookSecretRef": {"name": ref.name, "key": ref.key},
        "text": notify_text(incident, step.message),
    }
    return PlannedStep(
        index=index,
        action="notify",
        target=f"Webhook/{ref.name}",
        summary=f"notify the webhook in Secret {ref.name} (key {ref.key})",
        desired=desired,
    )


_WORKLOAD_PLANNERS: dict[str, Callable[[_Context], _Planned]] = {
    "rollback": _plan_rollback,
    "restartPods": _plan_restart,
    "scale": _plan_scale,
    "isolatePods": _plan_isolate,
}


def plan(
    incident: Incident,
    policy: RemediationPolicy,
    target: TargetRef,
    observed: Observed,
    now: datetime,
) -> Plan:
    """One planned step per policy step, with the concrete state each will set.

    Raises PlanningError for the first step that cannot be planned (the workload is
    missing, paused, already in the wanted state, ...): a plan is all or nothing.
    """
    ref = f"{target.kind}/{target.name}"
    steps: list[PlannedStep] = []
    for index, step in enumerate(policy.spec.steps):
        if step.action == "circuitBreaker":
            steps.append(_plan_circuit_breaker(index, step, observed))
            continue
        if step.action == "suspendCronJobs":
            steps.append(_plan_suspend_cron_jobs(index, step, observed))
            continue
        if step.action == "notify":
            steps.append(_plan_notify(index, step, incident))
            continue
        if observed.workload is None:
            raise PlanningError(
                reasons.TARGET_NOT_FOUND,
                index,
                f"step {index} ({step.action}): {ref} not found in namespace"
                f" {incident.metadata.namespace}",
            )
        ctx = _Context(index, step, target, ref, observed.workload, observed, now)
        desired, summary = _WORKLOAD_PLANNERS[step.action](ctx)
        steps.append(
            PlannedStep(
                index=index, action=step.action, target=ref, summary=summary, desired=desired
            )
        )
    bound = bindings.binding(incident, policy)
    return Plan(hash=bindings.plan_hash(steps, bound), steps=steps, created_at=now, binding=bound)


def revert_of(step: PlannedStep) -> dict[str, Any] | None:
    """The desired state that undoes the step, in the same shape as `step.desired`.

    Because it has the same shape, the executor applies a revert as it applies the step.
    Scale and circuitBreaker record the previous value; the others have no revert (a
    rollback is undone by another rollback, a restart needs none; suspendCronJobs and
    isolatePods are undone by the executor's `revert` from what they record).
    """
    desired = step.desired
    if step.action == "scale" and desired.get("via") == "hpa":
        return {
            "via": "hpa",
            "hpa": desired["hpa"],
            "replicas": desired["previousMinReplicas"],
            "previousMinReplicas": desired["replicas"],
            "previousMaxReplicas": desired["maxReplicas"],
            "maxReplicas": desired["previousMaxReplicas"],
        }
    if step.action == "scale":
        return {"via": "scale", "replicas": desired["previous"], "previous": desired["replicas"]}
    if step.action == "circuitBreaker":
        return {
            "configMap": desired["configMap"],
            "key": desired["key"],
            "value": desired["previous"],
            "previous": desired["value"],
            "revertAfterSeconds": None,
        }
    return None
