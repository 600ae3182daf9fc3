"""The operator's own Prometheus metrics, served on `/metrics` (`remediator run --metrics-port`).

One dedicated registry (`REGISTRY`), so that what is exported is exactly what is declared
here (plus the process and Python runtime collectors): the dashboard and the alert rules in
`deploy/monitoring/` are tested against `exported_names()`.

Counters and histograms count what this process did (Prometheus takes care of restarts
with `rate()`/`increase()`). The incident gauges are not counted up and down: they are a
view of the Incidents as the operator last saw them, replaced wholesale from the ticker's
periodic listing and updated on each transition in between, so they are right after a
restart, with two replicas, and when an Incident is deleted.

Label values are bounded: phases, severities, actions, action results, reason constants,
HTTP status codes and verbs; never an incident or policy name.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

import structlog
from aiohttp import web
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from . import __version__
from .core.models import SEVERITIES, Phase
from .core.times import parse_time_or_none

log = structlog.get_logger("remediator.metrics")

PHASES: tuple[str, ...] = get_args(Phase)
ACTION_RESULTS = ("Applied", "Skipped", "Failed", "DryRun", "Reverted", "RevertFailed")

# No `<name>_created` series next to every counter and histogram in the text format: they
# double the series count and nothing here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    # the default registry's instances: they read /proc and the interpreter, no state
    REGISTRY.register(_collector)

# Seconds; from well under a second (the operator acting on its own) to a P2's four hours
# and a P3's business day (approvals, and alerts whose startsAt lies well in the past).
DURATION_BUCKETS = (
    0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400,
)  # fmt: skip

BUILD_INFO = Info("remediator_build", "The running operator's version.", registry=REGISTRY)
BUILD_INFO.info({"version": __version__})

TRANSITIONS = Counter(
    "remediator_transitions",
    "Incident phase transitions made by this process, by new phase and reason.",
    ["phase", "reason"],
    registry=REGISTRY,
)
ACTIONS = Counter(
    "remediator_actions",
    "Planned actions carried out, by action and result "
    "(Applied, Skipped, Failed, DryRun, Reverted, RevertFailed).",
    ["action", "result"],
    registry=REGISTRY,
)
TIME_TO_REMEDIATE = Histogram(
    "remediator_time_to_remediate_seconds",
    "From the alert's startsAt (else the Incident's creation) to Remediated, by severity.",
    ["severity"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
APPROVAL_WAIT = Histogram(
    "remediator_approval_wait_seconds",
    "Time spent in AwaitingApproval, by severity and how it ended "
    "(approved, rejected, escalated, resolved).",
    ["severity", "decision"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
GUARD_REFUSALS = Counter(
    "remediator_guard_refusals",
    "Remediations a guard refused (Blocked, or deferred for MaxConcurrent), by reason.",
    ["reason"],
    registry=REGISTRY,
)
RECONCILE_DURATION = Histogram(
    "remediator_reconcile_duration_seconds",
    "Duration of one reconcile call (an Incident advanced as far as it can go now).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "remediator_reconcile_errors",
    "Reconcile calls that ended with an exception (retried by Kopf or the ticker).",
    registry=REGISTRY,
)
KUBE_REQUESTS = Counter(
    "remediator_kube_requests",
    "Kubernetes API requests made by the operator's adapter (each attempt), by HTTP verb "
    'and status code ("error": no response).',
    ["verb", "code"],
    registry=REGISTRY,
)
KUBE_REQUEST_DURATION = Histogram(
    "remediator_kube_request_duration_seconds",
    "Latency of the operator's Kubernetes API requests (each attempt), by HTTP verb.",
    ["verb"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
    registry=REGISTRY,
)
BRIDGE_REQUESTS = Counter(
    "remediator_bridge_requests",
    "HTTP requests to the Alertmanager bridge, by path and status code.",
    ["path", "code"],
    registry=REGISTRY,
)
BRIDGE_ALERTS = Counter(
    "remediator_bridge_alerts",
    "Alerts received by the bridge, by alert status (firing, resolved) and outcome "
    "(created, updated, unchanged, skipped, error).",
    ["status", "result"],
    registry=REGISTRY,
)
BRIDGE_REQUEST_DURATION = Histogram(
    "remediator_bridge_request_duration_seconds",
    "Time to answer a bridge request (POST /alerts: every Incident persisted).",
    ["path"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)


# ------------------------------------------------------------------ the incident view
@dataclass(frozen=True, slots=True)
class IncidentView:
    phase: str
    severity: str
    respond_by: datetime | None = None
    waiting_since: datetime | None = None  # entered AwaitingApproval
    seen_at: float = 0.0  # monotonic


def waiting_since(timeline: Iterable[Mapping[str, Any]]) -> datetime | None:
    """When the incident last entered AwaitingApproval, from its timeline."""
    since = None
    for entry in timeline:
        if entry.get("reason") == "AwaitingApproval":
            since = parse_time_or_none(entry.get("time"))
    return since


def view_of(body: Mapping[str, Any]) -> IncidentView:
    status = body.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    return IncidentView(  # one kept per Incident: the few values they share, interned
        phase=sys.intern(phase),
        severity=sys.intern(str((body.get("spec") or {}).get("severity") or "unknown")),
        respond_by=parse_time_or_none(status.get("respondBy")),
        waiting_since=(
            waiting_since(status.get("timeline") or []) if phase == "AwaitingApproval" else None
        ),
        seen_at=time.monotonic(),
    )


class IncidentsCollector(Collector):
    """Gauges over the Incidents as last seen: by phase and severity, and the approvals
    waiting (how many, how many past their respondBy, the oldest wait)."""

    def __init__(self) -> None:
        self.incidents: dict[tuple[str, str], IncidentView] = {}

    def reset(self) -> None:
        self.incidents.clear()

    def replace(self, bodies: Iterable[Mapping[str, Any]], listed_at: float) -> None:
        """The ticker's listing (started at monotonic `listed_at`) becomes the view; an
        incident seen on a transition since the listing started keeps that newer view."""
        fresh: dict[tuple[str, str], IncidentView] = {}
        self.add_views(fresh, bodies)
        self.replace_views(fresh, listed_at)

    @staticmethod
    def add_views(
        views: dict[tuple[str, str], IncidentView], bodies: Iterable[Mapping[str, Any]]
    ) -> None:
        """Add the views of these bodies to `views` (a listing read page by page)."""
        for body in bodies:
            meta = body.get("metadata") or {}
            key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
            views[key] = view_of(body)

    def replace_views(self, fresh: dict[tuple[str, str], IncidentView], listed_at: float) -> None:
        """`replace`, with the listing's views made by `add_views`."""
        for key, view in self.incidents.items():
            if view.seen_at > listed_at:
                fresh[key] = view
        self.incidents = fresh

    def update(self, namespace: str, name: str, view: IncidentView) -> None:
        self.incidents[(namespace, name)] = view

    def forget(self, namespace: str, name: str) -> None:
        self.incidents.pop((namespace, name), None)

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        families = list(self._families())
        now = datetime.now(UTC)
        counts: dict[tuple[str, str], int] = {}
        pending: dict[str, int] = {}
        overdue: dict[str, int] = {}
        oldest: dict[str, float] = {}
        for view in self.incidents.values():
            counts[(view.phase, view.severity)] = counts.get((view.phase, view.severity), 0) + 1
            if view.phase != "AwaitingApproval":
                continue
            pending[view.severity] = pending.get(view.severity, 0) + 1
            if view.respond_by is not None and now >= view.respond_by:
                overdue[view.severity] = overdue.get(view.severity, 0) + 1
            if view.waiting_since is not None:
                age = max(0.0, (now - view.waiting_since).total_seconds())
                oldest[view.severity] = max(oldest.get(view.severity, 0.0), age)
        by_phase, waiting, past, age_family = families
        severities = sorted({*SEVERITIES, *(s for _, s in counts)})
        for phase in sorted({*PHASES, *(p for p, _ in counts)}):
            for severity in severities:
                by_phase.add_metric([phase, severity], counts.get((phase, severity), 0))
        for severity in severities:
            waiting.add_metric([severity], pending.get(severity, 0))
            past.add_metric([severity], overdue.get(severity, 0))
            age_family.add_metric([severity], oldest.get(severity, 0.0))
        return families

    @staticmethod
    def _families() -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "remediator_incidents",
            "Incidents as the operator last saw them, by phase and severity.",
            labels=["phase", "severity"],
        )
        yield GaugeMetricFamily(
            "remediator_approvals_pending",
            "Incidents in AwaitingApproval, by severity.",
            labels=["severity"],
        )
        yield GaugeMetricFamily(
            "remediator_approvals_overdue",
            "Incidents still in AwaitingApproval past their respondBy (the severity's "
            "response time), by severity.",
            labels=["severity"],
        )
        yield GaugeMetricFamily(
            "remediator_approval_pending_age_seconds",
            "How long the oldest incident in AwaitingApproval has waited, by severity.",
            labels=["severity"],
        )


INCIDENTS = IncidentsCollector()
REGISTRY.register(INCIDENTS)


# ------------------------------------------------------------------- recording hooks
def observe_transition(
    namespace: str,
    name: str,
    *,
    previous: str,
    phase: str,
    reason: str,
    severity: str,
    started: datetime | None,
    waited_since: datetime | None,
    respond_by: datetime | None,
    now: datetime,
) -> None:
    """One transition, once its status is persisted."""
    TRANSITIONS.labels(phase=phase, reason=reason).inc()
    if phase == "Remediated" and started is not None:
        TIME_TO_REMEDIATE.labels(severity=severity).observe(
            max(0.0, (now - started).total_seconds())
        )
    if previous == "AwaitingApproval" and phase != "AwaitingApproval" and waited_since:
        decision = {
            "Remediating": "approved",
            "Rejected": "rejected",
            "Escalated": "escalated",
            "Resolved": "resolved",
        }.get(phase, "other")
        APPROVAL_WAIT.labels(severity=severity, decision=decision).observe(
            max(0.0, (now - waited_since).total_seconds())
        )
    if phase == "Blocked" and reason in _guard_reasons():
        GUARD_REFUSALS.labels(reason=reason).inc()
    INCIDENTS.update(
        namespace,
        name,
        IncidentView(
            phase=phase,
            severity=severity,
            respond_by=respond_by,
            waiting_since=now if phase == "AwaitingApproval" else None,
            seen_at=time.monotonic(),
        ),
    )


def observe_deferral(reason: str) -> None:
    """A guard said "not now" (MaxConcurrent): counted once per incident and reason."""
    GUARD_REFUSALS.labels(reason=reason).inc()


def observe_action(action: str, result: str) -> None:
    ACTIONS.labels(action=action, result=result).inc()


def _guard_reasons() -> frozenset[str]:
    from .core import reasons

    return reasons.GUARD_REASONS


def exported_names(registry: CollectorRegistry = REGISTRY) -> set[str]:
    """Every sample name the registry can export (a counter's `_total`, a histogram's
    `_bucket`/`_sum`/`_count`, ...), including labelled metrics with no sample yet."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("_sum", "_count", ""),
        "info": ("_info",),
        "gauge": ("",),
        "untyped": ("",),
        "stateset": ("",),
        "enum": ("",),
        "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    }
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


# ------------------------------------------------------------------------- serving
async def start(host: str, port: int) -> web.AppRunner:
    """Serve `GET /metrics` (the text or OpenMetrics exposition) until `runner.cleanup()`."""
    app = web.Application()
    app.router.add_get("/metrics", make_aiohttp_handler(REGISTRY))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("metrics listening", host=host, port=port)
    return runner
