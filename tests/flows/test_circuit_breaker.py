"""circuitBreaker: a ConfigMap key the service reads, restored after `revertAfter`."""

from __future__ import annotations

from typing import Any

from remediator_devtools.testing import OperatorThread
from support.policies import incident_spec, policy_spec

from .conftest import NS, Cluster, actions, timeline

BREAKER = {
    "action": "circuitBreaker",
    "configMap": "payments-flags",
    "key": "carrier-a",
    "value": "open",
    "revertAfter": "1s",
}


def _opened(cluster: Cluster, flags: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """The ConfigMap payments-flags holding `flags`, a breaker policy and an incident it
    remediated: carrier-a is open. The write mark from before the incident, and the incident."""
    cluster.deployment("web")
    cluster.configmap("payments-flags", flags)
    cluster.policy("breaker", policy_spec(BREAKER))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    assert cluster.configmap_data("payments-flags") == {**flags, "carrier-a": "open"}
    return mark, body


def test_circuit_breaker_opens_then_restores_the_previous_value(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark, body = _opened(cluster, {"carrier-a": "closed", "carrier-b": "closed"})
    assert actions(body)[0]["state"] == "Applied"

    body = cluster.reverted("inc-1", timeout=5)
    assert body["status"]["phase"] == "Remediated"
    assert cluster.configmap_data("payments-flags") == {
        "carrier-a": "closed",
        "carrier-b": "closed",
    }
    writes = cluster.writes(resource="configmaps", since=mark)
    assert [(w.verb, w.namespace, w.name) for w in writes] == [
        # the guard ledger first (in the operator's namespace), then the change and its revert
        ("create", "remediator-system", "remediator-ledger"),
        ("patch", NS, "payments-flags"),
        ("patch", NS, "payments-flags"),
    ]
    assert cluster.writes(resource="deployments", since=mark) == []
    assert timeline(body)[-2:] == ["Remediated", "ActionReverted"]
    cluster.event_reasons(body, "ActionReverted")
    assert "restored to closed" in actions(body)[0]["result"]


def test_circuit_breaker_removes_a_key_that_was_unset_when_it_reverts(
    cluster: Cluster, operator: OperatorThread
) -> None:
    _opened(cluster, {"carrier-b": "closed"})
    body = cluster.reverted("inc-1", timeout=5)
    assert cluster.configmap_data("payments-flags") == {"carrier-b": "closed"}
    assert "removed" in actions(body)[0]["result"]
