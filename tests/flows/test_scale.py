"""scale: through the /scale subresource, clamped to bounds; through the HPA when one exists."""

from __future__ import annotations

from typing import Any

import pytest

from remediator.testing import OperatorThread

from .conftest import NS, Cluster, actions, incident_spec, policy_spec, timeline


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"to": 5}, 5),
        ({"by": 3}, 5),
        ({"factor": 1.5}, 3),
        ({"by": 10, "max": 6}, 6),
        ({"to": 1, "min": 4}, 4),
    ],
    ids=["to", "by", "factor", "clamped-to-max", "clamped-to-min"],
)
def test_scale_patches_the_scale_subresource_once(
    cluster: Cluster, operator: OperatorThread, step: dict[str, Any], expected: int
) -> None:
    cluster.deployment("web", replicas=2)
    cluster.policy("scale", policy_spec({"action": "scale", **step}))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "Remediated", "Blocked", "Failed")
    assert body["status"]["phase"] == "Remediated", body["status"]
    writes = cluster.writes(resource="deployments", since=mark)
    assert [(w.verb, w.name, w.subresource) for w in writes] == [("patch", "web", "scale")]
    assert cluster.apps.read_namespaced_deployment("web", NS).spec.replicas == expected
    [action] = actions(body)
    assert action["state"] == "Applied"
    assert action["result"] == f"scale Deployment/web from 2 to {expected} replicas"
    assert action["revert"] == {"via": "scale", "replicas": 2}
    cluster.event_reasons(body, "ActionApplied", "Remediated")


def test_scale_already_at_the_bound_is_blocked(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment("web", replicas=4)
    cluster.policy("scale", policy_spec({"action": "scale", "by": 2, "max": 4}))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "Blocked", "Remediated", "Failed")
    assert body["status"]["phase"] == "Blocked"
    assert timeline(body) == ["ScaleBounds"]
    assert "already at 4 replicas" in body["status"]["message"]
    assert cluster.writes(resource="deployments", since=mark) == []
    assert cluster.apps.read_namespaced_deployment("web", NS).spec.replicas == 4
    assert cluster.event_reasons(body, "ScaleBounds") == ["ScaleBounds"]


def test_scale_with_an_hpa_raises_its_min_replicas_instead(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web", replicas=2)
    cluster.autoscaling.create_namespaced_horizontal_pod_autoscaler(
        NS,
        {
            "metadata": {"name": "web-hpa"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 10,
            },
        },
    )
    cluster.policy("scale", policy_spec({"action": "scale", "to": 5}))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "Remediated", "Blocked", "Failed")
    assert body["status"]["phase"] == "Remediated", body["status"]
    hpa = cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler("web-hpa", NS)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (5, 10)
    assert cluster.writes(resource="deployments", since=mark) == []
    assert cluster.apps.read_namespaced_deployment("web", NS).spec.replicas == 2
    writes = cluster.writes(resource="horizontalpodautoscalers", since=mark)
    assert [(w.verb, w.name) for w in writes] == [("patch", "web-hpa")]
    [action] = actions(body)
    assert action["result"] == "raise HPA web-hpa minReplicas to 5 for Deployment/web"
    assert action["revert"]["minReplicas"] == 2
