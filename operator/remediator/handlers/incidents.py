"""Incident events: any creation, resumption or spec change advances the incident."""

from __future__ import annotations

from typing import Any

import kopf

from ..core.models import GROUP, VERSION
from .registry import REGISTRY


@kopf.on.create(GROUP, VERSION, "incidents", registry=REGISTRY)
@kopf.on.resume(GROUP, VERSION, "incidents", registry=REGISTRY)
@kopf.on.update(GROUP, VERSION, "incidents", field="spec", registry=REGISTRY)
async def incident_changed(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    await memo.reconciler.reconcile(namespace or "", name)
