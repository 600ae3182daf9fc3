"""What the operator would decide for an Alertmanager payload, without a cluster.

`remediator simulate` answers the question a policy reviewer asks before merging: for
each alert of a recorded webhook payload, which Incident the bridge would create (name,
namespace, severity), which policy would match, on which target, with which plan (from
recorded objects standing in for the cluster), which approval gate, and what the guards
that can be decided offline say (protected namespaces, dry run; the pause switch,
cooldowns, rate limits, concurrency and PromQL preconditions need the live cluster and
are listed as not checked). It runs the same core functions as the operator, in the same
order, so a decision here is the decision there. Purely computational: the payload, the
policies, the observed objects, the options and `now` are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from remediator.core import alerts, gating, guards, matching, planning, reasons, targets
from remediator.core.models import Incident, RemediationPolicy, Severity, TargetRef
from remediator.core.times import kube_time, precise_time

NOT_CHECKED_OFFLINE = (
    "paused (ConfigMap remediator-config)",
    "cooldown",
    "maxActionsPerTargetPerHour",
    "maxActionsPerPolicyPerHour",
    "maxConcurrent",
    "preconditions (PromQL)",
)


@dataclass(frozen=True)
class Options:
    """The bridge's and operator's settings that change a decision."""

    namespace_default: str | None = None
    allowed_namespaces: frozenset[str] = frozenset({alerts.ANY_NAMESPACE})
    protected_namespaces: frozenset[str] = alerts.DEFAULT_PROTECTED
    severity_map: Mapping[str, Severity] = field(
        default_factory=lambda: dict(alerts.DEFAULT_SEVERITY_MAP)
    )
    default_severity: Severity = alerts.DEFAULT_UNKNOWN_SEVERITY
    dry_run: bool = False
    timezone: tzinfo = UTC
    with_state: bool = True  # False: no observed state was given; plans are not computed


# ------------------------------------------------------------------ observed state
def _namespace_fits(obj: Mapping[str, Any], namespace: str) -> bool:
    found = (obj.get("metadata") or {}).get("namespace")
    return not found or found == namespace


def _of_kind(objects: Iterable[Mapping[str, Any]], kind: str, namespace: str) -> list[Any]:
    return [o for o in objects if o.get("kind") == kind and _namespace_fits(o, namespace)]


def observe(
    objects: Sequence[Mapping[str, Any]],
    namespace: str,
    target: TargetRef,
    policy: RemediationPolicy,
) -> tuple[planning.Observed, list[str]]:
    """The Observed the reconciler would gather, from recorded objects; and what is missing.

    ReplicaSets are those the workload's `matchLabels` select that it owns (by uid, or by
    name when the recorded workload has no uid): the reconciler lists them by the selector,
    then keeps its own. Pods are those its `matchLabels` select, the HPA the one whose
    scaleTargetRef is the workload. Objects without a namespace fit any namespace.
    """
    missing: list[str] = []
    ref = f"{target.kind}/{target.name}"
    workload = next(
        (
            dict(o)
            for o in _of_kind(objects, target.kind, namespace)
            if o.get("metadata", {}).get("name") == target.name
        ),
        None,
    )
    actions = {s.action for s in policy.spec.steps}
    if workload is None:  # the reconciler needs it for every action (TargetNotFound)
        missing.append(f"{ref} in namespace {namespace}")
    replicasets: list[dict[str, Any]] = []
    pods: list[dict[str, Any]] = []
    hpa = None
    if workload is not None:
        meta = workload.get("metadata", {})
        uid, name = meta.get("uid"), meta.get("name")
        if "rollback" in actions:
            for rs in _of_kind(objects, "ReplicaSet", namespace):
                if not targets.selects(workload, rs.get("metadata", {}).get("labels") or {}):
                    continue
                owners = rs.get("metadata", {}).get("ownerReferences") or []
                if any(
                    (o.get("uid") == uid)
                    if uid
                    else (o.get("kind"), o.get("name"))
                    == (
                        target.kind,
                        name,
                    )
                    for o in owners
                ):
                    replicasets.append(dict(rs))
            if not replicasets:
                missing.append(f"ReplicaSets owned by {ref} (rollback reads their revisions)")
        if "restartPods" in actions and any(s.mode == "evict" for s in policy.spec.steps):
            pods = [
                dict(p)
                for p in _of_kind(objects, "Pod", namespace)
                if targets.selects(workload, p.get("metadata", {}).get("labels") or {})
            ]
            if not pods:
                missing.append(f"Pods selected by {ref} (restartPods mode evict evicts them)")
        if "scale" in actions:
            for candidate in _of_kind(objects, "HorizontalPodAutoscaler", namespace):
                scale_ref = candidate.get("spec", {}).get("scaleTargetRef", {})
                if (scale_ref.get("kind"), scale_ref.get("name")) == (target.kind, target.name):
                    hpa = dict(candidate)
    config_maps: dict[str, dict[str, Any] | None] = {}
    for step in policy.spec.steps:
        if step.action == "circuitBreaker" and step.config_map:
            found = next(
                (
                    dict(o)
                    for o in _of_kind(objects, "ConfigMap", namespace)
                    if o.get("metadata", {}).get("name") == step.config_map
                ),
                None,
            )
            config_maps[step.config_map] = found
            gone = f"ConfigMap/{step.config_map} in namespace {namespace}"
            if found is None and gone not in missing:
                missing.append(gone)
    cron_jobs: list[dict[str, Any]] = []
    for step in policy.spec.steps:
        if step.action == "suspendCronJobs":
            cron_jobs = [dict(o) for o in _of_kind(objects, "CronJob", namespace)]
            if not planning.select_cron_jobs(step, cron_jobs):
                missing.append(
                    f"{planning.cron_jobs_ref(step)} in namespace {namespace}"
                    " (suspendCronJobs suspends them)"
                )
    observed = planning.Observed(
        workload=workload,
        replicasets=tuple(replicasets),
        pods=tuple(pods),
        hpa=hpa,
        config_maps=config_maps,
        cron_jobs=tuple(cron_jobs),
    )
    return observed, missing


# ------------------------------------------------------------------------- decision
def _in_namespace(policy: RemediationPolicy, namespace: str) -> RemediationPolicy:
    """A policy without a namespace is applied to the incident's (kubectl apply -n)."""
    if policy.metadata.namespace:
        return policy
    metadata = policy.metadata.model_copy(update={"namespace": namespace})
    return policy.model_copy(update={"metadata": metadata})


def _respond_by(incident: Incident, options: Options) -> datetime:
    started = incident.spec.starts_at or datetime.fromtimestamp(0, UTC)
    return gating.respond_by(incident.spec.severity, started, options.timezone)


def _approval_summary(
    policy: RemediationPolicy, incident: Incident, options: Options
) -> dict[str, Any]:
    """The approval rule that applies, for the decision's `approval` field."""
    rule = gating.approval_rule(policy, incident.spec.severity)
    deadline = _respond_by(incident, options)
    gate: dict[str, Any] = {
        "mode": rule.mode,
        "approvers": rule.approvers if rule.mode == "required" else 0,
        "respondBy": kube_time(deadline),
    }
    if policy.spec.approval.approver_groups:
        gate["approverGroups"] = list(policy.spec.approval.approver_groups)
    return gate


def decide_alert(
    alert: alerts.Alert,
    policies: Sequence[RemediationPolicy],
    objects: Sequence[Mapping[str, Any]],
    options: Options,
    now: datetime,
    seen: set[str] | None = None,
) -> dict[str, Any]:
    """The decision for one alert, as a JSON-ready dict (the golden tests compare these)."""
    decision: dict[str, Any] = {
        "alert": {
            "alertname": alert.alertname,
            "status": alert.status,
            "fingerprint": alert.fingerprint,
            "startsAt": precise_time(alert.starts_at),
        },
        "incident": None,
        "outcome": "",
        "reason": "",
        "message": "",
        "policy": None,
        "target": None,
        "plan": None,
        "missing": [],
        "approval": None,
        "guards": None,
    }

    def outcome(phase: str, reason: str, message: str) -> dict[str, Any]:
        decision.update(outcome=phase, reason=reason, message=message)
        return decision

    namespace = alerts.route(
        alert.labels,
        options.allowed_namespaces,
        options.namespace_default,
        options.protected_namespaces,
    )
    if namespace is None:
        return outcome(
            "Dropped",
            "NoNamespace",
            f"namespace label {alert.labels.get('namespace', '<none>')!r} is not allowed"
            " and no default namespace is set: the bridge creates no Incident",
        )
    body = alerts.incident_for(
        alert,
        namespace=namespace,
        mapping=options.severity_map,
        default_severity=options.default_severity,
    )
    incident = Incident.model_validate(body)
    name = incident.metadata.name
    decision["incident"] = {
        "name": name,
        "namespace": namespace,
        "severity": incident.spec.severity,
        "alertStatus": incident.spec.alert_status,
    }
    if seen is not None:
        if name in seen:
            return outcome(
                "Duplicate",
                "SameIncident",
                f"same fingerprint and startsAt as an earlier alert: Incident {name}"
                " already exists and is not created again",
            )
        seen.add(name)

    candidates = [_in_namespace(p, namespace) for p in policies]
    ranked = matching.ranked(incident, candidates)
    policy = ranked[0] if ranked else None
    if policy is not None:
        decision["policy"] = policy.metadata.name
    if incident.spec.alert_status == "resolved":
        return outcome(
            "Resolved",
            reasons.RESOLVED,
            "the alert resolved: a pending plan is cancelled (nothing changes), and an"
            " incident already remediated is closed",
        )
    if policy is None:
        return outcome(
            "NoPolicy",
            reasons.NO_MATCHING_POLICY,
            f"no RemediationPolicy matches alert {incident.spec.alertname}"
            f" ({incident.spec.severity}) in namespace {namespace}",
        )
    for rank, candidate in enumerate(ranked):
        if rank + 1 == len(ranked) or not options.with_state:
            break
        try:  # the reconciler tries the next policy when the plan says this one does not apply
            target = targets.resolve_target(incident, candidate)
            observed, _ = observe(objects, namespace, target, candidate)
            if observed.workload is not None:
                targets.check_bounds(candidate, target, observed.workload)
                planning.plan(incident, candidate, target, observed, now)
        except (planning.PlanningError, targets.TargetError) as e:
            if matching.falls_through(e.reason, rank, len(ranked)):
                decision.setdefault("skipped", []).append(
                    {"policy": candidate.metadata.name, "reason": e.reason, "message": str(e)}
                )
                policy = ranked[rank + 1]
                decision["policy"] = policy.metadata.name
                continue
        break
    try:
        target = targets.resolve_target(incident, policy)
    except targets.TargetError as e:
        return outcome("Blocked", e.reason, e.message)
    decision["target"] = f"{target.kind}/{target.name}"
    decision["approval"] = _approval_summary(policy, incident, options)

    if options.with_state:
        observed, missing = observe(objects, namespace, target, policy)
        decision["missing"] = missing
        if observed.workload is None:
            return outcome(
                "Blocked",
                reasons.TARGET_NOT_FOUND,
                f"{target.kind}/{target.name} not found in {namespace}",
            )
        try:
            targets.check_bounds(policy, target, observed.workload)
            plan = planning.plan(incident, policy, target, observed, now)
        except targets.TargetError as e:
            return outcome("Blocked", e.reason, e.message)
        except planning.PlanningError as e:
            return outcome("Blocked", e.reason, e.message)
        decision["plan"] = {
            "hash": plan.hash,
            "steps": [
                {
                    "action": s.action,
                    "target": s.target,
                    "summary": s.summary,
                    "desired": s.desired,
                }
                for s in plan.steps
            ],
        }
    else:
        decision["missing"] = ["observed state (--state): the plan is not computed"]

    config = guards.GlobalConfig(
        protected_namespaces=options.protected_namespaces, dry_run=options.dry_run
    )
    verdict = guards.check_guards(incident, policy, target, config, [], 0, now)
    dry_run = policy.spec.dry_run or options.dry_run
    decision["guards"] = {
        "allowed": verdict.allowed,
        "reason": verdict.reason,
        "message": verdict.message,
        "dryRun": dry_run,
        "notChecked": list(NOT_CHECKED_OFFLINE),
    }
    if not verdict.allowed:
        return outcome("Blocked", verdict.reason, verdict.message)
    decided = gating.gate(
        policy,
        incident.spec.severity,
        operator_dry_run=options.dry_run,
        plan_hash=decision["plan"]["hash"] if decision["plan"] else "?",
        deadline=_respond_by(incident, options),
    )
    return outcome(decided.phase, decided.reason, decided.message)


def simulate(
    payload: alerts.Payload,
    policies: Sequence[RemediationPolicy],
    objects: Sequence[Mapping[str, Any]],
    options: Options,
    now: datetime,
) -> dict[str, Any]:
    """The decisions for every alert of the payload, in payload order."""
    seen: set[str] = set()
    return {
        "receiver": payload.receiver,
        "status": payload.status,
        "decisions": [
            decide_alert(alert, policies, objects, options, now, seen) for alert in payload.alerts
        ],
    }


def render_text(result: Mapping[str, Any]) -> str:
    """The decisions for people: one block per alert."""
    lines: list[str] = []
    for number, d in enumerate(result["decisions"], 1):
        a = d["alert"]
        lines.append(
            f"alert {number}: {a['alertname']} ({a['status']}, fingerprint {a['fingerprint']})"
        )
        inc = d["incident"]
        if inc is not None:
            lines.append(
                f"  incident:  {inc['namespace']}/{inc['name']} severity {inc['severity']}"
            )
        lines.append(f"  outcome:   {d['outcome']} ({d['reason']}): {d['message']}")
        if d["outcome"] not in ("Duplicate", "Dropped"):
            lines.append(f"  policy:    {d['policy'] or 'none'}")
        for skipped in d.get("skipped", []):
            lines.append(
                f"  skipped:   {skipped['policy']} does not apply ({skipped['reason']}):"
                f" {skipped['message']}"
            )
        if d["target"]:
            lines.append(f"  target:    {d['target']}")
        if d["plan"]:
            lines.append(f"  plan:      {d['plan']['hash']}")
            lines += [f"    - {s['action']}: {s['summary']}" for s in d["plan"]["steps"]]
        for item in d["missing"]:
            lines.append(f"  missing:   {item}")
        gate = d["approval"]
        if gate:
            who = f", {gate['approvers']} approver(s)" if gate["mode"] == "required" else ""
            groups = (
                f" from {', '.join(gate['approverGroups'])}" if "approverGroups" in gate else ""
            )
            lines.append(
                f"  approval:  {gate['mode']}{who}{groups}, respond by {gate['respondBy']}"
            )
        g = d["guards"]
        if g:
            said = "allowed" if g["allowed"] else f"refused: {g['message']}"
            lines.append(f"  guards:    {said}; dry run: {'yes' if g['dryRun'] else 'no'}")
            lines.append(f"             not checked offline: {', '.join(g['notChecked'])}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
