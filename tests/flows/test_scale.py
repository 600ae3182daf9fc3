"""scale: through the /scale subresource, clamped to bounds; through the HPA when one exists."""

from __future__ import annotations

from typing import Any

import pytest

from remediator_devtools.testing import OperatorThread
from support.policies import incident_spec, policy_spec

from .conftest import NS, Cluster, actions, timeline, told


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
    body = cluster.remediated("inc-1")
    writes = cluster.writes(resource="deployments", since=mark)
    assert [(w.verb, w.name, w.subresource) for w in writes] == [("patch", "web", "scale")]
    assert cluster.apps.read_namespaced_deployment("web", NS).spec.replicas == expected
    [action] = actions(body)
    assert action["state"] == "Applied"
    assert action["result"] == f"scale Deployment/web from 2 to {expected} replicas"
    assert action["revert"] == {"via": "scale", "replicas": 2}
    cluster.event_reasons(body, "ActionApplied", "Remediated")


def test_a_remediation_writes_its_status_twice_and_tells_it_in_two_events(
    cluster: Cluster, operator: OperatorThread
) -> None:
    """Intent (plan, approval, `Applying`) is stored before the change, the outcome after:
    two status writes and two Events, however many decisions each one holds."""
    cluster.deployment("web", replicas=2)
    cluster.policy("scale", policy_spec({"action": "scale", "to": 5}))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "Remediated", "Blocked", "Failed")
    assert timeline(body) == ["Matched", "AutoApproved", "ActionApplied", "Remediated"]
    order = [
        (w.resource, w.subresource)
        for w in cluster.writes(since=mark)
        if w.resource in ("incidents", "deployments")
    ]
    assert order == [
        ("incidents", ""),  # the bridge's (here the test's) create
        ("incidents", "status"),  # intent: Matched, AutoApproved, Applying
        ("deployments", "scale"),
        ("incidents", "status"),  # outcome: ActionApplied, Remediated
    ]
    cluster.event_reasons(body, "Remediated")
    events = sorted(cluster.events(body), key=lambda e: e.metadata.name)
    assert [told(e) for e in events] == [
        ["Matched", "AutoApproved"],
        ["ActionApplied", "Remediated"],
    ]
    assert [e.reason for e in events] == ["AutoApproved", "Remediated"]
    assert events[1].message.startswith("ActionApplied: scale Deployment/web from 2 to 5")


def test_scale_after_someone_scaled_meanwhile_records_what_it_changed(
    cluster: Cluster, operator: OperatorThread
) -> None:
    """The plan saw 2 replicas; a human scaled to 3 while it waited for approval. The
    compare-and-set finds 3, so the action reads, writes 5, and records 3 as what it
    changed (and what a revert restores), not the plan's stale 2."""
    cluster.deployment("web", replicas=2)
    cluster.policy("scale", policy_spec({"action": "scale", "to": 5}))
    cluster.incident("inc-1", incident_spec(severity="P1"))
    body = cluster.wait_phase("inc-1", "AwaitingApproval", "Remediated", "Blocked", "Failed")
    assert body["status"]["phase"] == "AwaitingApproval", body["status"]
    assert body["status"]["plan"]["steps"][0]["desired"]["previous"] == 2
    cluster.apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 3}})
    mark = cluster.mark()
    cluster.approve("inc-1", "alice@example.com")
    body = cluster.remediated("inc-1")
    writes = cluster.writes(resource="deployments", since=mark)
    assert [(w.verb, w.name, w.subresource) for w in writes] == [("patch", "web", "scale")]
    assert cluster.apps.read_namespaced_deployment("web", NS).spec.replicas == 5
    [action] = actions(body)
    assert action["result"] == "scale Deployment/web from 3 to 5 replicas"
    assert action["revert"] == {"via": "scale", "replicas": 3}


def test_scale_already_at_the_bound_is_blocked(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment("web", replicas=4)
    cluster.policy("scale", policy_spec({"action": "scale", "by": 2, "max": 4}))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    body = cluster.blocked("inc-1")
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
    body = cluster.remediated("inc-1")
    hpa = cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler("web-hpa", NS)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (5, 10)
    assert cluster.writes(resource="deployments", since=mark) == []
    assert cluster.apps.read_namespaced_deployment("web", NS).spec.replicas == 2
    writes = cluster.writes(resource="horizontalpodautoscalers", since=mark)
    assert [(w.verb, w.name) for w in writes] == [("patch", "web-hpa")]
    [action] = actions(body)
    assert action["result"] == "raise HPA web-hpa minReplicas to 5 for Deployment/web"
    assert action["revert"]["minReplicas"] == 2
