"""A sandbox cluster with the CRDs installed, workloads to act on, and the real operator."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from remediator.reconciler import OperatorConfig
from remediator.sandbox import Sandbox
from remediator.testing import OperatorThread

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION = "remediator.dev", "v1alpha1"
NS = "shop"


@dataclass
class Cluster:
    box: Sandbox
    api: client.ApiClient

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def create(self, plural: str, body: dict[str, Any], namespace: str = NS) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, body
        )
        return result

    def get(self, plural: str, name: str, namespace: str = NS) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, name
        )
        return result

    def policy(self, name: str, spec: dict[str, Any], namespace: str = NS) -> dict[str, Any]:
        return self.create("remediationpolicies", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "RemediationPolicy",
            "metadata": {"name": name}, "spec": spec}, namespace)

    def incident(self, name: str, spec: dict[str, Any], namespace: str = NS) -> dict[str, Any]:
        return self.create("incidents", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "Incident",
            "metadata": {"name": name}, "spec": spec}, namespace)

    def approve(self, incident: str, approver: str, decision: str = "approve",
                plan_hash: str | None = None, namespace: str = NS) -> dict[str, Any]:
        plan_hash = plan_hash or self.get("incidents", incident, namespace)["status"]["plan"]["hash"]
        return self.create("approvals", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "Approval",
            "metadata": {"generateName": f"{incident}-"},
            "spec": {"incident": incident, "decision": decision, "planHash": plan_hash,
                     "approver": approver}}, namespace)

    def wait_phase(self, name: str, *phases: str, timeout: float = 15,
                   namespace: str = NS) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.get("incidents", name, namespace)
            if (body.get("status") or {}).get("phase") in phases:
                return body
            time.sleep(0.05)
        raise AssertionError(
            f"incident {name} did not reach {phases}; status: {body.get('status')}"
        )

    def deployment(self, name: str, image: str = "v1", replicas: int = 2,
                   namespace: str = NS) -> None:
        body = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app",
                                                           "image": f"example/{name}:{image}"}]}}},
        }
        try:
            self.apps.create_namespaced_deployment(namespace, body)
        except client.ApiException as e:
            if e.status != 409:
                raise
            self.apps.patch_namespaced_deployment(name, namespace, {"spec": body["spec"]})
        self.box.settle()

    def mark(self) -> int:
        """A point in the write log; `writes(since=mark)` counts only what came after."""
        return len(self.box.writes())

    def writes(self, verb: str | None = None, resource: str | None = None,
               name: str | None = None, since: int = 0) -> list[Any]:
        return [w for w in self.box.writes()[since:] if w.changed
                and (verb is None or w.verb == verb)
                and (resource is None or w.resource == resource)
                and (name is None or w.name == name)]


def install_crds(api: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api)
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        ext.create_custom_resource_definition(yaml.safe_load(path.read_text()))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Sandbox(kubeconfig=tmp_path / "kubeconfig", bookmark_interval=0.5) as box:
        api = client.ApiClient(_configuration(box))
        install_crds(api)
        core = client.CoreV1Api(api)
        for ns in (NS, "remediator-system", "other"):
            core.create_namespace({"metadata": {"name": ns}})
        yield Cluster(box, api)
        api.close()


def _configuration(box: Sandbox) -> client.Configuration:
    from kubernetes import config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(box.kubeconfig), client_configuration=configuration)
    return configuration


@pytest.fixture
def start_operator(cluster: Cluster) -> Iterator[Callable[..., OperatorThread]]:
    running: list[OperatorThread] = []

    def start(**overrides: Any) -> OperatorThread:
        config = OperatorConfig(tick_seconds=0.2, **overrides)
        assert cluster.box.kubeconfig is not None
        operator = OperatorThread(cluster.box.kubeconfig, config).start()
        running.append(operator)
        return operator

    yield start
    for operator in running:
        operator.stop()


@pytest.fixture
def operator(start_operator: Callable[..., OperatorThread]) -> OperatorThread:
    return start_operator()
