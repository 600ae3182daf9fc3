"""The incident gauges: a view of the Incidents replaced from the ticker's listing, kept
right between listings by transitions; approvals pending, overdue and their age."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from remediator import metrics


def body(name: str, phase: str, severity: str = "P1", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "shop", "name": name},
        "spec": {"severity": severity},
        "status": {"phase": phase, **status},
    }


def samples(collector: metrics.IncidentsCollector) -> dict[tuple[str, tuple[str, ...]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.values()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_listing_becomes_the_view() -> None:
    now = datetime.now(UTC)  # per test: collection may be minutes earlier
    collector = metrics.IncidentsCollector()
    waiting_since = now - timedelta(minutes=20)
    collector.replace(
        [
            body("a", "Remediated", "P2"),
            body("b", "Remediated", "P2"),
            body(
                "c",
                "AwaitingApproval",
                "P0",
                respondBy=stamp(now - timedelta(minutes=5)),
                timeline=[
                    {"time": stamp(waiting_since - timedelta(seconds=1)), "reason": "Matched"},
                    {"time": stamp(waiting_since), "reason": "AwaitingApproval"},
                ],
            ),
            body("d", "AwaitingApproval", "P0", respondBy=stamp(now + timedelta(minutes=5))),
            body("e", "Pending", "P3"),
        ],
        listed_at=time.monotonic(),
    )
    got = samples(collector)
    assert got[("remediator_incidents", ("P2", "Remediated"))] == 2
    assert got[("remediator_incidents", ("AwaitingApproval", "P0"))] == 2
    assert got[("remediator_incidents", ("P3", "Pending"))] == 1
    assert got[("remediator_incidents", ("Failed", "P1"))] == 0  # every phase, zero included
    assert got[("remediator_approvals_pending", ("P0",))] == 2
    assert got[("remediator_approvals_overdue", ("P0",))] == 1
    assert got[("remediator_approvals_overdue", ("P1",))] == 0
    age = got[("remediator_approval_pending_age_seconds", ("P0",))]
    assert 20 * 60 - 2 <= age <= 20 * 60 + 60

    # the next listing replaces the view: a deleted incident is gone
    collector.replace([body("a", "Resolved", "P2")], listed_at=time.monotonic())
    got = samples(collector)
    assert got[("remediator_incidents", ("P2", "Remediated"))] == 0
    assert got[("remediator_incidents", ("P2", "Resolved"))] == 1
    assert got[("remediator_approvals_pending", ("P0",))] == 0


def test_a_transition_newer_than_the_listing_is_kept() -> None:
    collector = metrics.IncidentsCollector()
    listed_at = time.monotonic()  # the listing starts...
    collector.update(  # ...a transition lands while it is under way...
        "shop",
        "a",
        metrics.IncidentView(phase="Remediated", severity="P2", seen_at=time.monotonic() + 1),
    )
    collector.replace([body("a", "Remediating", "P2")], listed_at)  # ...then it arrives, stale
    got = samples(collector)
    assert got[("remediator_incidents", ("P2", "Remediated"))] == 1
    assert got[("remediator_incidents", ("P2", "Remediating"))] == 0


def test_exported_names_cover_labelled_metrics_without_samples() -> None:
    names = metrics.exported_names()
    assert {
        "remediator_actions_total",
        "remediator_time_to_remediate_seconds_bucket",
        "remediator_time_to_remediate_seconds_count",
        "remediator_incidents",
        "remediator_approvals_overdue",
        "remediator_build_info",
        "process_resident_memory_bytes",
    } <= names
    assert "remediator_actions_created" not in names
