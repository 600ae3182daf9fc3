"""A 403 while acting: a kube-apiserver that has just restarted refuses everyone for a few
seconds, until its authorizer has synced (seen in the chaos runs on the real control plane:
an incident failed for it). The action is retried for `forbidden_grace_seconds`, then fails.
The faults are injected in the emulator's server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kube_emulator import Sandbox
from remediator_devtools.testing import OperatorThread
from support.policies import RESTART, incident_spec, policy_spec

from .conftest import Cluster, actions, timeline

pytestmark = pytest.mark.emulator_only(reason="the 403s are injected inside the emulator")


def refuse_patches(cluster: Cluster, count: int | None) -> None:
    assert isinstance(cluster.box, Sandbox)
    cluster.box.faults.add(verb="patch", resource="deployments", status=403, count=count)


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
