"""The real control plane itself: what the flow tests rely on when they run on it.

Fake nodes that kwok keeps Ready, the release the binaries were built at, the real
deployment, disruption and garbage-collection controllers, evictions judged by
kube-apiserver, and the audit log the tests count writes in.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from conftest import Kubectl
from real.backend import ControlPlane, RealBox

NS = "shop"
RELEASE = "v1.34.4"


@pytest.fixture
def box(control_plane: ControlPlane, tmp_path: Path) -> Iterator[RealBox]:
    yield RealBox(control_plane, tmp_path)
    control_plane.clean()


@pytest.fixture
def real_kubectl(control_plane: ControlPlane, tmp_path: Path) -> Kubectl:
    """The kubectl built with the cluster (1.34): /usr/bin/kubectl is 1.32, two minors off."""
    return Kubectl(control_plane.kubeconfig, tmp_path / "kubectl-cache", str(control_plane.kubectl))


def _wait(what: str, check: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_kubectl_and_the_server_are_the_pinned_release(real_kubectl: Kubectl) -> None:
    version = real_kubectl.json("version")
    assert version["serverVersion"]["gitVersion"] == RELEASE
    assert version["clientVersion"]["gitVersion"] == RELEASE


def test_the_kwok_nodes_are_ready(real_kubectl: Kubectl) -> None:
    nodes = real_kubectl.json("get", "nodes")["items"]
    assert len(nodes) >= 2
    for node in nodes:
        assert node["metadata"]["annotations"].get("kwok.x-k8s.io/node") == "fake"
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True"


def test_a_deployment_gets_ready_pods_a_budget_its_status_and_deletion_collects_them(
    box: RealBox,
) -> None:
    api = box.plane.api
    apps, core, policy = client.AppsV1Api(api), client.CoreV1Api(api), client.PolicyV1Api(api)
    mark = len(box.writes())
    apps.create_namespaced_deployment(
        NS,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "example/web:v1"}]},
                },
            },
        },
    )
    policy.create_namespaced_pod_disruption_budget(
        NS,
        {
            "metadata": {"name": "web"},
            "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}},
        },
    )
    box.settle()
    [rs] = apps.list_namespaced_replica_set(NS).items
    assert rs.metadata.owner_references[0].name == "web"
    pods = core.list_namespaced_pod(NS, label_selector="app=web").items
    assert len(pods) == 3
    assert {p.status.phase for p in pods} == {"Running"}
    assert all(p.spec.node_name for p in pods)  # the real scheduler placed them
    # the real disruption controller's status
    _wait(
        "the budget's status",
        lambda: policy.read_namespaced_pod_disruption_budget("web", NS).status.current_healthy == 3,
    )
    status = policy.read_namespaced_pod_disruption_budget("web", NS).status
    assert (status.desired_healthy, status.disruptions_allowed) == (3, 0)
    # kube-apiserver judges the eviction by it
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_pod_eviction(
            pods[0].metadata.name,
            NS,
            {"metadata": {"name": pods[0].metadata.name, "namespace": NS}},
        )
    assert refused.value.status == 429
    policy.patch_namespaced_pod_disruption_budget("web", NS, {"spec": {"minAvailable": 2}})
    _wait(
        "a disruption allowed",
        lambda: (
            policy.read_namespaced_pod_disruption_budget("web", NS).status.disruptions_allowed == 1
        ),
    )
    core.create_namespaced_pod_eviction(
        pods[0].metadata.name, NS, {"metadata": {"name": pods[0].metadata.name, "namespace": NS}}
    )
    box.settle()
    writes = box.writes()[mark:]
    assert [(w.verb, w.resource) for w in writes if w.resource in ("pods", "deployments")] == [
        ("create", "deployments"),
        ("evict", "pods"),
    ]  # the controllers' own writes are not the tests' (told apart by their user agent)
    # the real garbage collector: the Deployment's ReplicaSet and pods go with it
    apps.delete_namespaced_deployment("web", NS)
    _wait(
        "the garbage collector",
        lambda: (
            not apps.list_namespaced_replica_set(NS).items
            and not core.list_namespaced_pod(NS).items
        ),
    )
