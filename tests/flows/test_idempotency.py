"""Reconciling a finished incident again, for whatever reason, changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kubernetes import client

from remediator_devtools.testing import OperatorThread

from .conftest import GROUP, NS, VERSION, Cluster, incident_spec, policy_spec


def test_reconciling_a_remediated_incident_again_writes_nothing(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    cluster.deployment("web")
    cluster.policy("restart", policy_spec({"action": "restartPods"}))
    first = start_operator()
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "Remediated", "Failed")
    assert body["status"]["phase"] == "Remediated", body["status"]
    time.sleep(0.3)
    mark = cluster.mark()
    # metadata and spec changes, then an operator restart (Kopf resumes every object)
    cluster.custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "incidents",
        "inc-1",
        {"metadata": {"labels": {"team": "payments"}, "annotations": {"note": "seen"}}},
    )
    # the spec is fixed once planned: the admission webhook refuses, naming the field
    with pytest.raises(client.ApiException) as refused:
        cluster.custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, "incidents", "inc-1", {"spec": {"summary": "edited later"}}
        )
    assert refused.value.status == 422
    assert "spec.summary" in str(refused.value.body)
    first.stop()
    start_operator()
    time.sleep(1)
    again = cluster.get("incidents", "inc-1")
    assert again["status"] == body["status"]
    assert cluster.writes(resource="deployments", since=mark) == []
    assert [w for w in cluster.box.writes()[mark:] if w.resource == "events"] == []
