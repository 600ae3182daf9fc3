"""The view's lookups for the guards: the incidents that can refuse a decision, kept as the
watch delivers them, with this process's own newer writes winning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from remediator.core import guards
from remediator.view import ClusterView, IncidentSummary

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def summary(
    name: str,
    *,
    phase: str = "Remediated",
    actions: tuple[tuple[str, str], ...] = (),
    namespace: str = "shop",
    rv: str = "1",
) -> IncidentSummary:
    """An incident of `phase` whose actions changed (target, policy) pairs."""
    return IncidentSummary(
        namespace=namespace,
        name=name,
        resource_version=rv,
        phase=phase,
        respond_by=None,
        past=tuple(
            guards.PastAction(namespace, target, policy, name, T0 + timedelta(minutes=i))
            for i, (target, policy) in enumerate(actions)
        ),
        revert_at=(),
    )


def index(view: ClusterView, *summaries: IncidentSummary) -> None:
    for s in summaries:
        view.indexed(s.namespace, s.name, s.resource_version, s)


def incidents(history: list[guards.PastAction]) -> set[str]:
    return {a.incident for a in history}


def test_only_incidents_on_the_target_or_under_the_policy_are_read() -> None:
    view = ClusterView()
    index(
        view,
        summary("a", actions=(("Deployment/web", "scale"),)),
        summary("b", actions=(("Deployment/api", "scale"),)),  # same policy
        summary("c", actions=(("Deployment/web", "restart"),)),  # same target
        summary("d", actions=(("Deployment/db", "restart"),)),  # neither
        summary("e", actions=(("Deployment/web", "scale"),), namespace="other"),
        summary("f", phase="Remediating"),
        summary("g", phase="Verifying", namespace="other"),
        summary("h", phase="Pending"),
    )
    history, active = view.guard_inputs("shop", "Deployment/web", "scale")
    assert incidents(history) == {"a", "b", "c"}
    assert active == 2  # f and g: the limit is operator-wide


def test_a_new_version_replaces_the_old_and_a_deletion_removes_it() -> None:
    view = ClusterView()
    index(view, summary("a", phase="Remediating", actions=(("Deployment/web", "scale"),)))
    assert view.guard_inputs("shop", "Deployment/web", "scale")[1] == 1
    index(view, summary("a", rv="2", actions=(("Deployment/api", "other"),)))
    history, active = view.guard_inputs("shop", "Deployment/web", "scale")
    assert (history, active) == ([], 0)
    assert incidents(view.guard_inputs("shop", "Deployment/api", "x")[0]) == {"a"}
    view.forget("shop", "a")
    assert view.guard_inputs("shop", "Deployment/api", "x") == ([], 0)


def test_this_process_writes_win_until_the_watch_delivers_them() -> None:
    view = ClusterView()
    index(view, summary("a", phase="Matched"))
    # this process decided: remediating, acted on web (the watch has not delivered it)
    view.wrote(summary("a", phase="Remediating", actions=(("Deployment/web", "scale"),), rv=""))
    history, active = view.guard_inputs("shop", "Deployment/web", "any")
    assert (incidents(history), active) == ({"a"}, 1)
    # a failed write is forgotten: the index (what is stored) counts again
    view.forget_write("shop", "a")
    assert view.guard_inputs("shop", "Deployment/web", "any") == ([], 0)
    # stored, then delivered: the index has it, the write record is gone
    view.wrote(summary("a", phase="Remediated", actions=(("Deployment/web", "scale"),), rv="7"))
    index(view, summary("a", phase="Remediated", actions=(("Deployment/web", "scale"),), rv="7"))
    assert not view._written
    history, active = view.guard_inputs("shop", "Deployment/web", "any")
    assert (incidents(history), active) == ({"a"}, 0)
