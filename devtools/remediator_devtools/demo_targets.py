"""Where `remediator demo` plays: the embedded API emulator, or a cluster it is given.

The scenarios (`demo.Demo`) talk to either through the public Kubernetes API only (plain
HTTP with a kubeconfig's credentials, `Rest`, and `kubectl`); what differs is here.
`Emulated` starts the emulator and its fixture Deployment controller, and reads the
emulator's write log. `GivenCluster` plays on the cluster of a kubeconfig: in a namespace of
its own that it creates and deletes, it waits for the cluster's own controllers (Deployments
rolled out, PodDisruptionBudgets observed), approves as the identity of
`--approver-kubeconfig` (else the operator's), and, since the API server's write log is its
audit log, which the API does not serve, reports only what the API shows.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import click
from kubernetes import client

from kube_emulator import Sandbox
from remediator.adapters.kube import load_configuration
from remediator.core.crds import all_crds
from remediator.core.models import API_VERSION, GROUP, VERSION

DEMO_LABEL = {"app.kubernetes.io/created-by": "remediator-demo"}
WEBHOOK_KINDS = ("mutatingwebhookconfigurations", "validatingwebhookconfigurations")
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
MERGE = "application/merge-patch+json"
# where each resource the demo touches is served (group/version), by plural
PREFIXES = {
    "namespaces": "/api/v1",
    "configmaps": "/api/v1",
    "pods": "/api/v1",
    "events": "/api/v1",
    "deployments": "/apis/apps/v1",
    "replicasets": "/apis/apps/v1",
    "horizontalpodautoscalers": "/apis/autoscaling/v2",
    "poddisruptionbudgets": "/apis/policy/v1",
    "roles": "/apis/rbac.authorization.k8s.io/v1",
    "rolebindings": "/apis/rbac.authorization.k8s.io/v1",
    "incidents": f"/apis/{GROUP}/{VERSION}",
    "remediationpolicies": f"/apis/{GROUP}/{VERSION}",
    "approvals": f"/apis/{GROUP}/{VERSION}",
    "logs": "/apis/kwok.x-k8s.io/v1alpha1",  # kwok's fake pods' logs (a real kwok cluster)
    **dict.fromkeys(WEBHOOK_KINDS, "/apis/admissionregistration.k8s.io/v1"),
}


class NotFoundError(LookupError):
    pass


class Rest:
    """Plain HTTP to the API server with a kubeconfig's credentials: JSON in, JSON out.

    Paths are built from `PREFIXES`: `path("deployments", "web", namespace="shop")`."""

    def __init__(self, kubeconfig: Path | str) -> None:
        self.configuration = load_configuration(str(kubeconfig))
        self.host = str(self.configuration.host).rstrip("/")
        self.client = client.ApiClient(self.configuration)

    @staticmethod
    def path(plural: str, name: str | None = None, namespace: str | None = None) -> str:
        base = PREFIXES[plural]
        base += f"/namespaces/{namespace}" if namespace else ""
        return f"{base}/{plural}" + (f"/{name}" if name else "")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Iterable[tuple[str, Any]] = (),
        content_type: str = "application/json",
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        token = self.configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
        if token:  # a client certificate is in the TLS context instead
            headers["Authorization"] = token
        query = list(query)
        url = self.host + path + (f"?{urlencode(query)}" if query else "")
        response = self.client.call_api(
            method, url, header_params=headers, body=body, _request_timeout=30
        )
        data = response.read()  # type: ignore[no-untyped-call]
        if response.status == 404:
            raise NotFoundError(f"{method} {path}: 404 Not Found")
        if not 200 <= response.status < 300:
            detail = data.decode(errors="replace") if data else ""
            raise click.ClickException(f"{method} {path}: {response.status} {detail}"[:2000])
        return json.loads(data) if data else None

    def get(self, plural: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = self.request("GET", self.path(plural, name, namespace))
        return found

    def find(self, plural: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return self.get(plural, name, namespace)
        except NotFoundError:
            return None

    def list(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.request("GET", self.path(plural, None, namespace))[
            "items"
        ]
        return items

    def create(self, plural: str, body: dict[str, Any], namespace: str | None = None) -> Any:
        return self.request("POST", self.path(plural, None, namespace), body)

    def patch(
        self, plural: str, name: str, patch: dict[str, Any], namespace: str | None = None
    ) -> Any:
        return self.request("PATCH", self.path(plural, name, namespace), patch, content_type=MERGE)

    def delete(self, path: str, query: Iterable[tuple[str, Any]] = ()) -> None:
        with contextlib.suppress(NotFoundError):
            self.request("DELETE", path, query=query)

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def webhook_configurations(rest: Rest) -> dict[str, list[dict[str, Any]] | None]:
    """The webhooks of the operator's configurations, by kind (None: no such object)."""
    found = {kind: rest.find(kind, GROUP) for kind in WEBHOOK_KINDS}
    return {k: None if v is None else list(v.get("webhooks") or []) for k, v in found.items()}


def webhooks_registered(rest: Rest, port: int) -> bool:
    """Both configurations point at this operator's webhook server (`port`)."""
    return all(
        hooks and all(f":{port}/" in str(h["clientConfig"].get("url", "")) for h in hooks)
        for hooks in webhook_configurations(rest).values()
    )


def admission_in_path(rest: Rest, port: int, namespace: str, timeout: float = 30) -> None:
    """Until the API server calls this operator's webhooks: registered (Kopf does it after
    "ready"), and a dry-run Approval comes back stamped (kube-apiserver loads a new
    configuration moments after it is written). An Approval created before would miss the
    stamp, and never count."""
    probe = {
        "apiVersion": API_VERSION,
        "kind": "Approval",
        "metadata": {"generateName": "demo-webhook-probe-"},
        "spec": {"incident": "demo-webhook-probe", "decision": "approve", "planHash": "probe"},
    }
    deadline = time.monotonic() + timeout
    while True:
        problem = "the webhook configurations are not registered"
        if webhooks_registered(rest, port):
            try:
                made = rest.request(
                    "POST", rest.path("approvals", namespace=namespace), probe, [("dryRun", "All")]
                )
            except click.ClickException as e:
                problem = e.message
            else:
                if (made.get("spec") or {}).get("approver"):
                    return
                problem = "a dry-run Approval came back without the stamp"
        if time.monotonic() > deadline:
            raise click.ClickException(
                f"the API server does not call the operator's admission webhook on port {port} "
                f"after {timeout:.0f} s ({problem[:600]}). The demo runs the operator on this "
                "machine, serving HTTPS on 127.0.0.1: the cluster's API server must run here "
                "too (`make cluster`)"
            )
        time.sleep(0.1)


def wait(what: str, check: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class Emulated:
    """The embedded API emulator with its fixture Deployment controller: seconds, Python only."""

    real = False
    namespace = "shop"
    system_namespace = "remediator-system"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.box = Sandbox(kubeconfig=workdir / "kubeconfig")

    def start(self) -> Emulated:
        self.box.start()
        assert self.box.kubeconfig is not None
        self.kubeconfig: Path = self.box.kubeconfig  # the operator's and kubectl's (admin)
        # the demo's own writes as another user: the write log's admin writes are then the
        # operator's alone
        self.rest = Rest(self.box.kubeconfig_for("demo", self.workdir / "demo.kubeconfig"))
        return self

    def banner(self) -> str:
        return f"Kubernetes API emulator on {self.box.url}"

    def operator_namespaces(self) -> list[str]:
        return []  # the emulator is the demo's alone: cluster-wide, as deployed

    def prepare(self) -> None:
        for crd in all_crds():
            self.rest.request("POST", CRDS, crd)
        for namespace in (self.namespace, self.system_namespace):
            self.rest.create("namespaces", {"metadata": {"name": namespace}})

    def settle(self) -> None:
        self.box.settle()

    def approver(self, user: str) -> tuple[Path, str]:
        """A kubeconfig that authenticates as `user` (an SRE), and that identity."""
        path = self.box.kubeconfig_for(user, self.workdir / f"{user}.kubeconfig", ("sre",))
        return path, user

    def set_log(self, pod: str, container: str, text: str, previous: bool = False) -> bool:
        """What `pods/log` serves for the container (the kubelet's part, played here)."""
        self.box.set_log(self.namespace, pod, container, text, previous=previous)
        return True

    def writes(self) -> str:
        writes = [w for w in self.box.writes() if w.changed and w.user == "sandbox-admin"]
        return (
            f"{len(writes)} writes by the operator (targets, status, Events) in the emulator's "
            "audit log"
        )

    def close(self) -> None:
        self.rest.close()
        self.box.stop()


class GivenCluster:
    """The cluster of a kubeconfig: the demo's objects in a namespace of its own, removed
    after; the CRDs installed only where missing (and then removed after); the operator's
    webhook configurations created by it (Kopf) and removed after."""

    real = True

    def __init__(
        self,
        kubeconfig: Path,
        workdir: Path,
        approver_kubeconfig: Path | None = None,
        namespace: str | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.approver_kubeconfig = approver_kubeconfig
        self.namespace = namespace or f"remediator-demo-{secrets.token_hex(3)}"
        self.system_namespace = self.namespace  # the operator's ConfigMap beside the rest
        self.created_crds: list[str] = []
        self.created_webhook_kinds: list[str] = []
        self.created_namespace = False
        self._identity: str | None = None

    def start(self) -> GivenCluster:
        self.rest = Rest(self.kubeconfig)
        try:
            version = self.rest.request("GET", "/version")
        except Exception as e:
            self.rest.close()
            raise click.ClickException(f"cannot reach the cluster at {self.rest.host}: {e}") from e
        self.version = str(version.get("gitVersion", "?"))
        return self

    def banner(self) -> str:
        return f"Kubernetes {self.version} at {self.rest.host}, namespace {self.namespace}"

    def operator_namespaces(self) -> list[str]:
        return [self.namespace]  # not the cluster's other Incidents

    # ------------------------------------------------------------------- setup
    def prepare(self) -> None:
        hooks = webhook_configurations(self.rest)
        busy = [kind for kind, found in hooks.items() if found]
        if busy:
            raise click.ClickException(
                f"{' and '.join(busy)} {GROUP} exist with webhooks: another Remediator operator "
                "serves this cluster's admission (the demo's would replace its webhooks). "
                f"If it is a leftover, delete them: kubectl delete {' '.join(busy)} {GROUP}"
            )
        self.created_webhook_kinds = [kind for kind, found in hooks.items() if found is None]
        present = {c["metadata"]["name"] for c in self.rest.request("GET", CRDS)["items"]}
        for crd in all_crds():
            if crd["metadata"]["name"] not in present:
                self.rest.request("POST", CRDS, crd)
                self.created_crds.append(crd["metadata"]["name"])
        wait("the CRDs established", self._crds_established, 30)
        self.rest.create("namespaces", {"metadata": {"name": self.namespace, "labels": DEMO_LABEL}})
        self.created_namespace = True

    def _crds_established(self) -> bool:
        for crd in all_crds():
            found = self.rest.request("GET", f"{CRDS}/{crd['metadata']['name']}")
            conditions = (found.get("status") or {}).get("conditions") or []
            if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return False
        return True

    # ------------------------------------------------------------- controllers
    def settle(self, timeout: float = 60) -> None:
        """Until the cluster's controllers are done in the namespace: every Deployment rolled
        out (ReplicaSets scaled, pods Ready), no pod terminating, every PodDisruptionBudget
        observed. What the emulator's `settle()` waits for, seen from the outside."""
        waiting = ""

        def settled() -> bool:
            nonlocal waiting
            waiting = self._unsettled()
            return not waiting

        try:
            wait("the cluster's controllers", settled, timeout)
        except TimeoutError as e:
            raise TimeoutError(f"{e}: {waiting}") from None

    def _unsettled(self) -> str:
        def behind(obj: dict[str, Any]) -> bool:
            observed = (obj.get("status") or {}).get("observedGeneration") or 0
            return int(observed) < int(obj["metadata"].get("generation") or 0)

        ns = self.namespace
        for d in self.rest.list("deployments", ns):
            status, want = d.get("status") or {}, d["spec"].get("replicas", 1)
            counts = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
            if behind(d) or any(status.get(c, 0) != want for c in counts):
                return f"Deployment {d['metadata']['name']} rolling out"
        for rs in self.rest.list("replicasets", ns):
            if behind(rs) or (rs.get("status") or {}).get("replicas", 0) != rs["spec"].get(
                "replicas", 1
            ):
                return f"ReplicaSet {rs['metadata']['name']} scaling"
        for pod in self.rest.list("pods", ns):
            if pod["metadata"].get("deletionTimestamp"):
                return f"Pod {pod['metadata']['name']} terminating"
        for pdb in self.rest.list("poddisruptionbudgets", ns):
            if behind(pdb):
                return f"PodDisruptionBudget {pdb['metadata']['name']} not observed"
        return ""

    # -------------------------------------------------------------- identities
    def approver(self, user: str) -> tuple[Path, str]:
        """The approver's kubeconfig (`--approver-kubeconfig`, else the operator's) and the
        identity the API server authenticates it as (`user` is the emulator's name)."""
        path = self.approver_kubeconfig or self.kubeconfig
        if self._identity is None:
            approver = Rest(path)
            try:
                review = approver.request(
                    "POST",
                    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                    {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                )
            finally:
                approver.close()
            self._identity = str(review["status"]["userInfo"]["username"])
            if self.approver_kubeconfig is not None:
                self._grant(self._identity)
        return path, self._identity

    def _grant(self, user: str) -> None:
        """What `remediator approve` needs, in the demo's namespace only: read Incidents,
        create Approvals."""
        name = "remediator-demo-approver"
        rules = [
            {"apiGroups": [GROUP], "resources": ["incidents"], "verbs": ["get"]},
            {"apiGroups": [GROUP], "resources": ["approvals"], "verbs": ["create"]},
        ]
        self.rest.create("roles", {"metadata": {"name": name}, "rules": rules}, self.namespace)
        binding = {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
        }
        self.rest.create("rolebindings", binding, self.namespace)

    # ------------------------------------------------------------------ report
    def set_log(self, pod: str, container: str, text: str, previous: bool = False) -> bool:
        """What `pods/log` serves for the container, where kwok runs the pods (its Logs
        objects name a CRI-format file on this machine); False elsewhere: a real kubelet
        serves what the container wrote."""
        try:
            self.rest.list("logs", self.namespace)
        except (NotFoundError, click.ClickException):
            return False
        path = self.workdir / f"{pod}-{container}{'-previous' if previous else ''}.log"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
        path.write_text("".join(f"{stamp} stdout F {line}\n" for line in text.splitlines()))
        key = "previousLogsFile" if previous else "logsFile"
        found = self.rest.find("logs", pod, self.namespace)
        if found is None:
            body = {
                "apiVersion": "kwok.x-k8s.io/v1alpha1",
                "kind": "Logs",
                "metadata": {"name": pod},
                "spec": {"logs": [{"containers": [container], key: str(path)}]},
            }
            self.rest.create("logs", body, self.namespace)
        else:
            found["spec"]["logs"][0][key] = str(path)
            self.rest.request("PUT", self.rest.path("logs", pod, self.namespace), found)
        return True

    def writes(self) -> str:
        """What the API shows of the operator's writes (the API server's own record of them
        is its audit log, which the API does not serve)."""
        actions = sum(
            1
            for i in self.rest.list("incidents", self.namespace)
            for a in (i.get("status") or {}).get("actions") or []
            if a.get("state") in ("Applied", "Reverted")
        )
        events = [
            e
            for e in self.rest.list("events", self.namespace)
            if e.get("reportingComponent") == f"{GROUP}/operator"
            or (e.get("source") or {}).get("component") == "remediator"
        ]
        return (
            f"{actions} actions applied and {len(events)} Events posted by the operator, as "
            "the API shows them (its writes are in the API server's audit log, which the API "
            "does not serve: not counted here)"
        )

    # ----------------------------------------------------------------- cleanup
    def cleanup(self, timeout: float = 60) -> list[str]:
        """Delete what the demo made; what is still there after `timeout`, named."""
        for kind in self.created_webhook_kinds:
            self.rest.delete(self.rest.path(kind, GROUP))
        if self.created_namespace:
            self.rest.delete(self.rest.path("namespaces", self.namespace))
        for crd in self.created_crds:
            self.rest.delete(f"{CRDS}/{crd}")
        pods = self.rest.path("pods", namespace=self.namespace)

        def gone() -> bool:
            if self.rest.find("namespaces", self.namespace) is None:
                return True
            # the namespace controller waits out the pods' grace period (kwok's pods have no
            # kubelet to end them sooner): forced, as `kubectl delete --force` does (a
            # terminating namespace takes no new pods, so nothing replaces them)
            self.rest.delete(pods, [("gracePeriodSeconds", 0)])
            return False

        if not self.created_namespace:
            return []
        try:
            wait(f"namespace {self.namespace} deleted", gone, timeout)
        except TimeoutError:
            return [f"namespace {self.namespace} (still terminating)"]
        return []

    def close(self) -> None:
        self.rest.close()
