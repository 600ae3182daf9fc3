"""A 403 while acting: a kube-apiserver that has just restarted refuses everyone for a few
seconds, until its authorizer has synced (seen in the chaos runs on the real control plane:
an incident failed for it). The action is retried for `forbidden_grace_seconds`, then fails.
The faults are injected in the emulator's server."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from kube_emulator import Sandbox
from remediator_devtools.testing import OperatorThread
from support.policies import RESTART, incident_spec, policy_spec

from .conftest import Cluster, actions, timeline

pytestmark = pytest.mark.emulator_only(reason="the 403s are injected inside the emulator")


def refuse_patches(
    cluster: Cluster, count: int | None, resource: str = "deployments", **where: str
) -> None:
    """403 for the next `count` patches of `resource` (None: all), narrowed by `where`."""
    assert isinstance(cluster.box, Sandbox)
    cluster.box.faults.add(verb="patch", resource=resource, status=403, count=count, **where)


def test_a_few_403s_after_a_restart_are_waited_out(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    cluster.deployment("web")
    cluster.policy("restart", policy_spec(RESTART))
    start_operator()
    refuse_patches(cluster, count=3)
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    assert actions(body)[0]["state"] == "Applied"
    assert "ActionDeferred" in timeline(body)


def test_a_permission_that_stays_refused_fails_the_action(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    cluster.deployment("web")
    cluster.policy("restart", policy_spec(RESTART))
    start_operator(forbidden_grace_seconds=1.0)
    refuse_patches(cluster, count=None)
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "Failed", "Remediated")
    assert body["status"]["phase"] == "Failed"
    [action] = actions(body)
    assert action["state"] == "Failed"
    assert "403" in action["result"] and "retried for 1s" in action["result"]


# A revert meets the same 403s: one due by `revertAfter` is retried as an action is, and
# one that cannot be done is told once and left for a human (never retried in a loop).
BREAKER = {
    "action": "circuitBreaker",
    "configMap": "payments-flags",
    "key": "carrier-a",
    "value": "open",
    "revertAfter": "2s",
}


def breaker_opened(cluster: Cluster) -> None:
    """carrier-a opened by inc-1's circuit breaker, to be closed again 2 s after."""
    cluster.deployment("web")
    cluster.configmap("payments-flags", {"carrier-a": "closed"})
    cluster.policy("breaker", policy_spec(BREAKER))
    cluster.incident("inc-1", incident_spec())
    cluster.remediated("inc-1")
    assert cluster.configmap_data("payments-flags") == {"carrier-a": "open"}


def test_a_few_403s_at_a_timed_revert_are_waited_out(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    start_operator()
    breaker_opened(cluster)
    refuse_patches(cluster, 3, "configmaps", name="payments-flags")
    body = cluster.reverted("inc-1", timeout=20)
    assert cluster.configmap_data("payments-flags") == {"carrier-a": "closed"}
    assert timeline(body)[-3:] == ["Remediated", "ActionDeferred", "ActionReverted"]
    [deferred] = [e for e in body["status"]["timeline"] if e["reason"] == "ActionDeferred"]
    assert "revert of ConfigMap/payments-flags" in deferred["message"]
    assert "403" in deferred["message"]  # told once, not once per retry


def test_a_timed_revert_refused_for_good_is_told_once_and_left_for_a_human(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    start_operator(forbidden_grace_seconds=1.0)
    breaker_opened(cluster)
    refuse_patches(cluster, None, "configmaps", name="payments-flags")
    body = cluster.wait_for(
        "the revert's failure",
        lambda: (b := cluster.get("incidents", "inc-1")) and "ActionFailed" in timeline(b) and b,
        timeout=20,
    )
    [action] = actions(body)
    assert action["state"] == "Applied"  # what it changed is still in place, and says so
    assert "revertAt" not in action
    assert "revert failed" in action["result"] and "retried for 1s" in action["result"]
    assert body["status"]["phase"] == "Remediated"
    settled = cluster.get("incidents", "inc-1")
    time.sleep(3)  # a revert retried in a loop would write the incident again by then
    later = cluster.get("incidents", "inc-1")
    assert later["metadata"]["resourceVersion"] == settled["metadata"]["resourceVersion"]
    assert cluster.configmap_data("payments-flags") == {"carrier-a": "open"}
