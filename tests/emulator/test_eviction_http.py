"""pods/eviction through the client's create_namespaced_pod_eviction, under PDBs."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from .conftest import expect_error


def make_pod(core: client.CoreV1Api, name: str, *, ready: bool = True) -> None:
    core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "app", "image": "nginx:1.25"}],
                # on the real cluster kwok makes every pod on its nodes Ready: a pod that must
                # stay unready is bound to a node nobody runs
                **({} if ready else {"nodeName": "no-such-node"}),
            },
        },
    )
    # Status is reset on create (as in kube): make the pod Running and Ready through /status.
    core.patch_namespaced_pod_status(
        name,
        "default",
        {
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            }
        },
    )


def make_pdb(policy: client.PolicyV1Api, name: str = "web", **spec: Any) -> None:
    policy.create_namespaced_pod_disruption_budget(
        "default",
        {
            "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
        },
    )
    # the real cluster's disruption controller computes the budget's status a moment later
    deadline = time.monotonic() + 10
    while getattr(policy, "real_cluster", False) and time.monotonic() < deadline:
        pdb = policy.read_namespaced_pod_disruption_budget(name, "default")
        if pdb.status and (pdb.status.observed_generation or 0) >= pdb.metadata.generation:
            break
        time.sleep(0.05)


def eviction(name: str, **delete_options: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": "default"},
    }
    if delete_options:
        body["deleteOptions"] = delete_options
    return body


@pytest.fixture
def policy(backend: str, api_client: client.ApiClient) -> client.PolicyV1Api:
    api = client.PolicyV1Api(api_client)
    api.real_cluster = backend == "real"  # type: ignore[attr-defined]
    return api


def pod_names(core: client.CoreV1Api) -> list[str]:
    """The pods not on their way out (an evicted pod's graceful deletion waits, on the real
    cluster, for its node's kubelet: kwok's)."""
    return sorted(
        p.metadata.name
        for p in core.list_namespaced_pod("default").items
        if p.metadata.deletion_timestamp is None
    )


def test_pod_status_is_reset_on_create(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
            "status": {"phase": "Running"},
        },
    )
    assert created.status.phase == "Pending"


def test_eviction_without_budget_deletes_the_pod(core: client.CoreV1Api) -> None:
    make_pod(core, "p1")
    core.create_namespaced_pod_eviction("p1", "default", eviction("p1"))
    assert pod_names(core) == []


def test_eviction_allowed_by_the_budget(core: client.CoreV1Api, policy: client.PolicyV1Api) -> None:
    for name in ("p1", "p2", "p3"):
        make_pod(core, name)
    make_pdb(policy, minAvailable=2)
    core.create_namespaced_pod_eviction("p1", "default", eviction("p1"))
    assert pod_names(core) == ["p2", "p3"]


def test_eviction_violating_min_available_is_429(
    core: client.CoreV1Api, policy: client.PolicyV1Api
) -> None:
    make_pod(core, "p1")
    make_pod(core, "p2")
    make_pdb(policy, minAvailable=2)
    body = expect_error(429, core.create_namespaced_pod_eviction, "p1", "default", eviction("p1"))
    assert body["reason"] == "TooManyRequests"
    assert "disruption budget" in body["message"]
    assert pod_names(core) == ["p1", "p2"]


def test_eviction_counts_only_ready_pods(
    core: client.CoreV1Api, policy: client.PolicyV1Api
) -> None:
    make_pod(core, "p1")
    make_pod(core, "p2", ready=False)
    make_pdb(policy, minAvailable=1)
    expect_error(429, core.create_namespaced_pod_eviction, "p1", "default", eviction("p1"))
    # The unready pod itself may always go.
    core.create_namespaced_pod_eviction("p2", "default", eviction("p2"))
    assert pod_names(core) == ["p1"]


def test_eviction_with_two_budgets_is_500(
    core: client.CoreV1Api, policy: client.PolicyV1Api
) -> None:
    make_pod(core, "p1")
    make_pod(core, "p2")
    make_pdb(policy, "one", maxUnavailable=1)
    make_pdb(policy, "two", maxUnavailable=1)
    body = expect_error(500, core.create_namespaced_pod_eviction, "p1", "default", eviction("p1"))
    assert "more than one PodDisruptionBudget" in body["message"]
    assert pod_names(core) == ["p1", "p2"]


def test_dry_run_eviction_keeps_the_pod(core: client.CoreV1Api) -> None:
    make_pod(core, "p1")
    core.create_namespaced_pod_eviction("p1", "default", eviction("p1"), dry_run="All")
    core.create_namespaced_pod_eviction("p1", "default", eviction("p1", dryRun=["All"]))
    assert pod_names(core) == ["p1"]


def test_eviction_of_a_missing_pod_is_404(core: client.CoreV1Api) -> None:
    body = expect_error(
        404, core.create_namespaced_pod_eviction, "ghost", "default", eviction("ghost")
    )
    assert body["message"] == 'pods "ghost" not found'


def test_eviction_name_mismatch_is_400(core: client.CoreV1Api) -> None:
    make_pod(core, "p1")
    expect_error(400, core.create_namespaced_pod_eviction, "p1", "default", eviction("p2"))
    assert pod_names(core) == ["p1"]
