"""Admission webhooks: approvals get the requester's verified identity; bad policies are refused.

Served by Kopf's webhook server and registered by Kopf itself (`settings.admission.managed`).
An Approval's `spec.approver` comes only from the API server's `userInfo`: a client that
sets it is refused, and the stamp is sealed so the reconciler can tell it from a forgery.
Approvals are immutable once created. A RemediationPolicy that does not validate is
refused with the message naming the field.

An Incident's creator may ask; only policies and approvers decide. So an Incident's spec
is fixed once the operator has planned for it (only `spec.alertStatus` may change: a
resolution is news), and the names the Alertmanager bridge gives its Incidents are
reserved for the bridge's identities (`--bridge-user`). Both are refused here with the
field named; the operator does not depend on it (a spec that changes anyway re-plans and
voids the approvals; the bridge never takes an Incident it did not write), so these
webhooks ignore their own failures rather than stop every Incident write while the
operator is down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import kopf
from pydantic import ValidationError

from ..core import approval_seal
from ..core.alerts import BRIDGE_NAME_PREFIX
from ..core.models import GROUP, VERSION, RemediationPolicy
from ..core.validation import describe_errors
from .registry import REGISTRY

Validator = Callable[..., None]


def _validates_writes(
    plural: str, handler_id: str, **options: Any
) -> Callable[[Validator], Validator]:
    """A validating webhook on every create and update of one of our resources."""
    decorator = kopf.on.validate(
        GROUP,
        VERSION,
        plural,
        operations={"CREATE", "UPDATE"},
        id=handler_id,
        registry=REGISTRY,
        **options,
    )
    return cast(Callable[[Validator], Validator], decorator)


@kopf.on.mutate(
    GROUP, VERSION, "approvals", operations={"CREATE"}, id="stamp-approver", registry=REGISTRY
)
def stamp_approver(
    spec: kopf.Spec,
    meta: kopf.Meta,
    namespace: str | None,
    userinfo: kopf.UserInfo,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    if spec.get("approver") or spec.get("approverGroups"):
        raise kopf.AdmissionError(
            "spec.approver and spec.approverGroups are set by the server from your "
            "authenticated identity; remove them",
            code=403,
        )
    if (meta.get("annotations") or {}).get(approval_seal.ANNOTATION):
        raise kopf.AdmissionError(
            f"annotation {approval_seal.ANNOTATION} is set by the server; remove it", code=403
        )
    username = str(userinfo.get("username") or "")
    if not username or username == "system:anonymous":
        raise kopf.AdmissionError("approvals need an authenticated user", code=403)
    groups = sorted(str(g) for g in userinfo.get("groups") or [])
    patch.spec["approver"] = username
    patch.spec["approverGroups"] = groups
    patch.metadata.annotations[approval_seal.ANNOTATION] = approval_seal.seal(
        memo.approval_key,
        namespace=namespace or "",
        incident=str(spec.get("incident", "")),
        decision=str(spec.get("decision", "")),
        plan_hash=str(spec.get("planHash", "")),
        approver=username,
        groups=groups,
    )


@kopf.on.validate(
    GROUP, VERSION, "approvals", operations={"UPDATE"}, id="approvals-immutable", registry=REGISTRY
)
def approvals_immutable(**kwargs: Any) -> None:
    old, new = kwargs.get("old") or {}, kwargs.get("new") or {}
    old_seal = ((old.get("metadata") or {}).get("annotations") or {}).get(approval_seal.ANNOTATION)
    new_seal = ((new.get("metadata") or {}).get("annotations") or {}).get(approval_seal.ANNOTATION)
    if old.get("spec") != new.get("spec") or old_seal != new_seal:
        raise kopf.AdmissionError(
            "approvals are immutable: create a new Approval instead", code=403
        )


@_validates_writes("incidents", "incident-requests", ignore_failures=True)
def incident_requests(
    body: kopf.Body, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    if kwargs.get("operation") == "CREATE":
        meta = body.get("metadata") or {}
        name = str(meta.get("name") or meta.get("generateName") or "")
        username = str(userinfo.get("username") or "")
        users: frozenset[str] = memo.bridge_users
        if name.startswith(BRIDGE_NAME_PREFIX) and users and username not in users:
            raise kopf.AdmissionError(
                f"metadata.name: names starting with {BRIDGE_NAME_PREFIX!r} are reserved for"
                f" the Alertmanager bridge; {username or 'this user'} may not use them",
                code=403,
            )
        return
    old = kwargs.get("old") or {}
    status = old.get("status") or {}
    if status.get("phase", "Pending") == "Pending" and not status.get("plan"):
        return  # nothing planned yet: the creator may still correct the request
    before, after = dict(old.get("spec") or {}), dict(body.get("spec") or {})
    changed = sorted(
        key
        for key in set(before) | set(after)
        if key != "alertStatus" and before.get(key) != after.get(key)
    )
    if changed:
        raise kopf.AdmissionError(
            f"spec.{changed[0]}: an Incident's spec is fixed once it is planned (phase"
            f" {status.get('phase', 'Pending')}); only spec.alertStatus may change. File a new"
            " Incident to ask for something else",
            code=422,
        )


@_validates_writes("remediationpolicies", "validate-policy")
def validate_policy(body: kopf.Body, **kwargs: Any) -> None:
    # Judge only what changes the spec. A policy that was stored while the webhook was not in
    # the path must still take metadata and status writes (Kopf's bookkeeping, the Valid
    # condition that explains it, finalizers, labels) and deletion; refusing those would
    # leave it invalid with nobody told why.
    old = kwargs.get("old")
    if (
        kwargs.get("operation") == "UPDATE"
        and old is not None
        and old.get("spec") == body.get("spec")
    ):
        return
    try:
        RemediationPolicy.model_validate(dict(body))
    except ValidationError as e:
        raise kopf.AdmissionError(
            f"invalid RemediationPolicy: {describe_errors(e)}", code=422
        ) from None
