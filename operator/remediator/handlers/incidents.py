"""Incident events: any creation, resumption or spec change advances the incident."""

from __future__ import annotations

from typing import Any

import kopf

from ..core.lifecycle import TERMINAL
from ..core.models import GROUP, VERSION
from .registry import REGISTRY, RETRY_BACKOFF


def _unfinished(status: kopf.Status, spec: kopf.Spec, **_: Any) -> bool:
    """Whether a resumed incident may still have work: finished ones (a terminal phase, no
    revert due by time, no resolution to record) are not re-read on every restart."""
    phase = status.get("phase", "Pending")
    if phase not in TERMINAL and phase != "Remediated":
        return True
    if phase == "Remediated" and spec.get("alertStatus") == "resolved":
        return True
    return any(
        a.get("state") == "Applied" and a.get("revertAt") for a in status.get("actions") or []
    )


@kopf.on.create(GROUP, VERSION, "incidents", backoff=RETRY_BACKOFF, registry=REGISTRY)
@kopf.on.resume(
    GROUP, VERSION, "incidents", backoff=RETRY_BACKOFF, when=_unfinished, registry=REGISTRY
)
@kopf.on.update(GROUP, VERSION, "incidents", field="spec", backoff=RETRY_BACKOFF, registry=REGISTRY)
async def incident_changed(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    # Kopf calls no resource handler before every index is filled: the view may be used.
    memo.reconciler.view.ready = True
    await memo.reconciler.reconcile(namespace or "", name)
