"""Workloads to act on: one Deployment (or StatefulSet) builder for every test, and the
create-or-update that puts one in a cluster.

Every workload runs one container `app` from the image `example/<name>:<tag>`, and its pods
carry the label `app=<name>`, which is also its selector."""

from __future__ import annotations

from typing import Any

from kubernetes import client

REVISION = "deployment.kubernetes.io/revision"


def pod_template(name: str, tag: str, **labels: str) -> dict[str, Any]:
    """The pod template of the workload `name` at image tag `tag` (`labels` added to app)."""
    return {
        "metadata": {"labels": {"app": name, **labels}},
        "spec": {"containers": [{"name": "app", "image": f"example/{name}:{tag}"}]},
    }


def workload(
    kind: str,
    name: str,
    tag: str = "v1",
    replicas: int | None = 2,
    *,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    revision: int | None = None,
    paused: bool | None = None,
) -> dict[str, Any]:
    """A Deployment or StatefulSet body. `replicas=None` leaves the field out (the API
    server's default); `revision` sets the annotation the Deployment controller writes."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels is not None:
        metadata["labels"] = labels
    if revision is not None:
        metadata["annotations"] = {REVISION: str(revision)}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": pod_template(name, tag),
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if paused is not None:
        spec["paused"] = paused
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": metadata, "spec": spec}


def deployment(
    name: str, tag: str = "v1", replicas: int | None = 2, **options: Any
) -> dict[str, Any]:
    """A Deployment body (the options as for `workload`)."""
    return workload("Deployment", name, tag, replicas, **options)


def apply_deployment(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> None:
    """Create the Deployment, or give the existing one this spec (a new rollout when the
    template changed, as `kubectl apply` would)."""
    apps = client.AppsV1Api(api)
    name, spec = body["metadata"]["name"], body["spec"]
    try:
        apps.create_namespaced_deployment(namespace, body)  # type: ignore[arg-type]  # a dict serves
    except client.ApiException as e:
        if e.status != 409:
            raise
        apps.patch_namespaced_deployment(name, namespace, {"spec": spec})


def cron_job(name: str, *, labels: dict[str, str] | None = None, suspend: bool = False) -> Any:
    """A CronJob every five minutes, of one container `job` from the image example/job:v1."""
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "schedule": "*/5 * * * *",
            "suspend": suspend,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "job", "image": "example/job:v1"}],
                        }
                    }
                }
            },
        },
    }
