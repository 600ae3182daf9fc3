"""The view's count of remediations running now (MaxConcurrent), kept as the watch delivers
incidents, with this process's own newer writes winning. Past actions are not the view's:
the guards count the guard ledger (tests/core/test_boundary.py, tests/flows/test_attacks.py)."""

from __future__ import annotations

from remediator.view import ClusterView, IncidentSummary


def summary(
    name: str, *, phase: str = "Remediated", namespace: str = "shop", rv: str = "1"
) -> IncidentSummary:
    # (no deadline to respond by, no revert due)
    return IncidentSummary(
        namespace,
        name,
        rv,
        phase,
        respond_by=None,
        revert_at=(),
        needs_work=phase not in ("Remediated", "Blocked"),
    )


def index(view: ClusterView, *summaries: IncidentSummary) -> None:
    for s in summaries:
        view.indexed(s.namespace, s.name, s.resource_version, s)


def test_remediating_and_verifying_incidents_count_everywhere() -> None:
    view = ClusterView()
    index(
        view,
        summary("a"),
        summary("f", phase="Remediating"),
        summary("g", phase="Verifying", namespace="other"),
        summary("h", phase="Pending"),
    )
    assert view.active_remediations() == 2  # f and g: the limit is operator-wide


def test_a_new_version_replaces_the_old_and_a_deletion_removes_it() -> None:
    view = ClusterView()
    index(view, summary("a", phase="Remediating"))
    assert view.active_remediations() == 1
    index(view, summary("a", rv="2"))
    assert view.active_remediations() == 0
    index(view, summary("a", phase="Verifying", rv="3"))
    view.forget("shop", "a")
    assert view.active_remediations() == 0


def test_this_process_writes_win_until_the_watch_delivers_them() -> None:
    view = ClusterView()
    index(view, summary("a", phase="Matched"))
    # this process decided: remediating (the watch has not delivered it)
    view.wrote(summary("a", phase="Remediating", rv=""))
    assert view.active_remediations() == 1
    # a failed write is forgotten: the index (what is stored) counts again
    view.forget_write("shop", "a")
    assert view.active_remediations() == 0
    # stored, then delivered: the index has it, the write record is gone
    view.wrote(summary("a", phase="Remediating", rv="7"))
    index(view, summary("a", phase="Remediating", rv="7"))
    assert not view._written
    assert view.active_remediations() == 1
