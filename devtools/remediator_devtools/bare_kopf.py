"""The peer to beat: the Kopf operator a team writes in an afternoon (no guards, approvals,
audit or bridge). For each new Incident it reads the target, patches its `/scale` to one
replica more and writes the status. The bench runs it as
`kopf run -m remediator_devtools.bare_kopf --standalone --namespace NS`.
"""

from __future__ import annotations

from typing import Any

import kopf
import kubernetes

apps: kubernetes.client.AppsV1Api | None = None


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    global apps
    kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    apps = kubernetes.client.AppsV1Api()
    settings.execution.max_workers = 32  # sync handlers run in Kopf's thread pool


@kopf.on.create("remediator.dev", "v1alpha1", "incidents")
def remediate(
    spec: kopf.Spec, namespace: str | None, patch: kopf.Patch, body: kopf.Body, **_: Any
) -> None:
    assert apps is not None and namespace is not None
    target = spec["target"]["name"]
    scale = apps.read_namespaced_deployment_scale(target, namespace)
    replicas = (scale.spec.replicas if scale.spec else 0) or 0
    replicas += 1
    apps.patch_namespaced_deployment_scale(target, namespace, {"spec": {"replicas": replicas}})
    message = f"scaled Deployment/{target} to {replicas} replicas"
    patch.status["phase"] = "Remediated"
    patch.status["message"] = message
    kopf.info(body, reason="Remediated", message=message)
