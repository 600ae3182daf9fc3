"""The operator under real RBAC, with the roles of `deploy/`, on both API servers.

The Roles, ClusterRoles and bindings rendered from `deploy/` (`kubectl kustomize deploy/`)
are created on the emulator (`Sandbox(authorization="RBAC")` evaluates every request
against them) or on the real control plane (`--cluster`, tests/conftest.py: kube-apiserver's
own RBAC authorizer, the objects deleted after by `ControlPlane.clean`). The operator (and
its bridge) act as the ServiceAccount `remediator-system:remediator` (on the real cluster a
TokenRequest token), through a proxy that notes the status of each of its requests
(tests/support/recording_proxy.py: HTTPS to kube-apiserver, the token passed on).

* Identity: the bridge's identity may not create an Approval (403 from RBAC); a user
  without the approver role may not either; with it, a client-supplied approver is still
  refused by the stamping webhook (403), and the operator ignores an approval of a stale
  plan, one from outside the policy's approverGroups and the same person twice for a
  two-approver P0. (Without RBAC these are also covered by tests/flows/test_admission.py::
  test_a_user_cannot_approve_in_someone_elses_name and tests/flows/test_approvals.py::
  test_approval_of_a_stale_plan_is_ignored, test_policy_approver_groups_limit_who_counts,
  test_two_approver_policy_needs_two_distinct_approvers.)
* Least privilege, as the API server enforces it: with the roles as shipped, the operator
  remediates and is never refused; with any single rule of the application ClusterRole
  removed (and, on the real server, the removal seen by its authorizer: a
  SelfSubjectAccessReview of the ServiceAccount), the flow that needs it meets a 403
  (tests/deploy/test_rbac.py proves the converse, that each rule is used).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import http.server
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
from kubernetes import client, config

from deploy.shipped import (
    RBAC_KINDS,
    create_rbac,
    create_shipped_configmaps,
    rendered,
    wait_until_authorized,
)
from kube_emulator import Sandbox
from real.backend import ControlPlane, RealBox
from support.alertmanager import firing_alert, payload
from support.crds import install_crds
from support.operator_settings import bridge_config, operator_config
from support.policies import GROUP, VERSION, approval
from support.recording_proxy import RecordingProxy
from support.remediations import Remediations
from support.service_account import (
    SA_NAMESPACE,
    SERVICE_ACCOUNT,
    operator_as_service_account,
    service_account_kubeconfig,
)
from support.workloads import cron_job

ROOT = Path(__file__).resolve().parents[2]
NS = "shop"
BRIDGE_TOKEN = "rbac-hostile-bridge"
APPLICATION = "remediator-application"
RBAC_GROUP = "rbac.authorization.k8s.io"


# ------------------------------------------------------------------------------ harness
@dataclass
class World(Remediations):
    box: Sandbox | RealBox
    api: client.ApiClient
    proxy: RecordingProxy
    tmp: Path
    bridge_port: int
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    plane: ControlPlane | None = None  # on the real control plane

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.api)

    def user(self, name: str, groups: tuple[str, ...] = ()) -> client.ApiClient:
        """A client of the user `name` in `groups`, with no grants but the approver Role's
        (on the real cluster a client certificate signed by its CA; `RealBox.kubeconfig_for`
        would make it cluster-admin)."""
        path = self.tmp / f"user-{abs(hash(name))}"
        if self.plane is not None:
            path = self.plane.user_kubeconfig(name, path, groups)
        else:
            path = self.box.kubeconfig_for(name, path, groups)
        return config.new_client_from_config(config_file=str(path))

    def service_account(self) -> client.ApiClient:
        """The operator's ServiceAccount, straight to the API server (not through the proxy):
        on the real cluster a TokenRequest token, with only the roles of deploy/."""
        path = service_account_kubeconfig(self.box, self.tmp / "sa")
        return config.new_client_from_config(config_file=str(path))

    def approve(
        self,
        incident: str,
        user: str,
        groups: tuple[str, ...] = ("sre",),
        plan_hash: str | None = None,
        **spec: Any,
    ) -> dict[str, Any]:
        plan_hash = plan_hash or self.get("incidents", incident)["status"]["plan"]["hash"]
        with self.user(user, groups) as api:
            result: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
                GROUP, VERSION, NS, "approvals", approval(incident, plan_hash, **spec)
            )
        return result

    def post_alert(self, name: str, namespace: str = NS) -> int:
        labels = {"alertname": name, "namespace": namespace, "workload": "none"}
        body = payload(firing_alert(labels, f"{abs(hash(name)):x}", "2025-01-01T00:00:00Z"))
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.bridge_port}/alerts",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {BRIDGE_TOKEN}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return int(response.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    # roles
    def set_rules(self, role: str, rules: list[dict[str, Any]]) -> None:
        self.rbac.patch_cluster_role(role, {"rules": rules})

    def await_rbac(self, triples: set[tuple[str, str, str]], allowed: bool) -> None:
        """Until the API server's authorizer (asked by the ServiceAccount itself) grants, or
        refuses, each of `triples` in the namespace: real RBAC follows an edited role a moment
        after the write (an informer); the emulator's at once."""
        checks = [(verb, group, resource, NS) for verb, group, resource in sorted(triples)]
        with self.service_account() as sa:
            wait_until_authorized(sa, checks, allowed)


@pytest.fixture
def plain_tracebacks() -> Iterator[None]:
    """The operator's errors logged with plain tracebacks while the test runs: the refusals
    here are hundreds, and structlog's default (rich, with every frame's locals) spends
    seconds rendering each (the operator as deployed logs JSON: `remediator.logs`)."""
    saved = structlog.get_config()
    processors = list(saved["processors"])
    if processors and isinstance(processors[-1], structlog.dev.ConsoleRenderer):
        processors[-1] = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(processors=processors)
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.fixture
def world(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, plain_tracebacks: None
) -> Iterator[World]:
    """The roles of deploy/ on the emulator (with RBAC on) or on the real control plane, and
    the operator running as their ServiceAccount through a recording proxy."""
    documents = rendered(*RBAC_KINDS)
    if backend == "real":
        plane: ControlPlane = request.getfixturevalue("control_plane")
        try:
            box = RealBox(plane, tmp_path)
            with config.new_client_from_config(config_file=str(box.kubeconfig)) as api:
                # the CRDs and the namespaces are there (`ControlPlane.start`)
                yield from _world(box, api, tmp_path, documents, plane)
        finally:
            plane.clean()  # the roles and bindings too: cluster-scoped newcomers
        return
    with Sandbox(
        kubeconfig=tmp_path / "kubeconfig",
        bookmark_interval=0.5,
        anonymous_is_admin=False,
        authorization="RBAC",
    ) as sandbox:
        configuration = client.Configuration()
        config.load_kube_config(str(sandbox.kubeconfig), client_configuration=configuration)
        with client.ApiClient(configuration) as api:
            install_crds(api)
            core = client.CoreV1Api(api)
            for ns in (NS, SA_NAMESPACE):
                core.create_namespace({"metadata": {"name": ns}})
            yield from _world(sandbox, api, tmp_path, documents, None)


def _world(
    box: Sandbox | RealBox,
    api: client.ApiClient,
    tmp_path: Path,
    documents: list[dict[str, Any]],
    plane: ControlPlane | None,
) -> Iterator[World]:
    create_shipped_configmaps(client.CoreV1Api(api))
    roles = create_rbac(api, documents)
    rbac = client.RbacAuthorizationV1Api(api)
    # the people who may approve: group sre may create Approvals in the namespace
    rbac.create_namespaced_role(
        NS,
        {
            "metadata": {"name": "approver"},
            "rules": [
                {"apiGroups": [GROUP], "resources": ["approvals"], "verbs": ["create"]},
                {"apiGroups": [GROUP], "resources": ["incidents"], "verbs": ["get"]},
            ],
        },
    )
    rbac.create_namespaced_role_binding(
        NS,
        {
            "metadata": {"name": "approver"},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "approver"},
            "subjects": [
                {"apiGroup": RBAC_GROUP, "kind": "Group", "name": "sre"},
                {"apiGroup": RBAC_GROUP, "kind": "Group", "name": "ops"},
            ],
        },
    )
    bridge = bridge_config(BRIDGE_TOKEN, NS)
    config = operator_config(b"rbac-hostile-approval-key", real=plane is not None, bridge=bridge)
    with operator_as_service_account(box, tmp_path, config) as running:
        w = World(box, api, running.proxy, tmp_path, bridge.port, roles, plane)
        _wait_for_webhooks(w)
        yield w


def _wait_for_webhooks(w: World) -> None:
    adm = client.AdmissionregistrationV1Api(w.api)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        names = {
            hook.name
            for c in [
                *adm.list_mutating_webhook_configuration().items,
                *adm.list_validating_webhook_configuration().items,
            ]
            for hook in c.webhooks or []
        }
        if {"stamp-approver.remediator.dev", "validate-policy.remediator.dev"} <= names:
            return
        time.sleep(0.05)
    raise AssertionError("the operator did not register its webhooks under RBAC")


def _message(e: client.ApiException) -> str:
    return str(json.loads(e.body)["message"])


# ------------------------------------------------------------------------------ identity
def test_identities_that_may_not_approve_are_refused_and_bad_approvals_ignored(
    world: World,
) -> None:
    world.deployment("web")
    world.policy(
        "restart",
        "PaymentsDown",
        {"action": "restartPods"},
        approval={"P0": {"mode": "required", "approvers": 2}, "approverGroups": ["sre"]},
    )
    world.incident("inc-p0", "PaymentsDown", "web", severity="P0")
    body = world.wait("inc-p0", "AwaitingApproval", "Remediated", "Failed")
    assert body["status"]["phase"] == "AwaitingApproval", body["status"]
    plan_hash = body["status"]["plan"]["hash"]
    approved = approval("inc-p0", plan_hash)

    # the bridge's identity (the operator's ServiceAccount) may never approve
    with world.service_account() as sa, pytest.raises(client.ApiException) as refused:
        client.CustomObjectsApi(sa).create_namespaced_custom_object(
            GROUP, VERSION, NS, "approvals", copy.deepcopy(approved)
        )
    assert refused.value.status == 403
    assert _message(refused.value) == (
        f'approvals.{GROUP} is forbidden: User "{SERVICE_ACCOUNT}" cannot create resource '
        f'"approvals" in API group "{GROUP}" in the namespace "{NS}"'
    )
    # nor may a user who is not an approver
    with (
        world.user("dev@example.com", ("developers",)) as dev,
        pytest.raises(client.ApiException) as refused,
    ):
        client.CustomObjectsApi(dev).create_namespaced_custom_object(
            GROUP, VERSION, NS, "approvals", copy.deepcopy(approved)
        )
    assert refused.value.status == 403
    assert "cannot create resource" in _message(refused.value)
    # an approver naming someone else: RBAC lets it through, the stamping webhook refuses
    with pytest.raises(client.ApiException) as refused:
        world.approve("inc-p0", "mallory@example.com", approver="alice@example.com")
    assert refused.value.status == 403
    assert "spec.approver" in _message(refused.value)
    items = world.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "approvals")["items"]
    assert items == []

    mark = len(world.box.writes())
    # admitted, but ignored by the operator: a stale plan, a group the policy does not list,
    # and the same person twice
    world.approve("inc-p0", "alice@example.com", plan_hash="0123456789abcdef")
    world.approve("inc-p0", "ops@example.com", groups=("ops",))
    world.approve("inc-p0", "alice@example.com")
    world.approve("inc-p0", "alice@example.com")
    deadline = time.monotonic() + 15
    while len(world.get("incidents", "inc-p0")["status"].get("approvals", [])) < 4:
        assert time.monotonic() < deadline, world.get("incidents", "inc-p0")["status"]
        time.sleep(0.05)
    status = world.get("incidents", "inc-p0")["status"]
    assert status["phase"] == "AwaitingApproval", status
    records = sorted(
        (r["approver"], r["counted"], r.get("reason", "").partition(":")[0])
        for r in status["approvals"]
    )
    assert records == [
        ("alice@example.com", False, "DuplicateApprover"),
        ("alice@example.com", False, "StalePlan"),
        ("alice@example.com", True, ""),
        ("ops@example.com", False, "ApproverNotAllowed"),
    ], records
    assert [w for w in world.box.writes()[mark:] if w.resource == "deployments"] == []
    # a second, distinct approver of the group: now it acts
    world.approve("inc-p0", "bob@example.com")
    body = world.wait("inc-p0", "Remediated", "Failed")
    assert body["status"]["phase"] == "Remediated", body["status"]
    assert world.proxy.forbidden() == [], "the operator was refused something"


# ------------------------------------------------------------------------ least privilege
# Every rule of the application role is needed: removing any one is noticed by some flow,
# but for the view's list and watch of policies (remediator/informer.py): that is asked at
# the start and when a watch starts again (the API ends one every 5 minutes; a 410), and
# kube-apiserver (the emulator too) checks RBAC when a watch starts, not on one already
# running: the real run finds the same rule unnoticed.
# (Without it the operator does not start: tests/deploy/test_rbac.py sees it used.)
UNNOTICED: list[str] = [
    json.dumps(
        {
            "apiGroups": ["remediator.dev"],
            "resources": ["remediationpolicies"],
            "verbs": ["list", "watch"],
        }
    ),
]


def rule_triples(rule: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (verb, group, resource)
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def rules_without(
    rules: list[dict[str, Any]], triples: set[tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """`rules` granting nothing of `triples` (rewritten per resource where needed)."""
    kept: list[dict[str, Any]] = []
    for rule in rules:
        if not rule_triples(rule) & triples:
            kept.append(rule)
            continue
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                verbs = [v for v in rule["verbs"] if (v, group, resource) not in triples]
                if verbs:
                    kept.append({"apiGroups": [group], "resources": [resource], "verbs": verbs})
    return kept


class Flows:
    """The least a rule of the application role is needed for, each on fresh objects."""

    def __init__(self, world: World) -> None:
        self.w = world
        # the refusal looked for has been seen: a flow waiting on the operator stops waiting
        self.done: Callable[[], bool] = lambda: False
        self.n = 0
        self._hook: http.server.ThreadingHTTPServer | None = None

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"

    def remediate(self, step: dict[str, Any], severity: str = "P2", **extra: Any) -> str:
        workload = self.fresh("wl")
        alert = self.fresh("Alert").replace("-", "")
        self.w.deployment(workload)
        self.w.policy(self.fresh("policy"), alert, step, **extra)
        incident = self.fresh("inc")
        self.w.incident(incident, alert, workload, severity=severity)
        return incident

    def bridge(self) -> None:
        self.w.post_alert(self.fresh("Bridged").replace("-", ""))

    def incident_only(self) -> None:
        self.w.incident(self.fresh("inc"), "NoPolicyForThis", "none")

    def approval(self) -> None:
        incident = self.remediate({"action": "restartPods"}, severity="P1")
        # waiting for approval takes listing the approvals; approving, too
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self.done():
            status = self.w.get("incidents", incident).get("status") or {}
            if status.get("plan"):
                self.w.approve(incident, "alice@example.com")
                return
            time.sleep(0.05)

    def restart(self) -> None:
        self.remediate({"action": "restartPods"})

    def evict(self) -> None:
        self.remediate({"action": "restartPods", "mode": "evict"})

    def scale(self) -> None:
        self.remediate({"action": "scale", "by": 1, "max": 5})

    def scale_with_hpa(self) -> None:
        """A scale of a workload an HPA keeps: the HPA's minReplicas is raised (read, then
        patched); the HPAs themselves come from the operator's watch of them."""
        workload = self.fresh("wl")
        alert = self.fresh("Alert").replace("-", "")
        self.w.deployment(workload)
        hpa = {
            "metadata": {"name": workload},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload},
                "minReplicas": 1,
                "maxReplicas": 10,
            },
        }
        client.AutoscalingV2Api(self.w.api).create_namespaced_horizontal_pod_autoscaler(NS, hpa)
        self.w.policy(self.fresh("policy"), alert, {"action": "scale", "to": 3, "max": 5})
        self.w.incident(self.fresh("inc"), alert, workload)

    def rollback(self) -> None:
        workload = self.fresh("wl")
        self.w.deployment(workload, "v1")
        self.w.deployment(workload, "v2")
        alert = self.fresh("Alert").replace("-", "")
        self.w.policy(self.fresh("policy"), alert, {"action": "rollback"})
        self.w.incident(self.fresh("inc"), alert, workload)

    def circuit_breaker(self) -> None:
        name = self.fresh("flags")
        client.CoreV1Api(self.w.api).create_namespaced_config_map(
            NS, {"metadata": {"name": name}, "data": {"carrier-a": "closed"}}
        )
        self.remediate(
            {"action": "circuitBreaker", "configMap": name, "key": "carrier-a", "value": "open"}
        )

    def cron_jobs(self) -> None:
        name = self.fresh("job")
        client.BatchV1Api(self.w.api).create_namespaced_cron_job(NS, cron_job(name))
        self.remediate({"action": "suspendCronJobs", "cronJobs": [name]})

    def isolate(self) -> None:
        incident = self.remediate({"action": "isolatePods", "revertAfter": "1s"}, severity="P1")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not self.done():
            phase = (self.w.get("incidents", incident).get("status") or {}).get("phase")
            if phase == "AwaitingApproval":
                self.w.approve(incident, "alice@example.com")
                return
            if phase in ("Failed", "Blocked"):
                return
            time.sleep(0.05)

    def notify(self) -> None:
        name = self.fresh("hook")
        url = self.hook_url()
        client.CoreV1Api(self.w.api).create_namespaced_secret(
            NS,
            {
                "metadata": {"name": name},
                "data": {"url": base64.b64encode(url.encode()).decode()},
            },
        )
        self.remediate({"action": "notify", "webhookSecretRef": {"name": name, "key": "url"}})

    def hook_url(self) -> str:
        """A webhook receiver for the notify step (started once, answers 200)."""
        if self._hook is None:

            class Hook(http.server.BaseHTTPRequestHandler):
                def do_POST(self) -> None:
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    self.send_response(200)
                    self.end_headers()

                def log_message(self, *args: Any) -> None:
                    pass

            self._hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
            threading.Thread(target=self._hook.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._hook.server_address[1]}/hook"

    def close(self) -> None:
        if self._hook is not None:
            self._hook.shutdown()

    def needing(self, resource: str) -> Callable[[], None]:
        """The flow that first needs `resource` (the others are tried after it)."""
        return {
            "incidents": self.bridge,
            "incidents/status": self.incident_only,
            "remediationpolicies": self.incident_only,
            "approvals": self.approval,
            "deployments": self.restart,
            "statefulsets": self.restart,
            "deployments/scale": self.scale,
            "statefulsets/scale": self.scale,
            "replicasets": self.rollback,
            "pods": self.evict,
            "pods/eviction": self.evict,
            "horizontalpodautoscalers": self.scale_with_hpa,
            "configmaps": self.circuit_breaker,
            "events": self.incident_only,
            "cronjobs": self.cron_jobs,
            "networkpolicies": self.isolate,
            "secrets": self.notify,
        }.get(resource, self.restart)

    def all(self) -> list[Callable[[], None]]:
        return [
            self.bridge,
            self.incident_only,
            self.approval,
            self.restart,
            self.evict,
            self.scale,
            self.scale_with_hpa,
            self.rollback,
            self.circuit_breaker,
            self.cron_jobs,
            self.isolate,
            self.notify,
        ]


@pytest.mark.timeout(300)
def test_the_operator_works_with_its_roles_and_needs_every_application_rule(
    world: World,
) -> None:
    flows = Flows(world)
    try:
        _least_privilege(world, flows)
    finally:
        flows.close()


def _least_privilege(world: World, flows: Flows) -> None:
    # 1. as shipped: every flow goes through, and nothing the operator asks is refused
    for flow in flows.all():
        flow()
    deadline = time.monotonic() + 30
    while True:
        items = world.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "incidents")["items"]
        phases = {i["metadata"]["name"]: (i.get("status") or {}).get("phase") for i in items}
        if all(p in ("Remediated", "NoPolicy") for p in phases.values()):
            break
        assert time.monotonic() < deadline, {
            i["metadata"]["name"]: i.get("status")
            for i in items
            if i["metadata"]["name"]
            and phases[i["metadata"]["name"]] not in ("Remediated", "NoPolicy")
        }
        time.sleep(0.1)
    assert len(phases) == len(flows.all()), phases  # the bridge's Incident included
    assert world.proxy.forbidden() == []

    # 2. any single rule of the application role removed: some flow meets a 403 for it
    application = world.roles[APPLICATION]["rules"]
    others = {name: role["rules"] for name, role in world.roles.items() if name != APPLICATION}
    missed: list[str] = []
    for index, rule in enumerate(application):
        triples = rule_triples(rule)
        world.set_rules(APPLICATION, application[:index] + application[index + 1 :])
        # a grant also made by another bound role (events: Kopf posts them too) goes as well
        overlapping = {n: r for n, r in others.items() if any(rule_triples(x) & triples for x in r)}
        for name, rules in overlapping.items():
            world.set_rules(name, rules_without(rules, triples))
        world.await_rbac(triples, allowed=False)
        mark = world.proxy.mark()
        try:
            seen = _refusal_for(world, flows, triples, mark)
        finally:
            world.set_rules(APPLICATION, application)
            for name in overlapping:
                world.set_rules(name, others[name])
            world.await_rbac(triples, allowed=True)
        if not seen:
            missed.append(json.dumps(rule))
    assert missed == UNNOTICED, f"rules whose removal no flow noticed: {missed}"


def _refusal_for(world: World, flows: Flows, triples: set[tuple[str, str, str]], mark: int) -> bool:
    """Run the flows until one is refused something of `triples` (a 403 seen by the proxy):
    first the one that needs it (given `FIRST_WAIT` seconds), then the others back to back,
    and a last `LAST_WAIT` seconds for what they set going."""

    def refused() -> bool:
        return any((a.verb, a.group, a.resource) in triples for a in world.proxy.forbidden(mark))

    def wait(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if refused():
                return True
            time.sleep(0.05)
        return refused()

    first = flows.needing(next(iter(sorted(triples)))[2])
    flows.done = refused
    try:
        for flow in [first, *[f for f in flows.all() if f != first]]:
            # a flow's own step may fail once the operator is refused: that is the point
            with contextlib.suppress(client.ApiException, AssertionError):
                flow()
            if refused() or (flow == first and wait(FIRST_WAIT)):
                return True
        return wait(LAST_WAIT)
    finally:
        flows.done = lambda: False


# how long the flow that needs a rule is given to meet the 403, and all of them at the end
FIRST_WAIT, LAST_WAIT = 2.0, 3.0
