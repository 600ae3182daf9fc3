"""The operator's RBAC grants what it uses, and nothing it does not.

The real operator (Kopf with two-replica peering, the managed admission webhooks, the
Alertmanager bridge) runs a representative set of flows on the sandbox — a rollback, a
restart by eviction, a scale through an HPA, a StatefulSet scale and restart, a circuit
breaker with its revert, a gated plan approved by a human, CronJobs suspended and resumed,
a workload isolated (approved, its NetworkPolicy removed by revertAfter) with a notify step
and a policy notification, and an alert fired then resolved
through the bridge — while `RecordingProxy` notes each of its requests as RBAC sees it
(verb, group, resource/subresource). Then:

* every request is granted by the rendered ClusterRoles (framework + application);
* the application ClusterRole equals `APPLICATION_RULES`, and every one of those rules was
  exercised by the flow: the role is exactly what the adapters use;
* every framework rule was exercised too, or is listed in `FRAMEWORK_UNEXERCISED` with why.

It runs on both API servers (`--cluster`, tests/conftest.py). On the emulator no RBAC is
evaluated: the proxy alone tells what was asked. On the real control plane the roles are
those of `deploy/`, enforced by kube-apiserver for the ServiceAccount's TokenRequest token,
so nothing may be refused; the proxy speaks HTTPS to it, and the API server's audit log
(which logs writes, not reads: controlplane/audit-policy.yaml) must name the same writes
of the ServiceAccount, none refused.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from kube_emulator import Sandbox
from real.backend import ControlPlane, RealBox
from remediator.adapters.kube import USER_AGENT
from remediator_devtools.testing import OperatorThread
from support.alertmanager import firing_alert, payload
from support.operator_settings import bridge_config, operator_config
from support.policies import GROUP, VERSION, approval, policy_spec, resource
from support.ports import free_port
from support.recording_proxy import Attributes, RecordingProxy
from support.remediations import Remediations
from support.service_account import (
    SA_NAMESPACE,
    SERVICE_ACCOUNT,
    operator_as_service_account,
)
from support.workloads import cron_job, workload

from .shipped import RBAC_KINDS, create_rbac, create_shipped_configmaps, rendered

ROOT = Path(__file__).resolve().parents[2]
NS = "shop"
WRITES = {"create", "update", "patch", "delete", "deletecollection"}
BRIDGE_TOKEN = "rbac-test-bridge-token"

# The application block, rule by rule: (group, resource, verbs). The adapter call behind each.
APPLICATION_RULES: dict[tuple[str, str], set[str]] = {
    # reconciler: get_custom, list_custom (ticker too); bridge: create_custom, get_custom,
    # patch (alertStatus: resolved); informer: list_pages, watch (the view and the dispatch)
    (GROUP, "incidents"): {"get", "list", "watch", "create", "patch"},
    (GROUP, "incidents/status"): {"patch"},  # reconciler: patch_status
    # informer: the view of the valid policies (remediator/view.py), listed and watched
    # (the policy handler's Valid condition goes out through Kopf: the framework role)
    (GROUP, "remediationpolicies"): {"list", "watch"},
    (GROUP, "approvals"): {"list"},  # reconciler: list_custom
    ("apps", "deployments"): {"get", "patch"},  # get_workload; rollback, rolling restart
    # scale: a compare-and-set patch; get_scale when it finds the replicas changed
    ("apps", "deployments/scale"): {"get", "patch"},
    ("apps", "statefulsets"): {"get", "patch"},
    ("apps", "statefulsets/scale"): {"get", "patch"},
    ("apps", "replicasets"): {"list"},  # list_replicasets: rollback's revisions
    ("", "pods"): {"get", "list"},  # list_pods, get_pod: restartPods (evict); evidence
    ("", "pods/eviction"): {"create"},  # evict
    ("", "pods/log"): {"get"},  # pod_log: evidence before a restart or rollback
    # scale via HPA; informer: list_pages, watch (the view the planning reads)
    ("autoscaling", "horizontalpodautoscalers"): {"get", "list", "watch", "patch"},
    ("", "configmaps"): {"get", "patch"},  # circuitBreaker; the pause switch
    # post_event: the audit trail on the Incident; list_events: evidence
    ("", "events"): {"create", "list"},
    ("batch", "cronjobs"): {"get", "list", "patch"},  # suspendCronJobs and its resume
    ("networking.k8s.io", "networkpolicies"): {"get", "create", "delete"},  # isolatePods
    # notify, notifications: the webhook URL; create_secret: where evidence is kept
    ("", "secrets"): {"get", "create"},
}

# The view's list and watch of Kopf's peering object (the dispatcher acts only while this
# replica leads), granted by the framework-cluster role that Kopf's peering needs anyway.
PEERING_FOLLOWED = {
    Attributes("list", "kopf.dev", "clusterkopfpeerings"),
    Attributes("watch", "kopf.dev", "clusterkopfpeerings"),
}

# Framework rules the flows here cannot exercise, and why they are granted all the same.
FRAMEWORK_UNEXERCISED: dict[tuple[str, str, str], str] = {}


def rules_of(role: dict[str, Any]) -> set[Attributes]:
    return {
        Attributes(verb, group, resource)
        for rule in role.get("rules", [])
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def cluster_roles() -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in rendered("ClusterRole")}


def namespaced_roles() -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in rendered("Role")}


@dataclass
class Recorded:
    box: Sandbox | RealBox
    proxy: RecordingProxy
    api: client.ApiClient
    bridge_port: int
    operator: OperatorThread
    plane: ControlPlane | None = None  # on the real control plane


@pytest.fixture
def recorded(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Recorded]:
    if backend == "real":
        plane: ControlPlane = request.getfixturevalue("control_plane")
        try:
            box = RealBox(plane, tmp_path)
            with config.new_client_from_config(config_file=str(box.kubeconfig)) as api:
                # the operator as deployed: its ServiceAccount, the roles of deploy/
                create_rbac(api, rendered(*RBAC_KINDS))
                yield from _recorded(box, api, tmp_path, plane)
        finally:
            plane.clean()  # the roles, bindings, webhook configurations, the peering CRD
        return
    with Sandbox(
        kubeconfig=tmp_path / "kubeconfig", bookmark_interval=0.5, anonymous_is_admin=False
    ) as sandbox:
        configuration = client.Configuration()
        config.load_kube_config(str(sandbox.kubeconfig), client_configuration=configuration)
        with client.ApiClient(configuration) as api:
            core = client.CoreV1Api(api)
            for ns in (NS, SA_NAMESPACE):
                core.create_namespace({"metadata": {"name": ns}})
            yield from _recorded(sandbox, api, tmp_path, None)


def _recorded(
    box: Sandbox | RealBox, api: client.ApiClient, tmp_path: Path, plane: ControlPlane | None
) -> Iterator[Recorded]:
    ext = client.ApiextensionsV1Api(api)
    for path in sorted((ROOT / "deploy" / "crds").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            for doc in yaml.safe_load_all(path.read_text()):
                if doc:
                    try:
                        ext.create_custom_resource_definition(doc)
                    except client.ApiException as e:
                        # the real cluster has the remediator CRDs (`ControlPlane.start`)
                        if e.status != 409 or plane is None:
                            raise
    create_shipped_configmaps(client.CoreV1Api(api))
    peering = next(
        d
        for d in yaml.safe_load_all((ROOT / "deploy" / "base" / "peering.yaml").read_text())
        if d and d["kind"] == "ClusterKopfPeering"
    )
    _wait_established(api, "clusterkopfpeerings.kopf.dev")
    client.CustomObjectsApi(api).create_cluster_custom_object(
        "kopf.dev", "v1", "clusterkopfpeerings", peering
    )
    # A policy stored before the validating webhook is in the path (as after an outage):
    # the policy handler reports it with kopf.warn, which Kopf posts as an Event.
    spec = policy_spec({"action": "circuitBreaker"}, alert="Never", label="workload")
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "remediationpolicies",
        resource("RemediationPolicy", "stored-while-the-webhook-was-down", spec),
    )
    bridge = bridge_config(BRIDGE_TOKEN, NS)
    # the operator as deployed (`remediator run --peering --liveness ...`), in a thread
    config = operator_config(b"rbac-test-approval-key", real=plane is not None, bridge=bridge)
    with operator_as_service_account(
        box, tmp_path, config, peering=True, liveness_port=free_port()
    ) as running:
        yield Recorded(box, running.proxy, api, bridge.port, running.operator, plane)


def _wait_established(api: client.ApiClient, name: str) -> None:
    ext = client.ApiextensionsV1Api(api)
    for _ in range(100):
        crd = ext.read_custom_resource_definition(name)
        conditions = (crd.status and crd.status.conditions) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        time.sleep(0.05)
    raise AssertionError(f"CRD {name} not established")


def test_the_roles_grant_exactly_what_the_operator_uses(recorded: Recorded) -> None:
    box, proxy = recorded.box, recorded.proxy
    try:
        Flows(box, recorded.api, recorded.bridge_port).run_all()
    except (AssertionError, client.ApiException) as e:
        # on the real cluster a request the roles do not grant fails its flow: say which
        refused = sorted(set(proxy.forbidden()))
        raise AssertionError(f"the flows failed; refused the operator: {refused}") from e
    # Kopf's liveness endpoint (`--liveness`, the Deployment's probes) answers
    liveness = f"http://127.0.0.1:{recorded.operator.liveness_port}/healthz"
    with urllib.request.urlopen(liveness, timeout=5) as response:
        assert response.status == 200
    roles = cluster_roles()
    framework = rules_of(roles["remediator-framework-cluster"]) | rules_of(
        roles["remediator-framework"]
    )
    application = rules_of(roles["remediator-application"])
    # the pause switch's watch, granted on that one ConfigMap by the Role in the operator's
    # namespace (a list and a watch selecting it by name)
    pause = rules_of(namespaced_roles()["remediator-pause-switch"])
    assert pause == {Attributes("list", "", "configmaps"), Attributes("watch", "", "configmaps")}
    by_adapters = proxy.observed(USER_AGENT)
    by_kopf = proxy.observed("kopf/")
    everything = proxy.observed()
    assert everything == by_adapters | by_kopf, "a request from neither the adapters nor Kopf"

    # 1. every request the operator made is granted (on the real cluster: was granted)
    assert everything - (framework | application | pause) == set()
    assert proxy.forbidden() == []
    # 2. the application roles are exactly what the adapters called: no more, no less (the
    # view also follows Kopf's peering object, under the framework's grant of it)
    assert application == expand(APPLICATION_RULES)
    assert application | pause | PEERING_FOLLOWED == by_adapters
    assert framework >= PEERING_FOLLOWED
    # 3. every framework rule is used by Kopf (or listed with the reason it is not)
    unused = {
        a for a in framework - by_kopf if (a.verb, a.group, a.resource) not in FRAMEWORK_UNEXERCISED
    }
    assert unused == set()
    # the API server's own record saw the same (verb, group, resource) triples: the
    # emulator's request log every request, the real audit log the writes
    counts = box.request_counts()
    for a in everything:
        if recorded.plane is not None and a.verb not in WRITES:
            continue
        assert (a.verb, a.group, a.resource.partition("/")[0]) in counts or (
            a.verb == "create" and a.resource == "pods/eviction"
        ), a
    if recorded.plane is not None:
        audited = audited_writes(recorded.plane, box, SERVICE_ACCOUNT)
        assert {a for a, _ in audited} == {a for a in everything if a.verb in WRITES}
        assert [(a, code) for a, code in audited if code == 403] == []


def audited_writes(
    plane: ControlPlane, box: Sandbox | RealBox, user: str
) -> set[tuple[Attributes, int]]:
    """The writes `user` asked since the test began, as kube-apiserver's audit log names
    them (verb, group, resource/subresource), with the status each was answered."""
    assert isinstance(box, RealBox)
    found: set[tuple[Attributes, int]] = set()
    for event in plane.audit_events(box.audit_start):
        if (event.get("user") or {}).get("username") != user:
            continue
        ref = event.get("objectRef") or {}
        resource = ref.get("resource", "")
        if ref.get("subresource"):
            resource += "/" + ref["subresource"]
        code = int((event.get("responseStatus") or {}).get("code", 0))
        found.add((Attributes(event.get("verb", ""), ref.get("apiGroup", ""), resource), code))
    return found


def test_no_rule_uses_a_wildcard() -> None:
    for name, role in cluster_roles().items():
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(field, []), (name, rule)
            assert "nonResourceURLs" not in rule and "resourceNames" not in rule, (name, rule)


def expand(rules: dict[tuple[str, str], set[str]]) -> set[Attributes]:
    return {
        Attributes(verb, group, resource)
        for (group, resource), verbs in rules.items()
        for verb in verbs
    }


class Flows(Remediations):
    """Representative scenarios, each on a workload of its own (no cooldown in between)."""

    def __init__(self, box: Sandbox | RealBox, api: client.ApiClient, bridge_port: int) -> None:
        self.box, self.api, self.bridge_port = box, api, bridge_port
        self.custom = client.CustomObjectsApi(api)
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)

    def run_all(self) -> None:
        self.rollback()
        self.evict()
        self.scale()
        self.scale_with_hpa()
        self.statefulset()
        self.circuit_breaker()
        self.approval()
        self.suspend_cron_jobs()
        self.isolate_and_notify()
        self.bridge()

    # helpers
    def remediated(self, name: str) -> dict[str, Any]:
        body = self.wait(name, "Remediated", "Blocked", "Failed", "NoPolicy")
        assert body["status"]["phase"] == "Remediated", body["status"]
        return body

    # scenarios
    def rollback(self) -> None:
        self.deployment("checkout", "v1")
        self.deployment("checkout", "v2")
        self.policy("rollback", "DeploymentFailed", {"action": "rollback"})
        self.incident("inc-rollback", "DeploymentFailed", "checkout")
        self.remediated("inc-rollback")

    def evict(self) -> None:
        self.deployment("web")
        self.policy("evict", "ServiceDown", {"action": "restartPods", "mode": "evict"})
        self.incident("inc-evict", "ServiceDown", "web")
        self.remediated("inc-evict")

    def scale(self) -> None:
        self.deployment("search")
        self.policy("scale-search", "QueueBacklog", {"action": "scale", "by": 2, "max": 6})
        self.incident("inc-scale-search", "QueueBacklog", "search")
        self.remediated("inc-scale-search")

    def scale_with_hpa(self) -> None:
        self.deployment("api")
        client.AutoscalingV2Api(self.api).create_namespaced_horizontal_pod_autoscaler(
            NS,
            {
                "metadata": {"name": "api"},
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "api",
                    },
                    "minReplicas": 2,
                    "maxReplicas": 10,
                },
            },
        )
        self.policy("scale", "HighLatency", {"action": "scale", "to": 4, "max": 8})
        self.incident("inc-scale", "HighLatency", "api")
        self.remediated("inc-scale")

    def statefulset(self) -> None:
        self.apps.create_namespaced_stateful_set(NS, workload("StatefulSet", "db", replicas=1))
        self.policy(
            "db",
            "DatabaseSlow",
            {"action": "scale", "by": 1, "max": 3},
            {"action": "restartPods"},
            kind="StatefulSet",
        )
        self.incident("inc-db", "DatabaseSlow", "db", severity="P1")
        self.wait("inc-db", "AwaitingApproval", "Remediated", "Blocked", "Failed")
        self.apps.patch_namespaced_stateful_set_scale("db", NS, {"spec": {"replicas": 2}})
        self.approve("inc-db")  # rescaled meanwhile: the scale reads before it writes
        self.remediated("inc-db")

    def circuit_breaker(self) -> None:
        self.deployment("payments")
        self.core.create_namespaced_config_map(
            NS, {"metadata": {"name": "payments-flags"}, "data": {"carrier-a": "closed"}}
        )
        self.policy(
            "breaker",
            "CarrierRateLimited",
            {
                "action": "circuitBreaker",
                "configMap": "payments-flags",
                "key": "carrier-a",
                "value": "open",
                "revertAfter": "1s",
            },
        )
        self.incident("inc-breaker", "CarrierRateLimited", "payments")
        self.remediated("inc-breaker")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            data = self.core.read_namespaced_config_map("payments-flags", NS).data
            if data == {"carrier-a": "closed"}:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the circuit breaker was not reverted")

    def approval(self) -> None:
        """Gated, and the target rescaled while the plan waits: the scale's compare-and-set
        fails and it reads the scale subresource (its `get` is needed for that)."""
        self.deployment("cart")
        self.policy("cart", "MemoryLeak", {"action": "scale", "to": 3})
        self.incident("inc-gated", "MemoryLeak", "cart", severity="P1")
        self.wait("inc-gated", "AwaitingApproval", "Remediated", "Blocked", "Failed")
        self.apps.patch_namespaced_deployment_scale("cart", NS, {"spec": {"replicas": 1}})
        self.approve("inc-gated")
        self.remediated("inc-gated")

    def approve(self, incident: str) -> None:
        body = self.wait(incident, "AwaitingApproval", "Remediated", "Blocked", "Failed")
        assert body["status"]["phase"] == "AwaitingApproval", body["status"]
        kubeconfig = self.box.kubeconfig_for(
            "alice@example.com", Path(str(self.box.kubeconfig)).with_name("alice.kubeconfig")
        )
        with config.new_client_from_config(str(kubeconfig)) as alice:
            client.CustomObjectsApi(alice).create_namespaced_custom_object(
                GROUP, VERSION, NS, "approvals", approval(incident, body["status"]["plan"]["hash"])
            )

    def suspend_cron_jobs(self) -> None:
        self.deployment("ledger")
        client.BatchV1Api(self.api).create_namespaced_cron_job(
            NS, cron_job("ledger-sync", labels={"stop": "true"})
        )
        self.policy(
            "stop-jobs",
            "DataIntegrityViolation",
            {
                "action": "suspendCronJobs",
                "selector": {"matchLabels": {"stop": "true"}},
                "resumeAfter": "1s",
            },
        )
        self.incident("inc-jobs", "DataIntegrityViolation", "ledger")
        self.remediated("inc-jobs")
        batch = client.BatchV1Api(self.api)
        deadline = time.monotonic() + 10
        while batch.read_namespaced_cron_job("ledger-sync", NS).spec.suspend:
            assert time.monotonic() < deadline, "the CronJob was not resumed"
            time.sleep(0.05)

    def isolate_and_notify(self) -> None:
        received: list[bytes] = []

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/hook"
            self.core.create_namespaced_secret(
                NS,
                {
                    "metadata": {"name": "incident-webhook"},
                    "data": {"url": base64.b64encode(url.encode()).decode()},
                },
            )
            self.deployment("intruded")
            ref = {"name": "incident-webhook", "key": "url"}
            self.policy(
                "isolate",
                "SecurityBreachDetected",
                {"action": "isolatePods", "revertAfter": "1s"},
                {"action": "notify", "webhookSecretRef": ref},
                notifications={"webhookSecretRef": ref, "events": ["AwaitingApproval"]},
            )
            self.incident("inc-breach", "SecurityBreachDetected", "intruded", severity="P0")
            self.approve("inc-breach")
            self.remediated("inc-breach")
            networking = client.NetworkingV1Api(self.api)
            deadline = time.monotonic() + 10
            while networking.list_namespaced_network_policy(NS).items:
                assert time.monotonic() < deadline, "the isolation was not reverted"
                time.sleep(0.05)
            while len(received) < 2:  # AwaitingApproval (in the background), the notify step
                assert time.monotonic() < deadline, f"{len(received)} notification(s)"
                time.sleep(0.05)
        finally:
            server.shutdown()

    def bridge(self) -> None:
        labels = {"alertname": "DiskFilling", "namespace": NS, "severity": "warning"}
        alert = firing_alert(labels, "0123456789abcdef", "2025-01-01T00:00:00Z")
        alert["annotations"] = {"summary": "disk filling up"}
        for status in ("firing", "resolved"):
            body = payload(
                {**alert, "status": status},
                status=status,
                groupKey='{}:{alertname="DiskFilling"}',
                groupLabels={"alertname": "DiskFilling"},
                commonLabels=alert["labels"],
                commonAnnotations=alert["annotations"],
            )
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.bridge_port}/alerts",
                data=json.dumps(body).encode(),
                headers={
                    "Authorization": f"Bearer {BRIDGE_TOKEN}",
                    "Content-Type": "application/json",
                },
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200, response.read()
        [incident] = [
            i
            for i in self.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "incidents")[
                "items"
            ]
            if i["spec"].get("alertname") == "DiskFilling"
        ]
        assert incident["spec"]["alertStatus"] == "resolved"


def test_a_scale_remediation_makes_exactly_its_budget_of_requests(recorded: Recorded) -> None:
    """What one `scale` remediation asks of the API server, counted at the proxy (the
    operator's own requests; a watch started again meanwhile aside): read the target,
    store the intent, write the ledger, patch `/scale`, store the outcome, and one Event
    for each status write. The pause switch and the HPAs come from their watches, the
    policy from the view: a decision that GETs or LISTs them again fails this."""
    flows = Flows(recorded.box, recorded.api, recorded.bridge_port)
    flows.deployment("warm")
    flows.policy("scale-budget", "QueueBacklog", {"action": "scale", "by": 1, "max": 6})
    flows.incident("inc-warm", "QueueBacklog", "warm")  # the first reads the ledger
    flows.remediated("inc-warm")
    flows.deployment("budget")
    time.sleep(1.0)  # the first one's Events are out
    since = recorded.proxy.mark()
    flows.incident("inc-budget", "QueueBacklog", "budget")
    flows.remediated("inc-budget")
    time.sleep(1.0)  # its outcome's Event is posted in the background
    made: dict[tuple[str, str], int] = {}
    for agent, a, _ in recorded.proxy.answers[since:]:
        if agent.startswith(USER_AGENT) and a.verb != "watch":
            made[(a.verb, a.resource)] = made.get((a.verb, a.resource), 0) + 1
    assert made == {
        ("get", "deployments"): 1,
        ("patch", "incidents/status"): 2,
        ("create", "events"): 2,
        ("patch", "configmaps"): 1,  # the guard ledger
        ("patch", "deployments/scale"): 1,
    }
