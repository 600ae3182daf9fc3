"""A post-incident review (PIR) in Markdown, written from an Incident's status.

The playbook asks for a review within 48 hours that documents the timeline, what was done
and the follow-ups. Everything the operator knows is in the Incident's status — the
timeline, the plan, each action's result, the approvals — so `remediator report` turns it
into the review's first draft: a summary, the timeline, actions and results, approvals,
the time to act against the severity's response target (P0 15m, P1 1h, P2 4h, P3 next
business day), and the playbook's post-incident checklist as Markdown checkboxes.
Purely computational: the Incident, `now` and the time zone are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from remediator.core.gating import respond_by
from remediator.core.models import ActionRecord, Incident

PIR_WITHIN = timedelta(hours=48)
RESPONSE_TARGETS = {"P0": "15 minutes", "P1": "1 hour", "P2": "4 hours", "P3": "next business day"}
ACTED_STATES = ("Applied", "Reverted", "Skipped", "DryRun", "Failed")

CHECKLIST: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Immediate (Day 1)",
        (
            "Incident closed in paging system",
            "Status page updated",
            "Stakeholders notified",
            "Monitoring confirmed normal",
            "Temporary fixes documented",
        ),
    ),
    (
        "Short-term (Week 1)",
        ("PIR completed", "Action items created", "Runbooks updated", "Team debriefed"),
    ),
    (
        "Long-term (Month 1)",
        (
            "Permanent fixes implemented",
            "Prevention measures added",
            "Monitoring improved",
            "Documentation updated",
        ),
    ),
)
"""The playbook's "Post-Incident Actions", in its order and words."""


def _time(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def human_duration(delta: timedelta) -> str:
    """`45s`, `12m 5s`, `3h 2m`, `2d 4h`: coarse enough to read, exact enough to compare."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{sign}{minutes}m {seconds}s" if seconds else f"{sign}{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours}h {minutes}m" if minutes else f"{sign}{hours}h"
    days, hours = divmod(hours, 24)
    return f"{sign}{days}d {hours}h" if hours else f"{sign}{days}d"


def _cell(text: object) -> str:
    """Text safe in a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|") or "—"


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


@dataclass(frozen=True)
class TimeToAct:
    """How fast the incident was acted on, against its severity's response target."""

    started: datetime
    deadline: datetime
    acted: datetime | None  # first action started (None: nothing was done)
    first_response: datetime | None  # first decision by anyone after it was opened
    resolved: datetime | None  # Remediated / Resolved, whichever came first

    @property
    def met(self) -> bool | None:
        """Whether it was acted on in time; None when no action was taken."""
        return None if self.acted is None else self.acted <= self.deadline


def time_to_act(incident: Incident, tz: tzinfo = UTC) -> TimeToAct:
    status = incident.status
    started = (
        incident.spec.starts_at
        or incident.metadata.creation_timestamp
        or (status.timeline[0].time if status.timeline else None)
        or datetime.fromtimestamp(0, UTC)
    )
    deadline = respond_by(incident.spec.severity, started, tz)
    acted_at = [a.started_at or a.finished_at for a in status.actions if a.state in ACTED_STATES]
    acted = min((t for t in acted_at if t is not None), default=None)
    response = [
        e.time
        for e in status.timeline
        if e.reason in ("Approved", "Rejected", "AutoApproved", "ApprovalReceived", "NotifyOnly")
    ]
    resolved = [e.time for e in status.timeline if e.reason in ("Remediated", "Resolved")]
    return TimeToAct(
        started=started,
        deadline=deadline,
        acted=acted,
        first_response=min(response, default=None),
        resolved=min(resolved, default=None),
    )


def _revert_text(action: ActionRecord) -> str:
    if action.state == "Reverted":
        return "reverted"
    if action.revert_at is not None:
        return f"revert due {_time(action.revert_at)}"
    return "recorded" if action.revert else "—"


def _evidence(incident: Incident, document: Mapping[str, Any] | None) -> list[str]:
    """The evidence captured before the first change: the summary from the status, and the
    whole (revisions, Events, metrics, logs) when its Secret could be read."""
    summary = incident.status.evidence
    if summary is None:
        return ["No evidence was captured (the policy's evidence.capture, or no change made)."]
    kept = f"kept in Secret `{summary.secret}`" if summary.secret else "not kept"
    lines = [
        f"Captured {_time(summary.captured_at)} in {summary.took_ms} ms, {kept}"
        f" ({summary.bytes} bytes{', logs cut to fit' if summary.truncated else ''}).",
        "",
    ]
    if summary.pods:
        lines += _table(
            ("Pod", "Phase", "Ready", "Restarts", "Last termination", "Node", "Image"),
            [
                (
                    p.name,
                    p.phase,
                    "yes" if p.ready else "no",
                    p.restarts,
                    p.last_termination,
                    p.node,
                    p.image,
                )
                for p in summary.pods
            ],
        )
    if summary.missing:
        lines += ["", "Missing: " + "; ".join(summary.missing)]
    if document is None:
        return lines
    if document.get("revisions"):
        lines += ["", "### Revisions", ""]
        lines += _table(
            ("Revision", "Images", "Created", "Replicas"),
            [
                (
                    r.get("revision"),
                    ", ".join(map(str, r.get("images") or [])),
                    r.get("created"),
                    r.get("replicas"),
                )
                for r in document["revisions"]
            ],
        )
    if document.get("metrics"):
        lines += ["", "### Metrics", ""]
        lines += _table(("Query", "Values"), list(document["metrics"].items()))
    if document.get("events"):
        lines += ["", "### Events", ""]
        lines += _table(
            ("Time", "Type", "Reason", "Object", "Message"),
            [
                (e.get("time"), e.get("type"), e.get("reason"), e.get("object"), e.get("message"))
                for e in document["events"]
            ],
        )
    for key, text in (document.get("logs") or {}).items():
        lines += ["", f"### Log {key}", "", "```text", str(text).rstrip("\n"), "```"]
    return lines


def render(
    incident: Incident,
    *,
    now: datetime | None = None,
    tz: tzinfo = UTC,
    evidence: Mapping[str, Any] | None = None,
) -> str:
    """The review as Markdown. `now` only dates the report (None: not dated); `evidence`:
    the captured evidence (the Secret's document), else only its summary is shown."""
    meta, spec, status = incident.metadata, incident.spec, incident.status
    timing = time_to_act(incident, tz)
    plan = status.plan
    target = (
        f"{spec.target.kind}/{spec.target.name}"
        if spec.target
        else ", ".join(sorted({a.target for a in status.actions if a.target})) or "—"
    )
    lines = [f"# Post-incident review: {meta.namespace}/{meta.name}", ""]
    if now is not None:
        lines += [f"_Drafted {_time(now)} from the Incident's status by `remediator report`._", ""]

    lines += ["## Summary", ""]
    lines += _table(
        ("Field", "Value"),
        [
            ("Alert", spec.alertname),
            ("Severity", f"{spec.severity} (response target: {RESPONSE_TARGETS[spec.severity]})"),
            ("Summary", spec.summary or "—"),
            ("Source", spec.source),
            ("Alert status", spec.alert_status),
            ("Labels", ", ".join(f"{k}={v}" for k, v in sorted(spec.labels.items())) or "—"),
            ("Started", _time(timing.started)),
            ("Respond by", _time(status.respond_by or timing.deadline)),
            ("Policy", status.policy or "none"),
            ("Target", target),
            ("Plan", plan.hash if plan else "—"),
            ("Outcome", f"{status.phase}: {status.message}" if status.message else status.phase),
        ],
    )

    lines += ["", "## Timeline", ""]
    if status.timeline:
        lines += _table(
            ("Time (UTC)", "Since start", "Event", "Actor", "Details"),
            [
                (
                    _time(e.time),
                    human_duration(e.time - timing.started),
                    e.reason,
                    e.actor,
                    e.message,
                )
                for e in status.timeline  # recorded order: the order things happened
            ],
        )
    else:
        lines.append("No timeline was recorded.")

    lines += ["", "## Actions and results", ""]
    if plan is not None and plan.steps:
        lines.append(f"Plan `{plan.hash}`, created {_time(plan.created_at)}:")
        lines.append("")
        lines += [f"{s.index + 1}. `{s.action}` on {s.target}: {s.summary}" for s in plan.steps]
        lines.append("")
    if status.actions:
        lines += _table(
            ("#", "Action", "Target", "State", "Started", "Finished", "Result", "Revert"),
            [
                (
                    a.index + 1,
                    a.action,
                    a.target,
                    a.state,
                    _time(a.started_at),
                    _time(a.finished_at),
                    a.result,
                    _revert_text(a),
                )
                for a in status.actions
            ],
        )
    else:
        lines.append("No action was planned.")

    lines += ["", "## Evidence before action", ""]
    lines += _evidence(incident, evidence)

    lines += ["", "## Approvals", ""]
    if status.approvals:
        lines += _table(
            ("Who", "Decision", "When", "Plan", "Counted", "Reason"),
            [
                (
                    r.approver or "<unverified>",
                    r.decision,
                    _time(r.at),
                    r.plan_hash + ("" if not plan or r.plan_hash == plan.hash else " (stale)"),
                    "yes" if r.counted else "no",
                    r.reason,
                )
                for r in status.approvals
            ],
        )
    else:
        auto = any(e.reason == "AutoApproved" for e in status.timeline)
        lines.append(
            "None needed: the policy's approval mode for this severity is auto."
            if auto
            else "No approval was recorded."
        )

    lines += ["", "## Time to act", ""]
    rows: list[tuple[str, str]] = [
        ("Response target", f"{RESPONSE_TARGETS[spec.severity]} (by {_time(timing.deadline)})")
    ]
    if timing.first_response is not None:
        rows.append(
            (
                "First decision",
                human_duration(timing.first_response - timing.started) + " after start",
            )
        )
    if timing.acted is not None:
        verdict = (
            "within the target"
            if timing.met
            else f"missed the target by {human_duration(timing.acted - timing.deadline)}"
        )
        rows.append(("Time to act", f"{human_duration(timing.acted - timing.started)} — {verdict}"))
    else:
        rows.append(("Time to act", f"no action was taken (phase {status.phase})"))
    if timing.resolved is not None:
        rows.append(("Time to resolve", human_duration(timing.resolved - timing.started)))
    lines += _table(("Measure", "Value"), rows)

    lines += ["", "## Post-incident checklist", ""]
    lines.append(f"PIR due by {_time(timing.started + PIR_WITHIN)} (within 48 hours).")
    for heading, items in CHECKLIST:
        lines += ["", f"### {heading}", ""]
        lines += [f"- [ ] {item}" for item in items]
    lines += ["", "## Root cause and action items", "", "_To be written by the team._", ""]
    return "\n".join(lines)
