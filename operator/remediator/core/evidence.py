"""Evidence before action: what the target looked like just before the operator changed it.

The pods that leaked, crash-looped or failed are replaced by a restart or a rollback, and
their logs, restart counts and last termination reasons go with them. So before the first
step that changes the workload, the operator records (`executor.evidence` fetches, this
module decides and shapes):

- each selected pod (the least healthy first, up to `maxPods`): phase, readiness, restarts,
  the last termination's reason and exit code, node and images — never its environment,
  volumes or anything else from its spec;
- the last `logLines` lines of each container's log, and of the previous container where it
  restarted; a binary log is not shown, and logs are cut with a marker to fit `maxBytes`;
- the recent Events of the target, its ReplicaSets and its pods;
- the Deployment's revision history (revision, images, when each rolled out);
- the values of the policy's PromQL queries (its `evidence.queries`, preconditions and
  verify query) at that moment.

What did not arrive within the budget, or could not be read, is listed as missing: capture
never fails or holds up a remediation beyond its budget. Purely computational.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from remediator.core.models import (
    EvidenceSummary,
    Plan,
    PodEvidence,
    RemediationPolicy,
)

SECRET_TYPE = "remediator.dev/evidence"
SECRET_KEY = "evidence.json"
INCIDENT_LABEL = "remediator.dev/incident"
REVISION = "deployment.kubernetes.io/revision"

AUTO_ACTIONS = frozenset({"rollback", "restartPods", "isolatePods", "suspendCronJobs"})
"""Steps captured before by default: those that replace or cut off what shows the fault."""
CHANGING_ACTIONS = AUTO_ACTIONS | {"scale", "circuitBreaker"}
EVENTS_KEPT = 50
BINARY_MARKER = "[binary log: {size} bytes not shown]"
CUT_MARKER = "[… {size} earlier bytes cut to fit the evidence cap]\n"


def wanted(policy: RemediationPolicy, plan: Plan) -> bool:
    """Whether the policy's plan is captured before: `auto` for the actions that replace or
    isolate pods (a scale alone loses nothing), `always` before any change, `never`."""
    mode = policy.spec.evidence.capture
    actions = {step.action for step in plan.steps}
    if mode == "never":
        return False
    if mode == "always":
        return bool(actions & CHANGING_ACTIONS)
    return bool(actions & AUTO_ACTIONS)


def secret_name(incident: str, uid: str) -> str:
    """The evidence Secret's name: the incident's, and its uid's start (a re-created
    Incident of the same name gets its own)."""
    suffix = f"-evidence-{hashlib.sha256(uid.encode()).hexdigest()[:8]}"
    return incident[: 253 - len(suffix)] + suffix


def queries(policy: RemediationPolicy) -> dict[str, str]:
    """name → PromQL: the policy's evidence queries, its preconditions and its verify query."""
    found = {q.name: q.query for q in policy.spec.evidence.queries}
    for index, check in enumerate(policy.spec.guards.preconditions):
        found.setdefault(f"precondition-{index}", check.query)
    if policy.spec.verify is not None:
        found.setdefault("verify", policy.spec.verify.query)
    return found


# --------------------------------------------------------------------------- pods
def _restarts(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def _ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _termination(status: Mapping[str, Any]) -> dict[str, Any] | None:
    """A container's last termination (the previous container's, else its own now)."""
    terminated = ((status.get("lastState") or {}).get("terminated")) or (
        (status.get("state") or {}).get("terminated")
    )
    if not terminated:
        return None
    return {
        "reason": str(terminated.get("reason") or ""),
        "exitCode": terminated.get("exitCode"),
        "finishedAt": terminated.get("finishedAt"),
    }


def _termination_text(pod: Mapping[str, Any]) -> str:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        last = _termination(status)
        if last is not None:
            code = last["exitCode"]
            return (
                f"{last['reason'] or 'Terminated'}, exit {code}"
                if code is not None
                else (last["reason"] or "Terminated")
            )
    return ""


def select_pods(pods: Iterable[Mapping[str, Any]], limit: int) -> list[Mapping[str, Any]]:
    """The pods worth keeping, the least healthy first: not ready, then most restarts."""
    ranked = sorted(
        pods,
        key=lambda p: (_ready(p), -_restarts(p), str((p.get("metadata") or {}).get("name"))),
    )
    return ranked[:limit]


def pod_summary(pod: Mapping[str, Any]) -> PodEvidence:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    images = [str(c.get("image") or "") for c in spec.get("containers") or []]
    return PodEvidence(
        name=str((pod.get("metadata") or {}).get("name") or ""),
        phase=str(status.get("phase") or ""),
        ready=_ready(pod),
        restarts=_restarts(pod),
        last_termination=_termination_text(pod)[:256],
        node=str(spec.get("nodeName") or ""),
        image=", ".join(images)[:256],
    )


def pod_record(pod: Mapping[str, Any]) -> dict[str, Any]:
    """What the evidence keeps of a pod: its state, never its spec's environment, volumes,
    commands or anything else a Secret could have been put in."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    containers = []
    by_name = {s.get("name"): s for s in status.get("containerStatuses") or []}
    for container in spec.get("containers") or []:
        state = by_name.get(container.get("name")) or {}
        containers.append(
            {
                "name": container.get("name"),
                "image": container.get("image"),
                "ready": bool(state.get("ready")),
                "restartCount": int(state.get("restartCount") or 0),
                "state": sorted((state.get("state") or {}).keys()),
                "lastTermination": _termination(state),
            }
        )
    return {
        "name": (pod.get("metadata") or {}).get("name"),
        "phase": status.get("phase"),
        "ready": _ready(pod),
        "node": spec.get("nodeName"),
        "startTime": status.get("startTime"),
        "reason": status.get("reason"),
        "containers": containers,
    }


def log_requests(pod: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """(container, previous) for every log worth reading: each container's, and its previous
    container's where it restarted."""
    restarted = {
        s.get("name")
        for s in (pod.get("status") or {}).get("containerStatuses") or []
        if int(s.get("restartCount") or 0) > 0
    }
    wanted_logs = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        name = str(container.get("name") or "")
        wanted_logs.append((name, False))
        if name in restarted:
            wanted_logs.append((name, True))
    return wanted_logs


# ------------------------------------------------------------------ history, events
def revisions(replicasets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The revision history: revision, images and creation time of each ReplicaSet, newest
    first."""
    history = []
    for rs in replicasets:
        meta = rs.get("metadata") or {}
        template = ((rs.get("spec") or {}).get("template") or {}).get("spec") or {}
        revision = str((meta.get("annotations") or {}).get(REVISION) or "")
        history.append(
            {
                "revision": int(revision) if revision.isdigit() else None,
                "replicaSet": meta.get("name"),
                "images": [c.get("image") for c in template.get("containers") or []],
                "created": meta.get("creationTimestamp"),
                "replicas": (rs.get("status") or {}).get("replicas", 0),
            }
        )
    return sorted(history, key=lambda r: -(r["revision"] or 0))


def event_sources(
    target: tuple[str, str], pods: Iterable[Mapping[str, Any]], history: Sequence[Mapping[str, Any]]
) -> list[tuple[str, str]]:
    """The objects whose Events are read, as (kind, name): the workload, its two newest
    ReplicaSets (a rollout's FailedCreate), and the captured pods (BackOff, Unhealthy,
    Killing). Each is asked for by name, as `kubectl describe` does, so a namespace of
    thousands of Events hides none of them."""
    sources = [target]
    sources += [("ReplicaSet", str(r["replicaSet"])) for r in history[:2] if r.get("replicaSet")]
    sources += [("Pod", str((p.get("metadata") or {}).get("name"))) for p in pods]
    return sources


def events_of(
    events: Iterable[Mapping[str, Any]], sources: Iterable[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The latest Events about the given (kind, name) objects, oldest first (at most
    `EVENTS_KEPT`)."""
    wanted = set(sources)
    kept = []
    for event in events:
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if (involved.get("kind"), involved.get("name")) not in wanted:
            continue
        kept.append(
            {
                "time": event.get("lastTimestamp")
                or event.get("eventTime")
                or (event.get("metadata") or {}).get("creationTimestamp"),
                "type": event.get("type"),
                "reason": event.get("reason"),
                "object": f"{involved.get('kind')}/{involved.get('name')}",
                "message": str(event.get("message") or event.get("note") or "")[:1024],
                "count": event.get("count") or 1,
            }
        )
    kept.sort(key=lambda e: str(e["time"] or ""))
    return kept[-EVENTS_KEPT:]


# -------------------------------------------------------------------------- logs
def clip_log(raw: bytes, limit: int) -> tuple[str, bool]:
    """A log as text of at most `limit` bytes (its end kept, a marker where it was cut),
    and whether it was cut. A binary log (NUL bytes, or mostly undecodable) is not shown."""
    if b"\x00" in raw[:65536]:
        return BINARY_MARKER.format(size=len(raw)), True
    text = raw.decode("utf-8", errors="replace")
    if text.count("\ufffd") > len(text) // 10 + 8:
        return BINARY_MARKER.format(size=len(raw)), True
    data = text.encode()
    if len(data) <= limit:
        return text, False
    marker = CUT_MARKER.format(size=len(data) - limit)
    keep = max(limit - len(marker.encode()), 0)
    tail = data[len(data) - keep :].decode("utf-8", errors="ignore") if keep else ""
    return marker + tail, True


# ----------------------------------------------------------------------- assembly
@dataclass
class Gathered:
    """What the capture brought back, before it is shaped to fit (see `assemble`)."""

    target: str
    pods: list[Mapping[str, Any]] = field(default_factory=list)
    logs: dict[str, bytes] = field(default_factory=dict)  # "pod/container[ (previous)]"
    events: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def log_key(pod: str, container: str, previous: bool) -> str:
    return f"{pod}/{container}" + (" (previous)" if previous else "")


def assemble(
    gathered: Gathered, *, cap: int, captured_at: datetime, took_ms: int, secret: str
) -> tuple[dict[str, Any], EvidenceSummary]:
    """The evidence document (what the Secret holds) and its summary (what the status
    holds). Everything but the logs is kept whole; the logs share what is left of `cap`
    equally (a short one leaves its share to the others), each cut at its start."""
    document: dict[str, Any] = {
        "target": gathered.target,
        "capturedAt": captured_at.isoformat(),
        "tookMs": took_ms,
        "pods": [pod_record(p) for p in gathered.pods],
        "events": gathered.events,
        "revisions": gathered.revisions,
        "metrics": gathered.metrics,
        "missing": list(gathered.missing),
        "logs": {},
    }
    while document["events"] and _size(document) > cap // 2:
        document["events"].pop(0)  # the oldest go first; the logs keep half the cap at least
        dropped = "events: older ones dropped to fit the cap"
        if dropped not in document["missing"]:
            document["missing"].append(dropped)
    room = max(cap - _size(document) - 64 * len(gathered.logs), 0)
    truncated = False
    ordered = sorted(gathered.logs.items(), key=lambda item: len(item[1]))
    for index, (key, raw) in enumerate(ordered):
        share = room // (len(ordered) - index)
        text, cut = _fit(raw, share)
        truncated |= cut and not text.startswith("[binary")
        document["logs"][key] = text
        room -= len(json.dumps(text).encode())
    size = _size(document)
    summary = EvidenceSummary(
        secret=secret,
        captured_at=captured_at,
        took_ms=took_ms,
        pods=[pod_summary(p) for p in gathered.pods],
        missing=[m[:256] for m in document["missing"][:50]],
        bytes=size,
        truncated=truncated,
    )
    return document, summary


def _size(document: Mapping[str, Any]) -> int:
    return len(json.dumps(document).encode())


def _fit(raw: bytes, share: int) -> tuple[str, bool]:
    """`clip_log` within `share` bytes once JSON-encoded (escapes make text longer)."""
    limit = share
    while True:
        text, cut = clip_log(raw, limit)
        over = len(json.dumps(text).encode()) - share
        if over <= 0 or limit == 0:
            return text, cut
        limit = max(limit - over - 16, 0)


def describe(summary: EvidenceSummary) -> str:
    """One line for the timeline and `kubectl describe`: the pods, their restarts and last
    terminations, what is missing and where the whole is kept."""
    pods = "; ".join(
        f"{p.name} {p.phase or '?'}{'' if p.ready else ' not ready'}, {p.restarts} restart(s)"
        + (f", last {p.last_termination}" if p.last_termination else "")
        for p in summary.pods
    )
    text = (
        f"evidence captured in {summary.took_ms} ms: {len(summary.pods)} pod(s)"
        + (f" ({pods})" if pods else "")
        + (f"; kept in Secret {summary.secret}" if summary.secret else "; not kept")
        + f" ({summary.bytes} bytes"
        + (", logs cut to fit" if summary.truncated else "")
        + ")"
    )
    if summary.missing:
        text += f"; missing: {', '.join(summary.missing[:5])}"
        if len(summary.missing) > 5:
            text += f" and {len(summary.missing) - 5} more"
    return text


def render(document: Mapping[str, Any], *, logs: bool = True) -> str:
    """The evidence as text (`remediator evidence`, the review)."""
    lines = [f"Evidence of {document.get('target')} at {document.get('capturedAt')}"]
    lines.append("Pods:")
    for pod in document.get("pods") or []:
        for c in pod.get("containers") or []:
            last = c.get("lastTermination") or {}
            ended = (
                f", last terminated {last.get('reason')} (exit {last.get('exitCode')})"
                if last
                else ""
            )
            lines.append(
                f"  {pod.get('name')}/{c.get('name')}: {pod.get('phase')},"
                f" {'ready' if c.get('ready') else 'not ready'}, {c.get('restartCount')}"
                f" restart(s){ended}, image {c.get('image')}, node {pod.get('node')}"
            )
    revisions_seen: Sequence[Mapping[str, Any]] = document.get("revisions") or []
    if revisions_seen:
        lines.append("Revisions:")
        lines += [
            f"  {r.get('revision')}: {', '.join(map(str, r.get('images') or []))}"
            f" (created {r.get('created')}, {r.get('replicas')} replica(s))"
            for r in revisions_seen
        ]
    if document.get("metrics"):
        lines.append("Metrics:")
        lines += [f"  {name}: {value}" for name, value in document["metrics"].items()]
    if document.get("events"):
        lines.append("Events:")
        lines += [
            f"  {e.get('time')} {e.get('type')} {e.get('reason')} {e.get('object')}:"
            f" {e.get('message')}"
            for e in document["events"]
        ]
    if document.get("missing"):
        lines.append("Missing: " + "; ".join(document["missing"]))
    if logs:
        for key, text in (document.get("logs") or {}).items():
            lines.append(f"--- log {key}")
            lines.append(str(text).rstrip("\n"))
    return "\n".join(lines)
