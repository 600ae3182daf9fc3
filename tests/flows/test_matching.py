"""Which policy answers, and the incidents no policy can act on."""

from __future__ import annotations

import time

from remediator_devtools.testing import OperatorThread
from support.policies import RESTART, incident_spec, policy_spec

from .conftest import Cluster, actions, timeline


def test_incident_without_a_matching_policy_ends_in_no_policy(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark = cluster.restart_web(alert="SomethingElse")
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "NoPolicy", "Remediated", "Blocked")
    assert body["status"]["phase"] == "NoPolicy"
    assert timeline(body) == ["NoMatchingPolicy"]
    assert (
        "no valid RemediationPolicy in namespace shop matches alert HighErrorRate"
        in body["status"]["message"]
    )
    matched = next(c for c in body["status"]["conditions"] if c["type"] == "Matched")
    assert matched["status"] == "False"
    assert cluster.event_reasons(body, "NoMatchingPolicy") == ["NoMatchingPolicy"]
    assert cluster.writes(resource="deployments", since=mark) == []


def test_policy_of_another_namespace_does_not_match(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web")
    cluster.policy("restart", policy_spec(RESTART), namespace="other")
    cluster.incident("inc-1", incident_spec())
    assert cluster.wait_phase("inc-1", "NoPolicy", "Remediated")["status"]["phase"] == "NoPolicy"


def test_missing_target_label_blocks_once_without_retrying(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark = cluster.restart_web()
    cluster.incident(
        "inc-1", {"alertname": "HighErrorRate", "severity": "P2", "labels": {"service": "web"}}
    )
    body = cluster.blocked("inc-1")
    assert timeline(body) == ["TargetLabelMissing"]
    assert 'incident has no label "deployment"' in body["status"]["message"]
    time.sleep(0.3)
    writes = len(cluster.writes(resource="incidents", name="inc-1", since=mark))
    time.sleep(1)  # five ticks of the operator: nothing more happens
    body = cluster.get("incidents", "inc-1")
    assert body["status"]["phase"] == "Blocked"
    assert timeline(body) == ["TargetLabelMissing"]
    assert cluster.event_reasons(body, "TargetLabelMissing") == ["TargetLabelMissing"]
    assert actions(body) == []
    assert cluster.writes(resource="deployments", since=mark) == []
    assert len(cluster.writes(resource="incidents", name="inc-1", since=mark)) == writes


def test_notify_only_records_the_plan_and_changes_nothing(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark = cluster.restart_web(approval={"P2": {"mode": "notifyOnly"}})
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "DryRun", "Remediated", "Blocked")
    assert body["status"]["phase"] == "DryRun"
    assert timeline(body) == ["Matched", "NotifyOnly"]
    assert "notifyOnly" in body["status"]["message"]
    assert body["status"]["plan"]["steps"][0]["summary"] == "rolling restart of Deployment/web"
    assert actions(body)[0]["state"] == "Pending"
    assert cluster.event_reasons(body, "NotifyOnly") == ["Matched", "NotifyOnly"]
    assert [w for w in cluster.box.writes()[mark:] if w.resource == "deployments"] == []
