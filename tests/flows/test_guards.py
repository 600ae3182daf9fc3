"""Guards: each refusal names its reason, and the history they count survives a restart."""

from __future__ import annotations

import time
from collections.abc import Callable

from remediator_devtools.testing import OperatorThread
from support.policies import CAPTURED_THEN_APPLIED, RESTART, incident_spec, policy_spec

from .conftest import NS, Cluster, actions, timeline


def _blocked(cluster: Cluster, name: str, reason: str, namespace: str = NS) -> dict:  # type: ignore[type-arg]
    body = cluster.blocked(name, namespace)
    assert timeline(body)[-1] == reason
    cluster.event_reasons(body, reason, namespace=namespace)
    assert (reason, "Warning") in [(e.reason, e.type) for e in cluster.events(body, namespace)]
    assert all(a["state"] == "Pending" for a in actions(body))
    return body


def test_global_pause_blocks_remediation(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment("web")
    cluster.configmap("remediator-config", {"paused": "true"}, namespace="remediator-system")
    cluster.policy("restart", policy_spec(RESTART))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    body = _blocked(cluster, "inc-1", "Paused")
    assert timeline(body) == ["Matched", "Paused"]
    assert cluster.writes(resource="deployments", since=mark) == []


def test_protected_namespace_is_never_remediated(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web", namespace="kube-system")
    cluster.policy("restart", policy_spec(RESTART), namespace="kube-system")
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec(), namespace="kube-system")
    body = _blocked(cluster, "inc-1", "ProtectedNamespace", namespace="kube-system")
    assert "kube-system" in body["status"]["message"]
    assert cluster.writes(resource="deployments", since=mark) == []


def test_cooldown_blocks_a_second_incident_on_the_same_target(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.restart_web()
    cluster.incident("inc-1", incident_spec())
    cluster.remediated("inc-1")
    mark = cluster.mark()
    cluster.incident("inc-2", incident_spec())
    body = _blocked(cluster, "inc-2", "Cooldown")
    assert "by incident inc-1; cooldown is 10m" in body["status"]["message"]
    assert cluster.writes(resource="deployments", since=mark) == []


def test_cooldown_does_not_block_another_target(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment("web")
    cluster.deployment("api")
    cluster.policy("restart", policy_spec(RESTART))
    cluster.incident("inc-1", incident_spec("web"))
    cluster.remediated("inc-1")
    cluster.incident("inc-2", incident_spec("api"))
    assert cluster.wait_phase("inc-2", "Remediated", "Blocked")["status"]["phase"] == "Remediated"


def test_max_actions_per_target_per_hour(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment("web", replicas=2)
    cluster.policy(
        "scale",
        policy_spec(
            {"action": "scale", "by": 1},
            guards={"cooldown": "0s", "maxActionsPerTargetPerHour": 2},
        ),
    )
    for name in ("inc-1", "inc-2"):
        cluster.incident(name, incident_spec())
        assert cluster.wait_phase(name, "Remediated", "Blocked")["status"]["phase"] == "Remediated"
    mark = cluster.mark()
    cluster.incident("inc-3", incident_spec())
    body = _blocked(cluster, "inc-3", "TargetRateLimit")
    assert "2 actions on Deployment/web in the last hour" in body["status"]["message"]
    assert cluster.writes(resource="deployments", since=mark) == []
    assert cluster.apps.read_namespaced_deployment("web", NS).spec.replicas == 4


def test_max_actions_per_policy_per_hour(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment("web")
    cluster.deployment("api")
    cluster.policy("restart", policy_spec(RESTART, guards={"maxActionsPerPolicyPerHour": 1}))
    cluster.incident("inc-1", incident_spec("web"))
    cluster.remediated("inc-1")
    mark = cluster.mark()
    cluster.incident("inc-2", incident_spec("api"))
    body = _blocked(cluster, "inc-2", "PolicyRateLimit")
    assert "policy restart took 1 actions" in body["status"]["message"]
    assert cluster.writes(resource="deployments", since=mark) == []


def test_max_concurrent_queues_a_remediation_until_the_slot_is_free(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    start_operator(max_concurrent=1)
    for name in ("queue", "web", "api"):
        cluster.deployment(name)
    cluster.policy_api.create_namespaced_pod_disruption_budget(
        NS,
        {
            "metadata": {"name": "queue"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "queue"}}},
        },
    )
    cluster.policy(
        "evict", policy_spec({"action": "restartPods", "mode": "evict"}, alert="QueueStuck")
    )
    cluster.policy("restart", policy_spec(RESTART))
    # awaiting approval does not hold a slot
    cluster.incident("waiting", incident_spec("api", severity="P1"))
    cluster.wait_phase("waiting", "AwaitingApproval")
    # remediating (deferred by the PDB) does
    cluster.incident("holder", incident_spec("queue", alert="QueueStuck"))
    cluster.wait_for(
        "the holder's deferral",
        lambda: "ActionDeferred" in timeline(cluster.get("incidents", "holder")),
    )
    mark = cluster.mark()
    cluster.incident("queued", incident_spec("web"))
    body = cluster.wait_for(
        "a MaxConcurrent note",
        lambda: (b := cluster.get("incidents", "queued")) and "MaxConcurrent" in timeline(b) and b,
    )
    time.sleep(0.8)  # retried a few times meanwhile
    body = cluster.get("incidents", "queued")
    assert body["status"]["phase"] == "Matched"
    assert timeline(body) == ["Matched", "MaxConcurrent"]
    assert "max concurrent: 1 remediations are running" in body["status"]["timeline"][-1]["message"]
    cluster.event_reasons(body, "MaxConcurrent")
    assert cluster.writes(resource="deployments", name="web", since=mark) == []

    cluster.policy_api.patch_namespaced_pod_disruption_budget(
        "queue", NS, {"spec": {"minAvailable": 1}}
    )
    cluster.remediated("holder")
    body = cluster.remediated("queued")
    assert timeline(body) == ["Matched", "MaxConcurrent", "AutoApproved", *CAPTURED_THEN_APPLIED]
    assert len(cluster.writes("patch", "deployments", "web", since=mark)) == 1
    assert cluster.get("incidents", "waiting")["status"]["phase"] == "AwaitingApproval"


def test_guard_history_survives_an_operator_restart(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    cluster.restart_web()
    first = start_operator()
    cluster.incident("inc-1", incident_spec())
    cluster.remediated("inc-1")
    first.stop()
    start_operator()
    mark = cluster.mark()
    cluster.incident("inc-2", incident_spec())
    body = _blocked(cluster, "inc-2", "Cooldown")
    assert "by incident inc-1" in body["status"]["message"]
    assert cluster.writes(resource="deployments", since=mark) == []
