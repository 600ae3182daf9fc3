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
from typing import TypedDict, Unpack

ANNOTATION = "remediator.dev/approver-seal"


class Sealed(TypedDict):
    """What an approver's seal covers: the decision, on which plan of which incident, by
    whom (and in which groups)."""

    namespace: str
    incident: str
    decision: str
    plan_hash: str
    approver: str
    groups: Sequence[str]


def seal(key: bytes, **fields: Unpack[Sealed]) -> str:
    parts = (
        fields["namespace"],
        fields["incident"],
        fields["decision"],
        fields["plan_hash"],
        fields["approver"],
        ",".join(sorted(fields["groups"])),
    )
    return hmac.new(key, "\n".join(parts).encode(), hashlib.sha256).hexdigest()


def verify(key: bytes, value: str | None, **fields: Unpack[Sealed]) -> bool:
    return bool(value) and hmac.compare_digest(seal(key, **fields), value or "")
