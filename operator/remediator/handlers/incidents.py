"""Incident events: level-triggered, from the watch stream Kopf holds anyway.

Every event (including each object of the initial listing after a start) is looked at; the
incident is reconciled when its status says there may be work: a phase not yet finished,
a revert due by time, a resolution to record, or a spec the status has not yet seen
(`metadata.generation` ahead of `status.observedGeneration`). Events that only deliver
this process's own status writes are skipped: the reconcile that wrote them went on with
the incident already.

This is a watching handler, not Kopf's change handlers (create/update/resume): those store
Kopf's progress and a copy of the spec in annotations, which cost one more write per
incident and one more watch event, for nothing the status does not already say. Failures
are retried by the ticker (`Reconciler.retry_later`), as Kopf would retry a handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf
import structlog

from ..core.lifecycle import TERMINAL
from ..core.models import GROUP, VERSION
from .registry import REGISTRY, RETRY_BACKOFF

log = structlog.get_logger("remediator.operator")


def needs_work(body: Mapping[str, Any]) -> bool:
    """Whether the incident may have a next step (the reconcile decides which)."""
    status = body.get("status") or {}
    spec = body.get("spec") or {}
    generation = (body.get("metadata") or {}).get("generation")
    if generation is not None and status.get("observedGeneration") != generation:
        return True
    phase = status.get("phase", "Pending")
    if phase not in TERMINAL and phase != "Remediated":
        return True
    if phase == "Remediated" and spec.get("alertStatus") == "resolved":
        return True
    return any(
        a.get("state") == "Applied" and a.get("revertAt") for a in status.get("actions") or []
    )


@kopf.on.event(GROUP, VERSION, "incidents", registry=REGISTRY)
async def incident_event(
    event: kopf.RawEvent,
    body: kopf.Body,
    meta: kopf.Meta,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    reconciler = memo.reconciler
    ns = namespace or ""
    if event.get("type") == "DELETED":
        reconciler.forget(ns, name)
        return
    if reconciler.own_write(ns, name, str(meta.get("resourceVersion", ""))):
        return  # the reconcile that wrote this version went on from it already
    if not needs_work(body):
        return
    try:
        await reconciler.reconcile(ns, name, body=dict(body))
    except Exception as e:  # a watching handler is not retried by Kopf: the ticker does
        log.exception("reconcile failed", incident=f"{ns}/{name}", error=str(e))
        reconciler.retry_later(ns, name, RETRY_BACKOFF)
