"""Incident events: any creation, resumption or spec change advances the incident."""

from __future__ import annotations

from typing import Any

import kopf

from ..core.models import GROUP, VERSION
from .registry import REGISTRY, RETRY_BACKOFF


@kopf.on.create(GROUP, VERSION, "incidents", backoff=RETRY_BACKOFF, registry=REGISTRY)
@kopf.on.resume(GROUP, VERSION, "incidents", backoff=RETRY_BACKOFF, registry=REGISTRY)
@kopf.on.update(GROUP, VERSION, "incidents", field="spec", backoff=RETRY_BACKOFF, registry=REGISTRY)
async def incident_changed(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    # Kopf calls no resource handler before every index is filled: the view may be used.
    memo.reconciler.view.ready = True
    await memo.reconciler.reconcile(namespace or "", name)
