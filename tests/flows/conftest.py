"""A cluster with the CRDs installed, workloads to act on, and the real operator.

Each flow test runs on the embedded API emulator and on the real control plane (`--cluster`,
tests/conftest.py): the `cluster` fixture is parametrised by `backend`. On the real one the
cluster is shared by the session; each test finds the namespaces shop, remediator-system and
other empty, and leaves them so (`ControlPlane.clean`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from kube_emulator import Sandbox
from real.backend import ControlPlane, RealBox
from remediator.reconcile import EVENT_REASONS
from remediator_devtools.testing import OperatorThread
from support.crds import install_crds
from support.operator_settings import operator_config
from support.policies import GROUP, RESTART, VERSION, approval, policy_spec, resource
from support.waiting import wait_for
from support.workloads import apply_deployment, deployment

ROOT = Path(__file__).resolve().parents[2]
NS = "shop"
APPROVAL_KEY = b"flow-tests-approval-key"


@dataclass
class Cluster:
    box: Sandbox | RealBox
    api: client.ApiClient
    # the typed APIs the tests use, on `api`
    custom: client.CustomObjectsApi = field(init=False)
    apps: client.AppsV1Api = field(init=False)
    core: client.CoreV1Api = field(init=False)
    policy_api: client.PolicyV1Api = field(init=False)
    autoscaling: client.AutoscalingV2Api = field(init=False)

    @property
    def real(self) -> bool:
        """On the real control plane (not the emulator)."""
        return isinstance(self.box, RealBox)

    def __post_init__(self) -> None:
        self.custom = client.CustomObjectsApi(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.policy_api = client.PolicyV1Api(self.api)
        self.autoscaling = client.AutoscalingV2Api(self.api)

    def create(self, plural: str, body: dict[str, Any], namespace: str = NS) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, body
        )
        return result

    def create_unadmitted(self, plural: str, body: dict[str, Any]) -> None:
        """Store `body` as if the operator's admission webhooks were not in the path: on the
        emulator straight into its storage; on the real cluster with the webhook
        configurations removed meanwhile (as an admin who deletes them can), then restored."""
        if isinstance(self.box, Sandbox):
            box = self.box
            box.call(lambda: box.api.internal_create(GROUP, plural, body))
            return
        adm = client.AdmissionregistrationV1Api(self.api)
        kinds = (
            (
                adm.read_mutating_webhook_configuration,
                adm.delete_mutating_webhook_configuration,
                adm.create_mutating_webhook_configuration,
            ),
            (
                adm.read_validating_webhook_configuration,
                adm.delete_validating_webhook_configuration,
                adm.create_validating_webhook_configuration,
            ),
        )
        saved = []
        for read, delete, create in kinds:
            try:
                obj = self.api.sanitize_for_serialization(read(GROUP))
            except client.ApiException as e:
                if e.status == 404:
                    continue
                raise
            delete(GROUP)
            meta = obj["metadata"]
            obj["metadata"] = {k: meta[k] for k in ("name", "labels", "annotations") if k in meta}
            saved.append((create, obj))
        try:
            namespace = body["metadata"]["namespace"]
            # the API server drops a deleted webhook configuration within moments: until
            # then, the webhook still refuses the forgery
            self.wait_for(
                "a write that no webhook admits",
                lambda: _created(self.custom, namespace, plural, body),
                timeout=10,
            )
        finally:
            for create, obj in saved:
                create(obj)

    def patch(
        self, plural: str, name: str, body: dict[str, Any], namespace: str = NS
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, name, body
        )
        return result

    def get(self, plural: str, name: str, namespace: str = NS) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, name
        )
        return result

    def policy(self, name: str, spec: dict[str, Any], namespace: str = NS) -> dict[str, Any]:
        return self.create(
            "remediationpolicies", resource("RemediationPolicy", name, spec), namespace
        )

    def incident(self, name: str, spec: dict[str, Any], namespace: str = NS) -> dict[str, Any]:
        return self.create("incidents", resource("Incident", name, spec), namespace)

    def approve(
        self,
        incident: str,
        approver: str,
        decision: str = "approve",
        plan_hash: str | None = None,
        namespace: str = NS,
        groups: list[str] | None = None,
    ) -> dict[str, Any]:
        """Create an Approval as the user `approver`, through the operator's admission webhook
        (which stamps and seals the identity), exactly as `remediator approve` does."""
        plan_hash = (
            plan_hash or self.get("incidents", incident, namespace)["status"]["plan"]["hash"]
        )
        kubeconfig = self.box.kubeconfig_for(
            approver,
            Path(str(self.box.kubeconfig)).with_name(f"user-{len(approver)}-{id(self)}"),
            tuple(groups or ()),
        )
        configuration = client.Configuration()
        from kubernetes import config

        config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        with client.ApiClient(configuration) as api:
            result: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
                GROUP, VERSION, namespace, "approvals", approval(incident, plan_hash, decision)
            )
        return result

    def wait_phase(
        self, name: str, *phases: str, timeout: float = 15, namespace: str = NS
    ) -> dict[str, Any]:
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

    def remediated(self, name: str, namespace: str = NS) -> dict[str, Any]:
        """The incident once remediated (failing at once, with its status, if it ended
        otherwise)."""
        body = self.wait_phase(name, "Remediated", "Failed", "Blocked", namespace=namespace)
        assert body["status"]["phase"] == "Remediated", body["status"]
        return body

    def reverted(self, name: str, index: int = 0, timeout: float = 8) -> dict[str, Any]:
        """The incident once its step `index` is Reverted."""
        body: dict[str, Any] = self.wait_for(
            f"the revert of step {index}",
            lambda: (
                (b := self.get("incidents", name))
                and actions(b)[index]["state"] == "Reverted"
                and b
            ),
            timeout=timeout,
        )
        return body

    def blocked(self, name: str, namespace: str = NS) -> dict[str, Any]:
        """The incident once blocked (failing at once, with its status, if it ended
        otherwise)."""
        body = self.wait_phase(name, "Blocked", "Remediated", "Failed", namespace=namespace)
        assert body["status"]["phase"] == "Blocked", body["status"]
        return body

    def deployment(
        self, name: str, image: str = "v1", replicas: int = 2, namespace: str = NS
    ) -> None:
        apply_deployment(self.api, namespace, deployment(name, image, replicas))
        self.box.settle()

    def restart_web(self, **policy: Any) -> int:
        """The Deployment web and the policy `restart` of the incident's Deployment (`policy`
        added to its spec); returns the write mark after them."""
        self.deployment("web")
        self.policy("restart", policy_spec(RESTART, **policy))
        return self.mark()

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 10) -> Any:
        return wait_for(what, check, timeout)

    def events(self, incident: dict[str, Any], namespace: str = NS) -> list[Any]:
        """The core/v1 Events about this incident (matched by involvedObject.uid)."""
        uid = incident["metadata"]["uid"]
        return [
            e
            for e in self.core.list_namespaced_event(namespace).items
            if e.involved_object.uid == uid
        ]

    def event_reasons(
        self, incident: dict[str, Any], *expected: str, namespace: str = NS
    ) -> list[str]:
        """The reasons of the decisions the incident's Events tell, sorted (an Event telling
        several names them in an annotation); first waits (briefly) until each of
        `expected` is among them, since an Event is posted just after the status."""
        reasons: list[str] = []
        deadline = time.monotonic() + 3
        while True:
            reasons = sorted(r for e in self.events(incident, namespace) for r in told(e))
            if all(reasons.count(r) >= expected.count(r) for r in expected):
                return reasons
            if time.monotonic() > deadline:
                raise AssertionError(f"Events {expected} not all posted; got {reasons}")
            time.sleep(0.05)

    def configmap(self, name: str, data: dict[str, str], namespace: str = NS) -> dict[str, str]:
        self.core.create_namespaced_config_map(
            namespace, {"metadata": {"name": name}, "data": data}
        )
        return data

    def configmap_data(self, name: str, namespace: str = NS) -> dict[str, str]:
        return dict(self.core.read_namespaced_config_map(name, namespace).data or {})

    def mark(self) -> int:
        """A point in the write log; `writes(since=mark)` counts only what came after."""
        return len(self.box.writes())

    def writes(
        self,
        verb: str | None = None,
        resource: str | None = None,
        name: str | None = None,
        since: int = 0,
    ) -> list[Any]:
        return [
            w
            for w in self.box.writes()[since:]
            if w.changed
            and (verb is None or w.verb == verb)
            and (resource is None or w.resource == resource)
            and (name is None or w.name == name)
        ]


def _created(
    custom: client.CustomObjectsApi, namespace: str, plural: str, body: dict[str, Any]
) -> bool:
    try:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)
    except client.ApiException as e:
        if e.status in (400, 403, 500):
            return False
        raise
    return True


def timeline(body: dict[str, Any]) -> list[str]:
    """The reasons of an incident's timeline, oldest first."""
    return [entry["reason"] for entry in (body.get("status") or {}).get("timeline", [])]


def actions(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list((body.get("status") or {}).get("actions", []))


@pytest.fixture
def cluster(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    if backend == "real":
        plane: ControlPlane = request.getfixturevalue("control_plane")
        real = RealBox(plane, tmp_path)
        api = client.ApiClient(_configuration(real))
        try:
            yield Cluster(real, api)
        finally:
            api.close()
            plane.clean()
        return
    # anonymous requests get 403: every client here must prove who it is
    with Sandbox(
        kubeconfig=tmp_path / "kubeconfig", bookmark_interval=0.5, anonymous_is_admin=False
    ) as box:
        api = client.ApiClient(_configuration(box))
        install_crds(api)
        core = client.CoreV1Api(api)
        for ns in (NS, "remediator-system", "other"):
            core.create_namespace({"metadata": {"name": ns}})
        yield Cluster(box, api)
        api.close()


def _configuration(box: Sandbox | RealBox) -> client.Configuration:
    from kubernetes import config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(box.kubeconfig), client_configuration=configuration)
    return configuration


def _webhooks_registered(cluster: Cluster, port: int) -> bool:
    api = client.AdmissionregistrationV1Api(cluster.api)
    configurations = []
    for read in (
        api.read_mutating_webhook_configuration,
        api.read_validating_webhook_configuration,
    ):
        try:
            configurations.append(read(GROUP))
        except client.ApiException as e:
            if e.status == 404:
                return False
            raise
    return all(
        c.webhooks and all(f":{port}/" in (w.client_config.url or "") for w in c.webhooks)
        for c in configurations
    )


@pytest.fixture
def start_operator(cluster: Cluster) -> Iterator[Callable[..., OperatorThread]]:
    running: list[OperatorThread] = []

    def start(**overrides: Any) -> OperatorThread:
        config = operator_config(APPROVAL_KEY, real=cluster.real, **overrides)
        assert cluster.box.kubeconfig is not None
        operator = OperatorThread(cluster.box.kubeconfig, config).start()
        running.append(operator)
        if config.webhook_managed and config.webhook_port:
            # Kopf registers the webhooks after "ready": wait for this operator's URL, or an
            # Approval created right away would miss the stamp (after a restart, the old
            # operator's cleanup has removed them)
            cluster.wait_for(
                "the admission webhooks of this operator",
                lambda: _webhooks_registered(cluster, config.webhook_port or 0),
            )
        return operator

    yield start
    for operator in running:
        operator.stop()


@pytest.fixture
def operator(start_operator: Callable[..., OperatorThread]) -> OperatorThread:
    return start_operator()


def told(event: Any) -> list[str]:
    """The reasons of the decisions one Event tells (`reconciler.EVENT_REASONS`)."""
    annotations = event.metadata.annotations or {}
    if EVENT_REASONS in annotations:
        return str(annotations[EVENT_REASONS]).split(",")
    return [event.reason]
