"""The safety promise against whoever can create, edit or delete an Incident.

An Incident's creator may ask; only policies and approvers decide. Each case is an attack
that once worked (issue 17), made by users with their own identities: *mallory* may
create, patch and delete Incidents but not Approvals; *alice* approves; *ops* may also
write `incidents/status`, as a namespace admin with a broad role can. On the real control
plane they are client-certificate users bound to exactly those Roles; "refused" means no
write to any workload or NetworkPolicy, counted from the write log (the emulator's) or the
API server's audit log (the real one's).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from remediator.bridge import BridgeConfig
from remediator.core import alerts
from remediator_devtools.testing import OperatorThread
from support import alertmanager
from support.alertmanager import firing_alert
from support.policies import GROUP, VERSION, incident_spec, policy_spec, resource
from support.ports import free_port

from .conftest import NS, Cluster, actions, timeline

FAST_GUARDS = {"cooldown": "1s", "maxActionsPerTargetPerHour": 100}
ROLES: dict[str, list[dict[str, Any]]] = {
    "mallory": [
        {
            "apiGroups": [GROUP],
            "resources": ["incidents"],
            "verbs": ["create", "get", "list", "watch", "patch", "update", "delete"],
        }
    ],
    "ops": [
        {
            "apiGroups": [GROUP],
            "resources": ["incidents", "incidents/status"],
            "verbs": ["create", "get", "list", "patch", "update", "delete"],
        }
    ],
}


def as_user(cluster: Cluster, name: str, tmp_path: Path) -> client.CustomObjectsApi:
    """A client for `name` with only its Role of ROLES in the namespace (on the emulator,
    whose flow clusters do not evaluate RBAC, the identity alone)."""
    path = tmp_path / f"user-{name}.kubeconfig"
    rbac = client.RbacAuthorizationV1Api(cluster.api)
    rbac.create_namespaced_role(NS, {"metadata": {"name": f"attack-{name}"}, "rules": ROLES[name]})
    rbac.create_namespaced_role_binding(
        NS,
        {
            "metadata": {"name": f"attack-{name}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": f"attack-{name}",
            },
            "subjects": [{"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}],
        },
    )
    if cluster.real:
        kubeconfig = cluster.box.plane.user_kubeconfig(name, path)  # type: ignore[union-attr]
    else:
        kubeconfig = cluster.box.kubeconfig_for(name, path)
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.CustomObjectsApi(client.ApiClient(configuration))


def workload_writes(cluster: Cluster, since: int) -> list[Any]:
    """Writes to anything a remediation may change, since the mark."""
    kinds = ("deployments", "statefulsets", "networkpolicies", "horizontalpodautoscalers", "pods")
    return [w for w in cluster.writes(since=since) if w.resource in kinds and w.namespace != ""]


def assert_untouched(cluster: Cluster, mark: int, deployment: str, replicas: int) -> None:
    """Nothing a remediation may change was written since the mark: `deployment` still
    runs `replicas`."""
    assert workload_writes(cluster, mark) == []
    assert cluster.apps.read_namespaced_deployment(deployment, NS).spec.replicas == replicas


def stays(cluster: Cluster, name: str, phase: str, seconds: float = 1.5) -> dict[str, Any]:
    """The incident reaches `phase` and is still there a moment later."""
    cluster.wait_phase(name, phase, timeout=20)
    time.sleep(seconds)
    return cluster.wait_phase(name, phase, timeout=1)


@pytest.fixture
def mallory(cluster: Cluster, tmp_path: Path) -> client.CustomObjectsApi:
    """Mallory, who may create, edit and delete incidents (ROLES), and nothing else."""
    return as_user(cluster, "mallory", tmp_path)


def create_incident(user: client.CustomObjectsApi, name: str, spec: dict[str, Any]) -> Any:
    """Create the incident `name` in the namespace as `user` (a client of `as_user`)."""
    return user.create_namespaced_custom_object(
        GROUP, VERSION, NS, "incidents", resource("Incident", name, spec)
    )


# ----------------------------------------------------------------- 1. approval replay
def test_an_approval_never_counts_for_a_recreated_incident_of_the_same_name(
    cluster: Cluster, operator: OperatorThread, mallory: client.CustomObjectsApi
) -> None:
    cluster.deployment("web", replicas=2)
    cluster.policy("scale", policy_spec({"action": "scale", "to": 6}, guards=FAST_GUARDS))
    create_incident(mallory, "inc-1", incident_spec(severity="P1"))
    cluster.wait_phase("inc-1", "AwaitingApproval", timeout=20)
    cluster.approve("inc-1", "alice@example.com")
    cluster.wait_phase("inc-1", "Remediated", timeout=20)
    cluster.apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 2}})
    time.sleep(1.1)  # past the cooldown: only the approval can stop the replay
    mark = cluster.mark()
    mallory.delete_namespaced_custom_object(GROUP, VERSION, NS, "incidents", "inc-1")
    cluster.wait_for(
        "inc-1 to be gone",
        lambda: (
            "inc-1"
            not in [
                i["metadata"]["name"]
                for i in cluster.custom.list_namespaced_custom_object(
                    GROUP, VERSION, NS, "incidents"
                )["items"]
            ]
        ),
    )
    create_incident(mallory, "inc-1", incident_spec(severity="P1"))
    body = stays(cluster, "inc-1", "AwaitingApproval")
    assert "Remediating" not in timeline(body)
    assert not [a for a in body["status"].get("approvals", []) if a.get("counted")]
    assert_untouched(cluster, mark, "web", 2)


# ---------------------------------------------------------- 2. severity edited while waiting
def test_the_spec_of_a_planned_incident_cannot_be_edited(
    cluster: Cluster, operator: OperatorThread, mallory: client.CustomObjectsApi
) -> None:
    cluster.deployment("web", replicas=2)
    cluster.policy(
        "evict",
        policy_spec(
            {"action": "scale", "to": 4},
            approval={"P0": {"mode": "required", "approvers": 2}},
        ),
    )
    create_incident(mallory, "inc-1", incident_spec(severity="P0"))
    cluster.wait_phase("inc-1", "AwaitingApproval", timeout=20)
    cluster.approve("inc-1", "alice@example.com")
    mark = cluster.mark()
    with pytest.raises(client.ApiException) as refused:
        mallory.patch_namespaced_custom_object(
            GROUP, VERSION, NS, "incidents", "inc-1", {"spec": {"severity": "P1"}}
        )
    assert refused.value.status == 422
    assert "spec.severity" in str(refused.value.body)
    body = stays(cluster, "inc-1", "AwaitingApproval")
    assert body["spec"]["severity"] == "P0"
    assert workload_writes(cluster, mark) == []


def test_a_policy_change_while_waiting_replans_and_voids_the_approvals(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web", replicas=2)
    cluster.policy("scale", policy_spec({"action": "scale", "to": 8}))
    cluster.incident("inc-1", incident_spec(severity="P1"))
    old = cluster.wait_phase("inc-1", "AwaitingApproval", timeout=20)["status"]["plan"]["hash"]
    mark = cluster.mark()
    cluster.patch(
        "remediationpolicies",
        "scale",
        {"spec": {"dryRun": True, "steps": [{"action": "scale", "to": 3}]}},
    )
    # alice approves what she saw; at that moment the policy's new version counts
    cluster.approve("inc-1", "alice@example.com", plan_hash=old)
    done = cluster.wait_phase("inc-1", "DryRun", timeout=20)
    assert "Replanned" in timeline(done)
    assert done["status"]["plan"]["hash"] != old
    assert "→ 3" in done["status"]["plan"]["steps"][0]["summary"]
    assert_untouched(cluster, mark, "web", 2)


# --------------------------------------------------------------- 3. status is trusted
def test_a_status_written_by_hand_is_never_acted_on(
    cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    ops = as_user(cluster, "ops", tmp_path)
    cluster.deployment("db", replicas=3)
    create_incident(ops, "inc-1", incident_spec("db", "P0"))
    cluster.wait_phase("inc-1", "NoPolicy", timeout=20)
    mark = cluster.mark()
    forged_step = {
        "index": 0,
        "action": "scale",
        "target": "Deployment/db",
        "desired": {
            "via": "hpa",
            "hpa": "../../other/horizontalpodautoscalers/victim-hpa",
            "replicas": 0,
            "previousMinReplicas": 3,
            "maxReplicas": 1,
        },
    }
    ops.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        NS,
        "incidents",
        "inc-1",
        {
            "status": {
                "phase": "Remediating",
                "policy": "made-up",
                "plan": {"hash": "f" * 16, "steps": [forged_step]},
                "actions": [{"index": 0, "action": "scale", "target": "Deployment/db"}],
            }
        },
    )
    body = cluster.wait_phase("inc-1", "Blocked", timeout=20)
    assert timeline(body)[-1] == "StatusNotSealed"
    assert "plan" not in body["status"]  # nothing forged stays behind
    time.sleep(1)
    assert_untouched(cluster, mark, "db", 3)


# ---------------------------------------------------------- 4. guards evaded by deleting
def test_deleting_incidents_does_not_reset_the_cooldown(
    cluster: Cluster, operator: OperatorThread, mallory: client.CustomObjectsApi
) -> None:
    mark = cluster.restart_web(guards={"cooldown": "15m", "maxActionsPerTargetPerHour": 1})
    for attempt in range(4):
        name = f"inc-{attempt}"
        create_incident(mallory, name, incident_spec())
        body = cluster.wait_phase(name, "Remediated", "Blocked", timeout=20)
        assert body["status"]["phase"] == ("Remediated" if attempt == 0 else "Blocked")
        if attempt:
            assert timeline(body)[-1] == "Cooldown", body["status"]
        mallory.delete_namespaced_custom_object(GROUP, VERSION, NS, "incidents", name)
    restarts = [w for w in workload_writes(cluster, mark) if w.resource == "deployments"]
    assert len(restarts) == 1, restarts


# -------------------------------------------------------------- 5. notifications leak
class _Hook(http.server.BaseHTTPRequestHandler):
    answers: list[tuple[int, dict[str, str], bytes]] = []
    received: list[str] = []

    def do_POST(self) -> None:
        self.received.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, headers, body = self.answers[0]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[int, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"answers": [], "received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], handler
    server.shutdown()


def _notify_incident(cluster: Cluster, url: str, name: str) -> dict[str, Any]:
    import base64

    cluster.deployment("web")
    secret = f"hook-{name}"
    cluster.core.create_namespaced_secret(
        NS,
        {"metadata": {"name": secret}, "data": {"url": base64.b64encode(url.encode()).decode()}},
    )
    cluster.policy(
        f"notify-{name}",
        policy_spec(
            {"action": "notify", "webhookSecretRef": {"name": secret, "key": "url"}},
            alert=f"Alert{name.title().replace('-', '')}",
        ),
    )
    cluster.incident(name, incident_spec(alert=f"Alert{name.title().replace('-', '')}"))
    return cluster.wait_phase(name, "Remediated", "Failed", timeout=20)


def _told(cluster: Cluster, body: dict[str, Any]) -> str:
    """Everything a reader of the incident sees: its status and its Events."""
    events = " ".join(e.message or "" for e in cluster.events(body))
    return json.dumps(body["status"]) + events


def test_notifications_tell_no_credentials_and_no_response_bodies(
    cluster: Cluster, operator: OperatorThread, hook: tuple[int, type[_Hook]]
) -> None:
    port, handler = hook
    handler.answers.append((500, {}, b"INTERNAL-ONLY: db_password=hunter2"))
    url = f"http://paul:s3cret-pw@127.0.0.1:{port}/services/T000/B000/XXXX?token=abc"
    body = _notify_incident(cluster, url, "leak")
    assert body["status"]["phase"] == "Failed"
    told = _told(cluster, body)
    assert "500" in told
    for secret in ("s3cret-pw", "paul:", "hunter2", "INTERNAL-ONLY", "T000", "token=abc"):
        assert secret not in told, secret


def test_notifications_follow_no_redirects(
    cluster: Cluster, operator: OperatorThread, hook: tuple[int, type[_Hook]]
) -> None:
    port, handler = hook
    elsewhere = free_port()
    handler.answers.append((307, {"Location": f"http://127.0.0.1:{elsewhere}/steal"}, b""))
    body = _notify_incident(cluster, f"http://127.0.0.1:{port}/hook", "redirect")
    assert body["status"]["phase"] == "Failed"
    assert "redirects are not followed" in actions(body)[0]["result"]
    assert handler.received == ["/hook"]  # one POST, to the named URL only


def test_notifications_refuse_link_local_and_metadata_addresses(
    cluster: Cluster, operator: OperatorThread
) -> None:
    body = _notify_incident(cluster, "http://169.254.169.254/latest/meta-data/", "metadata")
    assert body["status"]["phase"] == "Failed"
    assert "link-local or metadata address is refused" in actions(body)[0]["result"]


# ------------------------------------------------------------- 7. the bridge fails closed
@pytest.fixture
def bridged(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> tuple[int, OperatorThread]:
    port = free_port()
    bridge = BridgeConfig(token="attack-token", port=port, allowed_namespaces=frozenset({NS}))
    return port, start_operator(bridge=bridge)


STARTS = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _post_alert(port: int, labels: dict[str, str], fingerprint: str) -> dict[str, Any]:
    alert = firing_alert(
        {"alertname": "HighErrorRate", "namespace": NS, **labels}, fingerprint, STARTS
    )
    payload = alertmanager.payload(alert)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/alerts",
        data=json.dumps(payload).encode(),
        headers={"Authorization": "Bearer attack-token", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


def test_an_unknown_severity_needs_approval_and_says_so(
    cluster: Cluster, bridged: tuple[int, OperatorThread]
) -> None:
    port, _ = bridged
    cluster.deployment("web", replicas=3)
    cluster.policy("evict", policy_spec({"action": "restartPods", "mode": "evict"}))
    mark = cluster.mark()
    for value, fingerprint in (("sev1", "aaaa0001"), ("CRIT", "aaaa0002")):
        answer = _post_alert(port, {"deployment": "web", "severity": value}, fingerprint)
        (created,) = answer["incidents"]
        name = created["incident"].split("/")[1]
        body = stays(cluster, name, "AwaitingApproval")
        assert body["spec"]["severity"] == "P1"
        assert "UnknownSeverity" in timeline(body)
    assert workload_writes(cluster, mark) == []


def test_an_incident_under_the_bridges_name_never_absorbs_the_alert(
    cluster: Cluster, bridged: tuple[int, OperatorThread], tmp_path: Path
) -> None:
    port, _ = bridged
    cluster.deployment("web", replicas=3)
    cluster.policy("evict", policy_spec({"action": "restartPods", "mode": "evict"}))
    starts = alerts.Alert.model_validate(
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate"},
            "startsAt": STARTS,
            "fingerprint": "bbbb0001",
        }
    ).starts_at
    squatted = alerts.incident_name("bbbb0001", starts)
    # stored past the webhook (which reserves the name for the bridge's identities)
    cluster.create_unadmitted(
        "incidents",
        {
            # it asks for something harmless (no policy matches): it only holds the name
            **resource("Incident", squatted, incident_spec(severity="P3", alert="Squat")),
            "metadata": {"name": squatted, "namespace": NS},
        },
    )
    mark = cluster.mark()
    answer = _post_alert(port, {"deployment": "web", "severity": "page"}, "bbbb0001")
    ((created),) = answer["incidents"]
    name = created["incident"].split("/")[1]
    assert name.startswith(f"{squatted}-"), answer  # its second name, not the squatter's
    body = stays(cluster, name, "AwaitingApproval")
    assert body["spec"]["severity"] == "P0"
    squatter = cluster.get("incidents", squatted)
    assert squatter["spec"]["severity"] == "P3"
    assert [w for w in workload_writes(cluster, mark) if w.resource == "pods"] == []


def test_the_bridges_names_are_reserved_for_its_identity_at_admission(
    cluster: Cluster,
    start_operator: Callable[..., OperatorThread],
    mallory: client.CustomObjectsApi,
) -> None:
    start_operator(bridge_users=frozenset({"system:serviceaccount:remediator-system:remediator"}))
    with pytest.raises(client.ApiException) as refused:
        create_incident(mallory, "am-0123456789abcdef", incident_spec())
    assert refused.value.status == 403
    assert "metadata.name" in str(refused.value.body)
    create_incident(mallory, "inc-1", incident_spec())  # any other name is hers to use


# ------------------------------------------------------ 8. targets stay within the policy
def test_a_fixed_target_name_is_never_overridden(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("cache", replicas=2)
    cluster.deployment("payments", replicas=2)
    cluster.policy(
        "cache",
        {
            "match": {"alertnames": ["HighErrorRate"]},
            "target": {"kind": "Deployment", "name": "cache"},
            "steps": [{"action": "scale", "to": 5}],
        },
    )
    mark = cluster.mark()
    spec = incident_spec(target={"kind": "Deployment", "name": "payments"})
    cluster.incident("inc-1", spec)
    body = cluster.wait_phase("inc-1", "Blocked", timeout=20)
    assert timeline(body)[-1] == "TargetNotAllowed"
    assert "spec.target.name" in body["status"]["message"]
    assert workload_writes(cluster, mark) == []


def test_a_label_cannot_point_a_bounded_policy_at_another_workload(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web", replicas=2)
    cluster.deployment("billing", replicas=2)
    cluster.apps.patch_namespaced_deployment(
        "web", NS, {"metadata": {"labels": {"remediator.dev/managed": "true"}}}
    )
    bounded = {"kind": "Deployment", "nameFromLabel": "deployment"}
    bounded["selector"] = {"matchLabels": {"remediator.dev/managed": "true"}}  # type: ignore[assignment]
    cluster.policy(
        "scale",
        {**policy_spec({"action": "scale", "to": 4}), "target": bounded},
    )
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec("billing"))
    body = cluster.wait_phase("inc-1", "Blocked", timeout=20)
    assert timeline(body)[-1] == "TargetNotAllowed"
    assert "remediator.dev/managed=true" in body["status"]["message"]
    cluster.incident("inc-2", incident_spec("web"))
    cluster.wait_phase("inc-2", "Remediated", timeout=20)
    scaled = {w.name for w in workload_writes(cluster, mark)}
    assert scaled == {"web"}


def test_the_bounds_are_checked_again_just_before_acting(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web", replicas=2)
    cluster.apps.patch_namespaced_deployment(
        "web", NS, {"metadata": {"labels": {"remediator.dev/managed": "true"}}}
    )
    cluster.policy(
        "scale",
        {
            **policy_spec({"action": "scale", "to": 4}),
            "target": {
                "kind": "Deployment",
                "nameFromLabel": "deployment",
                "selector": {"matchLabels": {"remediator.dev/managed": "true"}},
            },
        },
    )
    cluster.incident("inc-1", incident_spec(severity="P1"))
    cluster.wait_phase("inc-1", "AwaitingApproval", timeout=20)
    cluster.apps.patch_namespaced_deployment(
        "web", NS, {"metadata": {"labels": {"remediator.dev/managed": None}}}
    )
    mark = cluster.mark()
    cluster.approve("inc-1", "alice@example.com")
    body = cluster.wait_phase("inc-1", "Failed", timeout=20)
    assert (
        "TargetNotAllowed" in timeline(body)
        or "remediator.dev/managed" in body["status"]["message"]
    )
    assert [w for w in workload_writes(cluster, mark) if w.name == "web"] == []
    assert cluster.apps.read_namespaced_deployment("web", NS).spec.replicas == 2
