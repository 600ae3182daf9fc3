"""Incident events to reconciles (`handlers.incidents.Dispatcher`): one at a time per
incident, the newest body next, this process's own writes skipped even when their events
come before the write's answer, nothing while another replica leads, and what may have work
taken up when this one starts to lead. The reconciler is a narrow fake of the one call the
dispatcher makes (`reconcile`)."""

from __future__ import annotations

import asyncio
from typing import Any

from remediator.handlers.incidents import Dispatcher
from remediator.reconcile import OperatorConfig, Reconciler
from remediator.view import summarize_body

from .fakes import unreachable_kube


def body(rv: int, phase: str = "Pending", name: str = "inc-1") -> dict[str, Any]:
    return {
        "apiVersion": "remediator.dev/v1alpha1",
        "kind": "Incident",
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": str(rv), "uid": "u"},
        "spec": {"alertname": "HighErrorRate", "severity": "P2"},
        "status": {"phase": phase},
    }


class Recorded(Reconciler):
    """Records each reconcile's body (its resourceVersion; None: read afresh), held until
    `release` is set; `writes` are stored as this process's own at the end of each."""

    def __init__(self) -> None:
        super().__init__(unreachable_kube(), OperatorConfig())
        self.calls: list[str | None] = []
        self.release = asyncio.Event()
        self.writes: list[str] = []

    async def reconcile(
        self, namespace: str, name: str, *, body: dict[str, Any] | None = None
    ) -> None:
        self.calls.append(None if body is None else body["metadata"]["resourceVersion"])
        await self.release.wait()
        for rv in self.writes:
            self._remember_own(namespace, name, rv)
        self.writes = []


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_events_during_a_reconcile_make_one_more_with_the_newest_body() -> None:
    reconciler = Recorded()
    dispatcher = Dispatcher(reconciler, leads=lambda: True)
    dispatcher.event("ADDED", body(1))
    await settle()
    for rv in (2, 3, 4):  # another writer's changes meanwhile
        dispatcher.event("MODIFIED", body(rv))
    reconciler.release.set()
    await settle()
    assert reconciler.calls == ["1", "4"]


async def test_an_own_write_whose_event_beat_its_answer_is_not_reconciled_again() -> None:
    reconciler = Recorded()
    dispatcher = Dispatcher(reconciler, leads=lambda: True)
    dispatcher.event("ADDED", body(1))
    await settle()
    reconciler.writes = ["2"]  # the reconcile's status write: its event comes first
    dispatcher.event("MODIFIED", body(2, phase="Remediating"))
    reconciler.release.set()
    await settle()
    assert reconciler.calls == ["1"]
    # ... but another writer's change folded before an own write is not lost
    reconciler.release.clear()
    dispatcher.event("MODIFIED", body(3, phase="Remediating"))
    await settle()
    reconciler.writes = ["5"]
    dispatcher.event("MODIFIED", body(4, phase="Remediating"))  # e.g. the spec edited
    dispatcher.event("MODIFIED", body(5, phase="Remediating"))  # then its own write
    reconciler.release.set()
    await settle()
    assert reconciler.calls == ["1", "3", "5"]


async def test_finished_incidents_and_a_standby_replica_reconcile_nothing() -> None:
    reconciler = Recorded()
    reconciler.release.set()
    leading = False
    dispatcher = Dispatcher(reconciler, leads=lambda: leading)
    dispatcher.event("ADDED", body(1, phase="Blocked"))
    dispatcher.event("ADDED", body(2, name="inc-2"))  # has work, but another replica leads
    await settle()
    assert reconciler.calls == []
    # this replica starts to lead: what the view says may have work is reconciled (read
    # afresh), what is finished is not
    for b in (body(1, phase="Blocked"), body(2, name="inc-2")):
        summary = summarize_body(b)
        assert summary is not None
        reconciler.view.put_incident("shop", b["metadata"]["name"], "1", summary)
    leading = True
    assert dispatcher.sweep() == 1
    await settle()
    assert reconciler.calls == [None]


async def test_a_deletion_forgets_the_incident() -> None:
    reconciler = Recorded()
    dispatcher = Dispatcher(reconciler, leads=lambda: True)
    reconciler.retry_later("shop", "inc-1", 5)
    dispatcher.event("DELETED", body(7))
    assert ("shop", "inc-1") not in reconciler.retry_at
