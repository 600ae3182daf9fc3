"""A crash at any point resumes from the status, and every change happens exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from remediator.core import planning, targets
from remediator.core.models import (
    ActionRecord,
    Incident,
    IncidentStatus,
    RemediationPolicy,
    TimelineEntry,
)
from remediator_devtools.testing import OperatorThread
from support.policies import SCALE, incident_spec, policy_spec

from .conftest import NS, Cluster, actions, timeline
from .sealing import write_as_operator


def _crashed_while_applying(cluster: Cluster) -> dict[str, Any]:
    """Deployment web (2 replicas), a policy scaling it to 5 and an incident inc-1, with the
    status a crashed operator leaves behind after its `Applying` mark: the plan computed as
    the operator computes it, step 0 marked Applying, and nothing after."""
    cluster.deployment("web", replicas=2)
    cluster.policy("scale", policy_spec(SCALE))
    cluster.incident("inc-1", incident_spec())
    incident = Incident.model_validate(cluster.get("incidents", "inc-1"))
    policy = RemediationPolicy.model_validate(cluster.get("remediationpolicies", "scale"))
    target = targets.resolve_target(incident, policy)
    workload = cluster.api.sanitize_for_serialization(
        cluster.apps.read_namespaced_deployment(target.name, NS)
    )
    now = datetime.now(UTC)
    plan = planning.plan(incident, policy, target, planning.Observed(workload=workload), now)
    step = plan.steps[0]
    status = IncidentStatus(
        phase="Remediating",
        policy="scale",
        plan=plan,
        action=step.action,
        actions=[
            ActionRecord(
                index=0, action=step.action, target=step.target, state="Applying", started_at=now
            )
        ],
        timeline=[
            TimelineEntry(time=now, reason="Matched", message="policy scale matched"),
            TimelineEntry(time=now, reason="AutoApproved", message="auto"),
        ],
    ).dump()
    result = write_as_operator(cluster, "inc-1", status)
    assert result["status"]["actions"][0]["state"] == "Applying"
    return result


def test_restart_while_awaiting_approval_resumes_and_applies_once(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    cluster.deployment("web", replicas=2)
    cluster.policy("scale", policy_spec(SCALE))
    first = start_operator()
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec(severity="P1"))
    plan_hash = cluster.wait_phase("inc-1", "AwaitingApproval")["status"]["plan"]["hash"]
    first.stop()
    start_operator()
    cluster.approve("inc-1", "alice@example.com")
    body = cluster.remediated("inc-1")
    assert body["status"]["plan"]["hash"] == plan_hash  # the same plan, not a new one
    assert timeline(body).count("Matched") == 1
    writes = cluster.writes(resource="deployments", since=mark)
    assert [(w.verb, w.subresource) for w in writes] == [("patch", "scale")]
    assert cluster.apps.read_namespaced_deployment("web", NS).spec.replicas == 5


def test_crash_between_applying_mark_and_change_applies_it_once(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    _crashed_while_applying(cluster)
    mark = cluster.mark()
    first = start_operator()
    body = cluster.remediated("inc-1")
    assert actions(body)[0]["state"] == "Applied"
    assert timeline(body) == ["Matched", "AutoApproved", "ActionApplied", "Remediated"]
    writes = cluster.writes(resource="deployments", since=mark)
    assert [(w.verb, w.subresource) for w in writes] == [("patch", "scale")]
    assert cluster.apps.read_namespaced_deployment("web", NS).spec.replicas == 5

    # a second resume (another restart) applies nothing
    first.stop()
    mark = cluster.mark()
    start_operator()
    time.sleep(1)  # Kopf resumes every incident at start; give it time to act
    again = cluster.get("incidents", "inc-1")
    assert again["status"] == body["status"]
    assert cluster.writes(resource="deployments", since=mark) == []


def test_crash_after_the_change_but_before_recording_it_does_not_apply_again(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    _crashed_while_applying(cluster)
    # the crashed operator got as far as the change itself
    cluster.apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 5}})
    mark = cluster.mark()
    start_operator()
    body = cluster.remediated("inc-1")
    [action] = actions(body)
    assert action["state"] == "Skipped"
    assert action["result"] == "Deployment/web already has 5 replicas"
    assert cluster.writes(resource="deployments", since=mark) == []
    assert timeline(body)[-2:] == ["ActionSkipped", "Remediated"]
