"""A watch event far behind the operator's own writes: its body still shows the untouched
status of a new Incident, while the guard ledger already holds the incident's action. Judged
alone it looks like a status someone reset (StatusNotSealed); the loop judges the stored
Incident instead. The API and the ledger are narrow fakes: one GET, one ledger answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from remediator.adapters.kube import KubeClient
from remediator.core import status_seal
from remediator.core.models import Incident, IncidentStatus
from remediator.reconcile import OperatorConfig, Reconciler
from remediator.reconcile.state import Wait

from .fakes import unreachable_kube

KEY = b"k" * 32
CREATED: dict[str, Any] = {
    "apiVersion": "remediator.dev/v1alpha1",
    "kind": "Incident",
    "metadata": {"name": "inc-1", "namespace": "shop", "uid": "uid-1"},
    "spec": {"alertname": "HighErrorRate", "severity": "P2"},
}


class Stored(KubeClient):
    """GET answers the Incident as stored: Remediated, sealed by the operator."""

    def __init__(self) -> None:
        super().__init__(unreachable_kube().configuration, attempts=1)
        incident = Incident.model_validate(CREATED)
        status = IncidentStatus(phase="Remediated", message="restarted")
        sealed = status_seal.sealed(KEY, incident, status)
        self.body = {**CREATED, "status": sealed.dump()}
        self.gets = 0

    async def get_custom(self, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
        self.gets += 1
        return self.body


class Acted(Reconciler):
    """The ledger holds this incident's action; what the loop decides is recorded."""

    refused: list[str]

    async def _stored_in_ledger(self, uid: str) -> bool:
        return True

    async def _refuse_unsealed(self, incident: Incident, now: datetime) -> Incident:
        self.refused.append(incident.metadata.name)
        return incident

    async def _step(self, incident: Incident) -> Incident | Wait:
        return Wait()


async def test_a_stale_event_is_judged_by_the_stored_incident() -> None:
    api = Stored()
    loop = Acted(api, OperatorConfig(approval_key=KEY))
    loop.refused = []
    await loop._reconcile("shop", "inc-1", dict(CREATED))  # the creation event, late
    assert api.gets == 1 and loop.refused == []


async def test_a_stored_status_reset_by_hand_is_still_refused() -> None:
    api = Stored()
    api.body = dict(CREATED)  # the stored status is untouched too: someone reset it
    loop = Acted(api, OperatorConfig(approval_key=KEY))
    loop.refused = []
    await loop._reconcile("shop", "inc-1", dict(CREATED))
    assert loop.refused == ["inc-1"]


class Stepped(Reconciler):
    """What the loop would step from, recorded (nothing is stepped)."""

    phases: list[str]

    async def _step(self, incident: Incident) -> Incident | Wait:
        self.phases.append(incident.status.phase)
        return Wait()


def stepped(api: Stored) -> Stepped:
    loop = Stepped(api, OperatorConfig(approval_key=KEY))
    loop.phases = []
    return loop


def event_body(version: str, phase: str) -> dict[str, Any]:
    """The incident as a watch event delivers it: version `version`, sealed in `phase`."""
    incident = Incident.model_validate(CREATED)
    sealed = status_seal.sealed(KEY, incident, IncidentStatus(phase=phase))
    metadata = {**CREATED["metadata"], "resourceVersion": version}
    return {**CREATED, "metadata": metadata, "status": sealed.dump()}


async def test_an_event_queued_behind_the_reconcile_that_wrote_past_it_is_read_again() -> None:
    """The intent's event waited for the incident's lock while that reconcile finished (its
    outcome's event came meanwhile and was skipped as its own): stepping from it would take
    the action again, and record the outcome a second time (seen on kube-apiserver)."""
    api = Stored()
    loop = stepped(api)
    loop._remember_own("shop", "inc-1", "11")  # the intent
    loop._remember_own("shop", "inc-1", "12")  # the outcome
    assert loop.own_write("shop", "inc-1", "12")  # its event: skipped, with the intent's
    await loop.reconcile("shop", "inc-1", body=event_body("11", "Remediating"))
    assert api.gets == 1 and loop.phases == ["Remediated"]


async def test_an_event_of_an_incident_this_process_has_not_written_is_used_as_it_came() -> None:
    api = Stored()
    loop = stepped(api)
    await loop.reconcile("shop", "inc-1", body=event_body("11", "Pending"))
    assert api.gets == 0 and loop.phases == ["Pending"]


async def test_another_writers_change_after_this_process_wrote_is_read_again() -> None:
    """Versions are not ordered for a client: after a write of its own, the process cannot
    tell another writer's newer version from an older one, and reads the stored one."""
    api = Stored()
    loop = stepped(api)
    loop._remember_own("shop", "inc-1", "12")
    assert loop.own_write("shop", "inc-1", "12")
    await loop.reconcile("shop", "inc-1", body=event_body("13", "Verifying"))
    assert api.gets == 1 and loop.phases == ["Remediated"]
