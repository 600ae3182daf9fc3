"""Kopf indexes of Incidents and RemediationPolicies, kept from the watch streams.

The reconciler reads them (through `view.ClusterView`) in place of listing both resources
on every decision; `view` says why that is safe.

The handlers are coroutines although they never wait: Kopf runs a plain function in its
thread pool, a hop per watch event (thousands at a restart) for a few microseconds of work.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..core.models import GROUP, VERSION, RemediationPolicy
from ..view import IncidentSummary, summarize_body, valid_policy
from .registry import REGISTRY


@kopf.index(GROUP, VERSION, "incidents", registry=REGISTRY)
async def incident_index(
    namespace: str | None, name: str, body: kopf.Body, meta: kopf.Meta, memo: kopf.Memo, **_: Any
) -> dict[tuple[str, str], IncidentSummary] | None:
    summary = summarize_body(body)
    view = memo.get("view")
    if view is not None:  # the guards' own lookups (by target, policy, activity)
        view.indexed(namespace or "", name, str(meta.get("resourceVersion", "")), summary)
    return None if summary is None else {(namespace or "", name): summary}


@kopf.index(GROUP, VERSION, "remediationpolicies", registry=REGISTRY)
async def policy_index(
    namespace: str | None, name: str, body: kopf.Body, **_: Any
) -> dict[Any, RemediationPolicy] | None:
    policy = valid_policy(body)
    if policy is None:
        return None
    ns = namespace or ""
    # Matching reads only the policies that can match the alert's name (`view.candidates`):
    # a policy naming alerts matches no other alert; one naming none may match any.
    keys: list[Any] = [(ns, name), *((ns, "alertname", a) for a in policy.spec.match.alertnames)]
    if not policy.spec.match.alertnames:
        keys.append((ns, "any-alertname"))
    return dict.fromkeys(keys, policy)
