"""Binding an approval to a verified identity that the operator can check later.

The admission webhook takes the approver's identity from the API server's authenticated
`userInfo` and seals it, with the decision and the plan it was made on, under a key only the
operator holds (an HMAC in an annotation). The reconciler counts an approval only when the
seal verifies: an Approval written while the webhook was not in the path — or edited after —
is ignored as unverified instead of trusted. Purely computational.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

ANNOTATION = "remediator.dev/approver-seal"


def _message(
    namespace: str,
    incident: str,
    decision: str,
    plan_hash: str,
    approver: str,
    groups: Sequence[str],
) -> bytes:
    fields = (namespace, incident, decision, plan_hash, approver, ",".join(sorted(groups)))
    return "\n".join(fields).encode()


def seal(
    key: bytes,
    *,
    namespace: str,
    incident: str,
    decision: str,
    plan_hash: str,
    approver: str,
    groups: Sequence[str],
) -> str:
    message = _message(namespace, incident, decision, plan_hash, approver, groups)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify(
    key: bytes,
    value: str | None,
    *,
    namespace: str,
    incident: str,
    decision: str,
    plan_hash: str,
    approver: str,
    groups: Sequence[str],
) -> bool:
    if not value:
        return False
    expected = seal(
        key,
        namespace=namespace,
        incident=incident,
        decision=decision,
        plan_hash=plan_hash,
        approver=approver,
        groups=groups,
    )
    return hmac.compare_digest(expected, value)
