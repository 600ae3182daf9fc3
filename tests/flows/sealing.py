"""Writing an Incident's status as the operator would have written it (sealed), for the
tests that leave behind the state of a crash. A status written any other way is refused
by the operator (`remediator.core.status_seal`)."""

from __future__ import annotations

from typing import Any

from remediator.core import status_seal
from remediator.core.models import Incident, IncidentStatus
from support.policies import GROUP, VERSION

from .conftest import APPROVAL_KEY, NS, Cluster


def write_as_operator(
    cluster: Cluster, name: str, status: dict[str, Any], key: bytes = APPROVAL_KEY
) -> dict[str, Any]:
    """Replace the incident's status with `status`, sealed with the operator's key."""
    incident = Incident.model_validate(cluster.get("incidents", name))
    sealed = status_seal.sealed(key, incident, IncidentStatus.model_validate(status))
    # the whole status replaced, as the operator does: what the old one had is gone
    cluster.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, NS, "incidents", name, {"status": None}
    )
    result: dict[str, Any] = cluster.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, NS, "incidents", name, {"status": sealed.dump()}
    )
    return result
