"""The fixture Deployment controller, seen through the real `kubernetes` client.

Rollback, rolling restart and eviction need ReplicaSets and pods to act on; these tests pin
down that the emulator produces them the way kube-controller-manager would.
"""

from __future__ import annotations

import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from kube_emulator import Sandbox

from .builders import deployment

NS = "default"
REVISION = "deployment.kubernetes.io/revision"


def replicasets(apps: client.AppsV1Api, name: str = "web") -> list[client.V1ReplicaSet]:
    items = apps.list_namespaced_replica_set(NS, label_selector=f"app={name}").items
    return sorted(items, key=lambda rs: int(rs.metadata.annotations[REVISION]))


def pods(core: client.CoreV1Api, name: str = "web") -> list[client.V1Pod]:
    return list(core.list_namespaced_pod(NS, label_selector=f"app={name}").items)


def set_image(apps: client.AppsV1Api, image: str, name: str = "web") -> None:
    dep = apps.read_namespaced_deployment(name, NS)
    dep.spec.template.spec.containers[0].image = image
    apps.replace_namespaced_deployment(name, NS, dep)


def assert_ready(pod: client.V1Pod) -> None:
    assert pod.status.phase == "Running"
    ready = {c.type: c.status for c in pod.status.conditions}
    assert ready["Ready"] == "True"
    assert pod.status.pod_ip
    assert [c.ready for c in pod.status.container_statuses] == [True]
    assert pod.status.container_statuses[0].restart_count == 0


def test_new_deployment_gets_revision_1_and_ready_pods(
    sandbox: Sandbox, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    created = apps.create_namespaced_deployment(NS, deployment(replicas=2))
    sandbox.settle()

    [rs] = replicasets(apps)
    template_hash = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{template_hash}"
    assert rs.metadata.annotations[REVISION] == "1"
    assert rs.metadata.labels == {"app": "web", "pod-template-hash": template_hash}
    assert rs.spec.selector.match_labels == {"app": "web", "pod-template-hash": template_hash}
    [owner] = rs.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Deployment",
        "web",
        created.metadata.uid,
        True,
    )
    assert rs.spec.replicas == 2
    assert (rs.status.replicas, rs.status.ready_replicas, rs.status.available_replicas) == (2, 2, 2)

    running = pods(core)
    assert len(running) == 2
    for pod in running:
        assert pod.metadata.name.startswith(f"{rs.metadata.name}-")
        assert len(pod.metadata.name) == len(rs.metadata.name) + 6
        assert pod.metadata.labels["pod-template-hash"] == template_hash
        assert pod.metadata.owner_references[0].uid == rs.metadata.uid
        assert_ready(pod)

    dep = apps.read_namespaced_deployment("web", NS)
    assert dep.metadata.annotations[REVISION] == "1"
    assert dep.status.observed_generation == dep.metadata.generation
    assert (
        dep.status.replicas,
        dep.status.updated_replicas,
        dep.status.ready_replicas,
        dep.status.available_replicas,
    ) == (2, 2, 2, 2)
    conditions = {c.type: (c.status, c.reason) for c in dep.status.conditions}
    assert conditions == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }


def test_template_change_rolls_out_revision_2_and_rollback_reuses_revision_1(
    sandbox: Sandbox, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    apps.create_namespaced_deployment(NS, deployment(replicas=2))
    sandbox.settle()
    [first] = replicasets(apps)

    set_image(apps, "nginx:1.26")
    sandbox.settle()
    old, new = replicasets(apps)
    assert old.metadata.name == first.metadata.name
    assert (old.metadata.annotations[REVISION], old.spec.replicas, old.status.replicas) == (
        "1",
        0,
        0,
    )
    assert (new.metadata.annotations[REVISION], new.spec.replicas) == ("2", 2)
    running = pods(core)
    assert len(running) == 2
    assert {p.metadata.owner_references[0].name for p in running} == {new.metadata.name}
    assert {p.spec.containers[0].image for p in running} == {"nginx:1.26"}
    dep = apps.read_namespaced_deployment("web", NS)
    assert dep.metadata.annotations[REVISION] == "2"
    assert dep.status.updated_replicas == 2

    # What `kubectl rollout undo` does: put the old template back. The old ReplicaSet is
    # reused and becomes revision 3; no new ReplicaSet appears.
    set_image(apps, "nginx:1.25")
    sandbox.settle()
    middle, back = replicasets(apps)
    assert back.metadata.name == first.metadata.name
    assert (back.metadata.annotations[REVISION], back.spec.replicas) == ("3", 2)
    assert (middle.metadata.name, middle.spec.replicas) == (new.metadata.name, 0)
    assert {p.spec.containers[0].image for p in pods(core)} == {"nginx:1.25"}
    assert apps.read_namespaced_deployment("web", NS).metadata.annotations[REVISION] == "3"


def test_rolling_restart_annotation_makes_a_new_revision(
    sandbox: Sandbox, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    apps.create_namespaced_deployment(NS, deployment(replicas=2))
    sandbox.settle()
    before = {p.metadata.name for p in pods(core)}

    dep = apps.read_namespaced_deployment("web", NS)
    dep.spec.template.metadata.annotations = {
        "kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"
    }
    apps.replace_namespaced_deployment("web", NS, dep)
    sandbox.settle()

    after = pods(core)
    assert len(after) == 2
    assert not before & {p.metadata.name for p in after}
    assert [rs.metadata.annotations[REVISION] for rs in replicasets(apps)] == ["1", "2"]
    assert all(
        p.metadata.annotations["kubectl.kubernetes.io/restartedAt"] == "2024-05-01T10:00:00Z"
        for p in after
    )


def test_deleted_pod_is_replaced(
    sandbox: Sandbox, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    apps.create_namespaced_deployment(NS, deployment(replicas=3))
    sandbox.settle()
    victim = pods(core)[0].metadata.name

    core.delete_namespaced_pod(victim, NS)
    sandbox.settle()

    running = pods(core)
    assert len(running) == 3
    assert victim not in {p.metadata.name for p in running}
    for pod in running:
        assert_ready(pod)
    assert len(replicasets(apps)) == 1


def test_scale_subresource_drives_the_pod_count(
    sandbox: Sandbox, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    apps.create_namespaced_deployment(NS, deployment(replicas=1))
    sandbox.settle()

    for replicas in (4, 2, 0, 1):
        scale = apps.read_namespaced_deployment_scale("web", NS)
        scale.spec.replicas = replicas
        apps.replace_namespaced_deployment_scale("web", NS, scale)
        sandbox.settle()
        assert len(pods(core)) == replicas
        [rs] = replicasets(apps)
        assert rs.spec.replicas == replicas
        dep = apps.read_namespaced_deployment("web", NS)
        assert (dep.status.ready_replicas or 0) == replicas
        assert apps.read_namespaced_deployment_scale("web", NS).status.replicas == replicas


def test_paused_deployment_does_not_roll_out(
    sandbox: Sandbox, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    body = deployment(replicas=2)
    apps.create_namespaced_deployment(NS, body)
    sandbox.settle()

    dep = apps.read_namespaced_deployment("web", NS)
    dep.spec.paused = True
    dep.spec.template.spec.containers[0].image = "nginx:1.26"
    apps.replace_namespaced_deployment("web", NS, dep)
    # a paused rollout never completes (the real cluster's settle() waits for that): until
    # the controller has seen the pause
    deadline = time.monotonic() + 10
    while True:
        progressing = {
            c.type: c.reason for c in apps.read_namespaced_deployment("web", NS).status.conditions
        }["Progressing"]
        if progressing == "DeploymentPaused" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert progressing == "DeploymentPaused"
    assert len(replicasets(apps)) == 1
    assert {p.spec.containers[0].image for p in pods(core)} == {"nginx:1.25"}


@pytest.mark.emulator_only(reason="the emulator's internals: its fixture controller's calls")
def test_settled_controller_writes_nothing_more(sandbox: Sandbox, apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, deployment(replicas=3))
    sandbox.settle()
    # Every committed write takes a new resourceVersion: an unchanged one means no writes.
    before = sandbox.call(lambda: sandbox.api.store.rv)

    assert sandbox.controller is not None
    sandbox.call(sandbox.controller.resync)
    sandbox.settle()

    assert sandbox.call(lambda: sandbox.api.store.rv) == before


def test_eviction_respects_the_budget_and_the_pod_comes_back(
    sandbox: Sandbox, apps: client.AppsV1Api, core: client.CoreV1Api, api_client: client.ApiClient
) -> None:
    apps.create_namespaced_deployment(NS, deployment(replicas=2))
    client.PolicyV1Api(api_client).create_namespaced_pod_disruption_budget(
        NS,
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "web"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
        },
    )
    sandbox.settle()
    victim = pods(core)[0].metadata.name
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": victim}}

    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod_eviction(victim, NS, eviction)
    assert refused.value.status == 429

    client.PolicyV1Api(api_client).patch_namespaced_pod_disruption_budget(
        "web", NS, {"spec": {"minAvailable": 1}}
    )
    sandbox.settle()  # the real disruption controller observes the new budget first
    core.create_namespaced_pod_eviction(victim, NS, eviction)
    sandbox.settle()
    running = pods(core)
    assert len(running) == 2
    assert victim not in {p.metadata.name for p in running}


@pytest.mark.emulator_only(
    reason="deliberate: kwok keeps the real cluster's pods Ready; a written Ready=False "
    "does not stay"
)
def test_unready_pod_shows_in_status_but_is_kept(
    sandbox: Sandbox, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    apps.create_namespaced_deployment(NS, deployment(replicas=2))
    sandbox.settle()
    pod = pods(core)[0]
    pod.status.conditions = [
        *(c for c in pod.status.conditions if c.type != "Ready"),
        client.V1PodCondition(type="Ready", status="False"),
    ]
    core.replace_namespaced_pod_status(pod.metadata.name, NS, pod)
    sandbox.settle()

    assert pod.metadata.name in {p.metadata.name for p in pods(core)}
    dep = apps.read_namespaced_deployment("web", NS)
    assert (dep.status.ready_replicas, dep.status.unavailable_replicas) == (1, 1)
    conditions = {c.type: (c.status, c.reason) for c in dep.status.conditions}
    assert conditions == {
        "Available": ("False", "MinimumReplicasUnavailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
