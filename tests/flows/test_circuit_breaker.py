"""circuitBreaker: a ConfigMap key the service reads, restored after `revertAfter`."""

from __future__ import annotations

from remediator_devtools.testing import OperatorThread

from .conftest import NS, Cluster, actions, incident_spec, policy_spec, timeline

BREAKER = {
    "action": "circuitBreaker",
    "configMap": "payments-flags",
    "key": "carrier-a",
    "value": "open",
    "revertAfter": "1s",
}


def test_circuit_breaker_opens_then_restores_the_previous_value(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web")
    cluster.configmap("payments-flags", {"carrier-a": "closed", "carrier-b": "closed"})
    cluster.policy("breaker", policy_spec(BREAKER))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "Remediated", "Blocked", "Failed")
    assert body["status"]["phase"] == "Remediated", body["status"]
    assert actions(body)[0]["state"] == "Applied"
    assert cluster.configmap_data("payments-flags") == {"carrier-a": "open", "carrier-b": "closed"}

    body = cluster.wait_for(
        "the revert",
        lambda: (
            (b := cluster.get("incidents", "inc-1")) and actions(b)[0]["state"] == "Reverted" and b
        ),
        timeout=5,
    )
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
    cluster.deployment("web")
    cluster.configmap("payments-flags", {"carrier-b": "closed"})
    cluster.policy("breaker", policy_spec(BREAKER))
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "Remediated", "Blocked", "Failed")
    assert body["status"]["phase"] == "Remediated", body["status"]
    assert cluster.configmap_data("payments-flags") == {"carrier-a": "open", "carrier-b": "closed"}
    body = cluster.wait_for(
        "the revert",
        lambda: (
            (b := cluster.get("incidents", "inc-1")) and actions(b)[0]["state"] == "Reverted" and b
        ),
        timeout=5,
    )
    assert cluster.configmap_data("payments-flags") == {"carrier-b": "closed"}
    assert "removed" in actions(body)[0]["result"]
