"""Approval events: a new decision may unblock (or end) the incident it names."""

from __future__ import annotations

from typing import Any

import kopf

from ..core.models import GROUP, VERSION
from .registry import REGISTRY, RETRY_BACKOFF


@kopf.on.create(GROUP, VERSION, "approvals", backoff=RETRY_BACKOFF, registry=REGISTRY)
async def approval_created(
    spec: kopf.Spec, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    incident = spec.get("incident")
    if incident:
        await memo.reconciler.reconcile(namespace or "", incident)
