"""Reconciling a finished incident again, for whatever reason, changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kubernetes import client

from remediator_devtools.testing import OperatorThread
from support.policies import incident_spec

from .conftest import Cluster


def test_reconciling_a_remediated_incident_again_writes_nothing(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    cluster.restart_web()
    first = start_operator()
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    time.sleep(0.3)
    mark = cluster.mark()
    # metadata and spec changes, then an operator restart (Kopf resumes every object)
    cluster.patch(
        "incidents",
        "inc-1",
        {"metadata": {"labels": {"team": "payments"}, "annotations": {"note": "seen"}}},
    )
    # the spec is fixed once planned: the admission webhook refuses, naming the field
    with pytest.raises(client.ApiException) as refused:
        cluster.patch("incidents", "inc-1", {"spec": {"summary": "edited later"}})
    assert refused.value.status == 422
    assert "spec.summary" in str(refused.value.body)
    first.stop()
    start_operator()
    time.sleep(1)
    again = cluster.get("incidents", "inc-1")
    assert again["status"] == body["status"]
    assert cluster.writes(resource="deployments", since=mark) == []
    assert [w for w in cluster.box.writes()[mark:] if w.resource == "events"] == []
