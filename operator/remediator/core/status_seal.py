"""The operator's seal on an Incident's status: it acts only on plans it made itself.

Whoever may write `incidents/status` (a namespace admin with a broad role) could otherwise
write a phase, a plan or a revert by hand and have the operator carry it out. Every status
the operator writes carries an HMAC, under the key it shares with its other replicas (the
approval key's Secret), over that status and the Incident's uid, namespace and name. A
status that does not verify is someone else's: the operator acts on none of it. Purely
computational.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from remediator.core.models import Incident, IncidentStatus


def canonical(value: Any) -> Any:
    """The value as it comes back from the API server: JSON numbers lose a float's `.0`
    (kube-apiserver stores 60.0 as 60), so a whole float is an int here; and a member
    whose value is null may be dropped (kube-apiserver 1.34 drops them from objects in a
    list that a patch replaces), so it is dropped here."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _message(incident: Incident, status: IncidentStatus) -> bytes:
    meta = incident.metadata
    body = canonical(status.dump())
    body.pop("seal", None)
    return json.dumps(
        {"uid": meta.uid, "namespace": meta.namespace, "name": meta.name, "status": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def sealed(key: bytes, incident: Incident, status: IncidentStatus) -> IncidentStatus:
    """The status with its seal, for this incident."""
    seal = hmac.new(key, _message(incident, status), hashlib.sha256).hexdigest()
    return status.model_copy(update={"seal": seal})


def verifies(key: bytes, incident: Incident) -> bool:
    """Whether the incident's status is one the operator wrote, for this very incident."""
    seal = incident.status.seal
    if not seal:
        return False
    expected = hmac.new(key, _message(incident, incident.status), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, seal)


def untouched(status: IncidentStatus) -> bool:
    """A status nobody has decided anything in yet (an Incident just created): nothing in
    it to trust or distrust."""
    return (
        status.phase == "Pending"
        and status.plan is None
        and not status.actions
        and not status.approvals
        and status.verification is None
        and status.policy is None
    )
