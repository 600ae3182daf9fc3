"""Evidence before action: what the pods looked like, and said, before the operator replaced
them — captured, kept in a Secret the Incident owns, and told by the status, `kubectl
describe`, `remediator evidence` and the review.

The logs come from the kubelet's part: `Sandbox.set_log` on the emulator, kwok's `Logs`
objects (CRI-format files it serves through the API server) on the real control plane."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kube_emulator import Sandbox
from remediator_devtools import pod_states
from remediator_devtools.testing import OperatorThread
from support.policies import CAPTURED_THEN_APPLIED, incident_spec, policy_spec

from .conftest import NS, Cluster, timeline

LEAK = "allocating buffer 511\nallocating buffer 512\njava.lang.OutOfMemoryError: Java heap space\n"
SECRET_VALUE = "hunter2-do-not-leak"
KWOK_LOGS = ("kwok.x-k8s.io", "v1alpha1", NS, "logs")  # kwok's Logs objects, in the namespace


def pods_of(cluster: Cluster, app: str) -> list[str]:
    return sorted(
        p.metadata.name
        for p in cluster.core.list_namespaced_pod(NS, label_selector=f"app={app}").items
        if p.metadata.deletion_timestamp is None
    )


def set_log(cluster: Cluster, pod: str, text: str, *, previous: bool = False) -> None:
    """What the kubelet would serve as the container `app`'s log (`previous`: the log of the
    container before the last restart)."""
    if isinstance(cluster.box, Sandbox):
        cluster.box.set_log(NS, pod, "app", text, previous=previous)
        return
    folder = Path(cluster.box.workdir) / "kwok-logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{pod}{'-previous' if previous else ''}.log"
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    path.write_text("".join(f"{stamp} stdout F {line}\n" for line in text.splitlines()))
    key = "previousLogsFile" if previous else "logsFile"
    body = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Logs",
        "metadata": {"name": pod},
        "spec": {"logs": [{"containers": ["app"], key: str(path)}]},
    }
    try:
        existing = cluster.custom.get_namespaced_custom_object(*KWOK_LOGS, pod)
    except Exception:
        cluster.custom.create_namespaced_custom_object(
            "kwok.x-k8s.io", "v1alpha1", NS, "logs", body
        )
        return
    [entry] = existing["spec"]["logs"]
    entry[key] = str(path)
    cluster.custom.replace_namespaced_custom_object(*KWOK_LOGS, pod, existing)


def oom_killed(cluster: Cluster, pod: str, restarts: int = 3) -> None:
    """The pod's container restarted `restarts` times, last killed for its memory."""
    image = cluster.core.read_namespaced_pod(pod, NS).spec.containers[0].image
    cluster.core.patch_namespaced_pod_status(pod, NS, pod_states.oom_killed("app", image, restarts))


def secret_document(cluster: Cluster, body: dict[str, Any]) -> dict[str, Any]:
    name = body["status"]["evidence"]["secret"]
    secret = cluster.core.read_namespaced_secret(name, NS)
    assert secret.type == "remediator.dev/evidence"
    [owner] = secret.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid) == ("Incident", "inc-1", body["metadata"]["uid"])
    document: dict[str, Any] = json.loads(base64.b64decode(secret.data["evidence.json"]))
    return document


def remediator(cluster: Cluster, *args: str) -> str:
    """What `remediator ARGS -n shop` prints, as the cluster's admin (it must succeed)."""
    command = [str(Path(sys.executable).parent / "remediator"), *args, "-n", NS]
    command += ["--kubeconfig", str(cluster.box.kubeconfig)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def leaking_web(cluster: Cluster, **evidence: Any) -> list[str]:
    """web, its pods OOMKilled three times with the leak in their previous logs, and the
    restart policy of the memory-leak playbook."""
    cluster.deployment("web")
    pods = pods_of(cluster, "web")
    for pod in pods:
        oom_killed(cluster, pod)
        set_log(cluster, pod, "started again\n")
        set_log(cluster, pod, LEAK, previous=True)
    extra = {"evidence": evidence} if evidence else {}
    cluster.policy("memory-leak", policy_spec({"action": "restartPods"}, **extra))
    return pods


def test_a_memory_leak_restart_keeps_the_oom_kills_and_the_logs_from_before(
    cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    pods = leaking_web(cluster)
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    assert timeline(body) == ["Matched", "AutoApproved", *CAPTURED_THEN_APPLIED]
    summary = body["status"]["evidence"]
    assert sorted(p["name"] for p in summary["pods"]) == pods
    assert all(p["restarts"] == 3 for p in summary["pods"])
    assert all(p["lastTermination"] == "OOMKilled, exit 137" for p in summary["pods"])
    assert summary.get("missing", []) == []
    document = secret_document(cluster, body)
    for pod in pods:
        assert document["logs"][f"{pod}/app (previous)"] == LEAK
        assert document["logs"][f"{pod}/app"] == "started again\n"
    # the describe line
    [captured] = [e for e in body["status"]["timeline"] if e["reason"] == "EvidenceCaptured"]
    assert "3 restart(s), last OOMKilled, exit 137" in captured["message"]
    assert f"kept in Secret {summary['secret']}" in captured["message"]
    # `remediator evidence` and the review read it back
    shown = remediator(cluster, "evidence", "inc-1")
    assert "java.lang.OutOfMemoryError" in shown and "last terminated OOMKilled (exit 137)" in shown
    review = remediator(cluster, "report", "inc-1")
    assert "## Evidence before action" in review and "OutOfMemoryError" in review


def test_a_rollback_keeps_both_revisions(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment("checkout", image="v1")
    cluster.deployment("checkout", image="v2")
    alert = "DeploymentReplicasUnavailable"
    cluster.policy(
        "rollback",
        policy_spec({"action": "rollback"}, alert=alert, approval={"P2": {"mode": "auto"}}),
    )
    cluster.incident("inc-1", incident_spec("checkout", alert=alert))
    body = cluster.remediated("inc-1")
    document = secret_document(cluster, body)
    images = {r["revision"]: r["images"] for r in document["revisions"]}
    assert images == {2: ["example/checkout:v2"], 1: ["example/checkout:v1"]}


def test_a_scale_alone_is_not_captured_unless_the_policy_asks(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web")
    cluster.policy("scale", policy_spec({"action": "scale", "to": 3}))
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    assert "evidence" not in body["status"]
    assert "EvidenceCaptured" not in timeline(body)


def test_huge_and_binary_logs_stay_within_the_cap_and_no_secret_is_kept(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web")
    cluster.apps.patch_namespaced_deployment(
        "web",
        NS,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "app", "env": [{"name": "DB_PASSWORD", "value": SECRET_VALUE}]}
                        ]
                    }
                }
            }
        },
    )
    cluster.box.settle()
    first, second = pods_of(cluster, "web")
    set_log(cluster, first, "".join(f"request {i} failed: {'x' * 80}\n" for i in range(5000)))
    set_log(cluster, second, "\x00\x01binary\x02" * 1000)
    cluster.policy(
        "restart",
        policy_spec({"action": "restartPods"}, evidence={"maxBytes": 65536, "logLines": 2000}),
    )
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    summary = body["status"]["evidence"]
    assert summary["bytes"] <= 65536 and summary["truncated"]
    document = secret_document(cluster, body)
    assert document["logs"][f"{second}/app"].startswith("[binary log:")
    assert document["logs"][f"{first}/app"].endswith(f"request 4999 failed: {'x' * 80}\n")
    assert SECRET_VALUE not in json.dumps(document) and "DB_PASSWORD" not in json.dumps(document)


@pytest.mark.emulator_only(reason="faults are injected inside the emulator's server")
@pytest.mark.parametrize(("status", "told"), [(403, ": 403 "), (None, "not within")])
def test_logs_that_cannot_be_read_are_missing_and_never_stop_the_remediation(
    cluster: Cluster, operator: OperatorThread, status: int | None, told: str
) -> None:
    leaking_web(cluster, budget="1s")
    assert isinstance(cluster.box, Sandbox)
    cluster.box.faults.add(
        resource="pods", subresource="log", status=status, timeout=status is None
    )
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    missing = body["status"]["evidence"]["missing"]
    assert missing and all(m.startswith("log ") and told in m for m in missing)
    assert [a["state"] for a in body["status"]["actions"]] == ["Applied"]


def test_the_evidence_goes_with_its_incident(cluster: Cluster, operator: OperatorThread) -> None:
    leaking_web(cluster)
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    name = body["status"]["evidence"]["secret"]
    cluster.custom.delete_namespaced_custom_object(
        "remediator.dev", "v1alpha1", NS, "incidents", "inc-1"
    )

    def gone() -> bool:
        return name not in {s.metadata.name for s in cluster.core.list_namespaced_secret(NS).items}

    cluster.wait_for("the evidence Secret garbage-collected", gone, timeout=30)


def post_event(cluster: Cluster, name: str, kind: str, about: str, reason: str) -> None:
    """An Event as a controller or the kubelet would post it about the object `kind/about`."""
    cluster.core.create_namespaced_event(
        NS,
        {
            "metadata": {"name": name},
            "involvedObject": {"kind": kind, "name": about, "namespace": NS},
            "reason": reason,
            "message": f"{reason} of {about}",
            "type": "Warning",
            "lastTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": {"component": "test"},
        },
    )


def test_the_targets_events_are_found_among_hundreds_of_others(
    cluster: Cluster, operator: OperatorThread
) -> None:
    """A busy namespace: 520 Events about other objects, named to come first in a list. The
    ones about the target's pods and the Deployment are still captured (a capture reading
    the namespace's first 500 Events missed them)."""
    pods = leaking_web(cluster)
    for i in range(520):
        post_event(cluster, f"aaa-{i:03}.noise", "ConfigMap", f"aaa-{i:03}", "Noise")
    post_event(cluster, f"{pods[0]}.backoff", "Pod", pods[0], "BackOff")
    post_event(cluster, "web.failed", "Deployment", "web", "ProgressDeadlineExceeded")
    post_event(cluster, "web.service", "Service", "web", "NotTheTarget")
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    told = {(e["object"], e["reason"]) for e in secret_document(cluster, body)["events"]}
    assert (f"Pod/{pods[0]}", "BackOff") in told
    assert ("Deployment/web", "ProgressDeadlineExceeded") in told
    assert all(reason not in ("Noise", "NotTheTarget") for _, reason in told)
    assert body["status"]["evidence"].get("missing", []) == []
