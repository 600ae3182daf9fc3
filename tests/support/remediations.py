"""A test's hand on the remediator.dev objects of one namespace, through an admin client:
create policies, incidents and Deployments, read them, wait for an incident's phase."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from kube_emulator import Sandbox
from real.backend import RealBox

from .policies import GROUP, VERSION, incident_spec, policy_spec, resource
from .workloads import apply_deployment, deployment


class Remediations:
    """Mixed into a test's world, which gives the `box` and its admin `api`. Policies here
    target the workload named by the incident label `workload` (a Deployment unless said)."""

    box: Sandbox | RealBox
    api: client.ApiClient
    namespace = "shop"

    def create(self, plural: str, kind: str, name: str, spec: dict[str, Any]) -> None:
        client.CustomObjectsApi(self.api).create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, resource(kind, name, spec)
        )

    def get(self, plural: str, name: str) -> dict[str, Any]:
        body = client.CustomObjectsApi(self.api).get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, name
        )
        assert isinstance(body, dict)
        return body

    def policy(
        self, name: str, alert: str, *steps: dict[str, Any], kind: str = "Deployment", **extra: Any
    ) -> None:
        spec = policy_spec(*steps, alert=alert, label="workload", kind=kind, **extra)
        self.create("remediationpolicies", "RemediationPolicy", name, spec)

    def incident(self, name: str, alert: str, workload: str, severity: str = "P2") -> None:
        spec = incident_spec(workload, severity, alert, label="workload")
        self.create("incidents", "Incident", name, spec)

    def wait(self, name: str, *phases: str, timeout: float = 20) -> dict[str, Any]:
        """The incident once it reached one of `phases`."""
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.get("incidents", name)
            if (body.get("status") or {}).get("phase") in phases:
                return body
            time.sleep(0.05)
        raise AssertionError(f"{name} did not reach {phases}: {body.get('status')}")

    def deployment(self, name: str, image: str = "v1", replicas: int = 2) -> None:
        """The Deployment `name` at image tag `image`, created or rolled out, and settled."""
        apply_deployment(self.api, self.namespace, deployment(name, image, replicas))
        self.box.settle()
