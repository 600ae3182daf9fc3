"""Incident events: level-triggered, from the operator's own watch of Incidents (`informer`).

Every event after the first listing is looked at; the incident is reconciled when its status
says there may be work (`lifecycle.needs_work`). Events that only deliver this process's own
status writes are skipped: the reconcile that wrote them went on with the incident already.

Kopf used to deliver these events from a watch of its own (a watching handler). The informer
watches Incidents anyway, for the view, so every change was received and decoded twice, and
Kopf's processing of each event (a worker per object, a deep copy of the body for its diff
base) cost about as much CPU as the reconcile's API calls. The dispatcher keeps what Kopf
gave: one reconcile at a time per incident, the newest body for the next one, failures
retried (by the ticker, `Reconciler.retry_later`), and nothing handled while another replica
leads (Kopf's peering decides; the view follows its peering object by watch). What an event
arrives for while this replica does not lead is taken up when it starts to (`sweep`), as Kopf
listed every object again when it resumed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from ..core.lifecycle import needs_work
from ..reconcile import Reconciler
from .registry import RETRY_BACKOFF

log = structlog.get_logger("remediator.operator")

Key = tuple[str, str]


class Dispatcher:
    def __init__(self, reconciler: Reconciler, leads: Callable[[], bool]) -> None:
        """`leads`: whether this replica acts now (a cheap look at the view)."""
        self.reconciler = reconciler
        self.leads = leads
        self._running: dict[Key, asyncio.Task[None]] = {}
        # what arrived while a reconcile ran: the newest body (None: read it), and the
        # version of every event (None: not from an event), in order
        self._waiting: dict[Key, tuple[dict[str, Any] | None, list[str | None]]] = {}

    def event(self, kind: str, body: Mapping[str, Any]) -> None:
        """One watch event of an Incident (synchronous: called by the informer in order)."""
        meta = body.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        if kind == "DELETED":
            self._waiting.pop(key, None)
            self.reconciler.forget(*key)
            return
        if self.reconciler.own_write(*key, str(meta.get("resourceVersion", ""))):
            return  # the reconcile that wrote this version went on from it already
        if not needs_work(body) or not self.leads():
            return
        self._dispatch(key, dict(body))

    def sweep(self) -> int:
        """Reconcile every incident the view says may have work (read afresh): what this
        replica did not handle while another one led, or before it started. How many."""
        started = 0
        for summary in list(self.reconciler.view.summaries()):
            key = (summary.namespace, summary.name)
            if summary.needs_work and key not in self._running:
                self._dispatch(key, None)
                started += 1
        return started

    def _dispatch(self, key: Key, body: dict[str, Any] | None) -> None:
        if key in self._running:
            # the running one is followed by one with the newest body
            version = None if body is None else str(body["metadata"].get("resourceVersion", ""))
            versions = self._waiting[key][1] if key in self._waiting else []
            self._waiting[key] = (body, [*versions, version])
            return
        self._running[key] = asyncio.create_task(self._reconcile(key, body))

    async def _reconcile(self, key: Key, body: dict[str, Any] | None) -> None:
        namespace, name = key
        try:
            while True:
                try:
                    await self.reconciler.reconcile(namespace, name, body=body)
                except Exception as e:  # the ticker retries it
                    log.exception("reconcile failed", incident=f"{namespace}/{name}", error=str(e))
                    self.reconciler.retry_later(namespace, name, RETRY_BACKOFF)
                waiting = self._waiting.pop(key, None)
                if waiting is None or not self._still_needed(key, *waiting):
                    return
                body = waiting[0]
        finally:
            # no await between the last look at `_waiting` and this: an event that comes
            # after it starts a new task
            self._running.pop(key, None)

    def _still_needed(
        self, key: Key, body: Mapping[str, Any] | None, versions: list[str | None]
    ) -> bool:
        """Whether what arrived during a reconcile needs another. An event may deliver that
        reconcile's own write, whose answer had not come when the event did: known as such
        now (each version is looked at, in order, as the events came). Another writer's
        change among them needs one, unless the newest body says there is nothing to do."""
        own = [v is not None and self.reconciler.own_write(*key, v) for v in versions]
        if all(own):
            return False
        return body is None or needs_work(body)

    async def stop(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
