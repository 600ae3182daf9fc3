"""The operator's /metrics, scraped over HTTP from the real operator: a remediation, a guard
refusal, an approval and the bridge's answers move the counters and histograms they should.
And `remediator run --log-format json` logs one JSON object a line, bound to the incident,
its policy and the action."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from remediator.bridge import BridgeConfig
from remediator_devtools.testing import OperatorThread
from support import alertmanager
from support.alertmanager import firing_alert
from support.policies import incident_spec, policy_spec
from support.ports import free_port

from .conftest import Cluster

SCALE = {"action": "scale", "to": 4}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
TOKEN = "metrics-test-token"


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample `name` with exactly these labels (histogram buckets: with `le`); 0 if absent."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_metric(
    cluster: Cluster, port: int, what: str, check: Callable[[Samples], bool]
) -> Samples:
    """Scrape until `check` holds: a counter moves just after the status it follows is
    written, so a test that saw the status may scrape a moment before it."""
    result: Samples = cluster.wait_for(what, lambda: (s := scrape(port)) and check(s) and s)
    return result


def metered(start_operator: Callable[..., OperatorThread], **options: Any) -> tuple[int, Samples]:
    """An operator serving its metrics on a port of its own: the port, and a first scrape."""
    port = free_port()
    start_operator(metrics_port=port, **options)
    return port, scrape(port)


def test_a_remediation_moves_the_counters_and_histograms(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    # a deleted incident leaves the gauges at the ticker's next full listing: make it soon
    port, before = metered(start_operator, resync_seconds=1.0)
    assert value(before, "remediator_build_info", version="0.1.0") == 1
    assert value(before, "remediator_incidents", phase="Remediated", severity="P2") == 0
    cluster.deployment("web", replicas=2)
    cluster.policy("scale", policy_spec(SCALE))
    cluster.incident("inc-1", incident_spec(severity="P2"))
    cluster.remediated("inc-1")

    applied = ("remediator_actions_total", {"action": "scale", "result": "Applied"})
    after = wait_metric(
        cluster,
        port,
        "the scale action counted",
        lambda s: value(s, applied[0], **applied[1]) == value(before, applied[0], **applied[1]) + 1,
    )
    ttr = "remediator_time_to_remediate_seconds_count"
    assert value(after, ttr, severity="P2") == value(before, ttr, severity="P2") + 1
    assert value(after, ttr, severity="P1") == value(before, ttr, severity="P1")
    # creation has a one-second resolution: remediated within a few seconds of it
    assert value(after, "remediator_time_to_remediate_seconds_bucket", severity="P2", le="5.0") > (
        value(before, "remediator_time_to_remediate_seconds_bucket", severity="P2", le="5.0")
    )
    assert value(after, "remediator_incidents", phase="Remediated", severity="P2") == 1
    assert value(after, "remediator_incidents", phase="Pending", severity="P2") == 0
    for phase, reason in [
        ("Matched", "Matched"),
        ("Remediating", "AutoApproved"),
        ("Remediated", "Remediated"),
    ]:
        name = "remediator_transitions_total"
        assert value(after, name, phase=phase, reason=reason) == (
            value(before, name, phase=phase, reason=reason) + 1
        ), (phase, reason)
    # the scale subresource was patched through the adapter, and answered 200
    requests = "remediator_kube_requests_total"
    assert value(after, requests, verb="PATCH", code="200") > value(
        before, requests, verb="PATCH", code="200"
    )
    assert value(after, requests, verb="GET", code="200") > 0
    count = "remediator_reconcile_duration_seconds_count"
    assert value(after, count) > value(before, count)
    assert value(after, "process_resident_memory_bytes") > 0

    # the gauges follow a deleted incident at the ticker's next listing
    cluster.custom.delete_namespaced_custom_object(
        "remediator.dev", "v1alpha1", "shop", "incidents", "inc-1"
    )
    wait_metric(
        cluster,
        port,
        "the deleted incident gone from the gauge",
        lambda s: value(s, "remediator_incidents", phase="Remediated", severity="P2") == 0,
    )


def test_a_guard_refusal_is_counted_by_reason(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    port, before = metered(start_operator)
    cluster.deployment("web")
    cluster.configmap("remediator-config", {"paused": "true"}, namespace="remediator-system")
    cluster.policy("scale", policy_spec(SCALE))
    cluster.incident("inc-1", incident_spec())
    assert cluster.wait_phase("inc-1", "Blocked", "Remediated")["status"]["phase"] == "Blocked"
    refusals = "remediator_guard_refusals_total"
    after = wait_metric(
        cluster,
        port,
        "the Paused refusal counted",
        lambda s: (
            value(s, refusals, reason="Paused") == value(before, refusals, reason="Paused") + 1
        ),
    )
    assert value(after, refusals, reason="Cooldown") == value(before, refusals, reason="Cooldown")
    assert value(after, "remediator_incidents", phase="Blocked", severity="P2") == 1
    assert value(after, "remediator_actions_total", action="scale", result="Applied") == value(
        before, "remediator_actions_total", action="scale", result="Applied"
    )


def test_an_approval_observes_the_approval_wait(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    port, before = metered(start_operator)
    cluster.deployment("web")
    cluster.policy("scale", policy_spec(SCALE))
    cluster.incident("inc-1", incident_spec(severity="P1"))
    cluster.wait_phase("inc-1", "AwaitingApproval")
    waiting = wait_metric(
        cluster,
        port,
        "the pending approval in the gauges",
        lambda s: value(s, "remediator_approvals_pending", severity="P1") == 1,
    )
    assert value(waiting, "remediator_approvals_overdue", severity="P1") == 0  # 1h to go
    assert value(waiting, "remediator_incidents", phase="AwaitingApproval", severity="P1") == 1
    time.sleep(0.3)  # a wait long enough to measure
    cluster.approve("inc-1", "alice")
    cluster.remediated("inc-1")
    wait_count = "remediator_approval_wait_seconds_count"
    labels = {"severity": "P1", "decision": "approved"}
    after = wait_metric(
        cluster,
        port,
        "the approval wait observed",
        lambda s: value(s, wait_count, **labels) == value(before, wait_count, **labels) + 1,
    )
    waited = value(after, "remediator_approval_wait_seconds_sum", **labels) - value(
        before, "remediator_approval_wait_seconds_sum", **labels
    )
    assert 0.3 <= waited < 30
    assert value(after, "remediator_approvals_pending", severity="P1") == 0
    assert value(after, "remediator_incidents", phase="Remediated", severity="P1") == 1
    ttr = "remediator_time_to_remediate_seconds_count"
    assert value(after, ttr, severity="P1") == value(before, ttr, severity="P1") + 1


def _post_alert(url: str, token: str) -> int:
    labels = {"alertname": "HighErrorRate", "severity": "warning", "namespace": "shop"}
    payload = alertmanager.payload(firing_alert(labels, "0123456789abcdef", "2024-05-01T10:00:00Z"))
    request = urllib.request.Request(
        f"{url}/alerts",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


def test_bridge_requests_are_counted_by_status_code(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    port, bridge_port = free_port(), free_port()
    bridge = BridgeConfig(
        token=TOKEN, allowed_namespaces=frozenset({"shop"}), host="127.0.0.1", port=bridge_port
    )
    start_operator(metrics_port=port, bridge=bridge)
    before = scrape(port)
    url = f"http://127.0.0.1:{bridge_port}"
    assert _post_alert(url, "wrong-token") == 401
    assert _post_alert(url, TOKEN) == 200
    assert _post_alert(url, TOKEN) == 200  # Alertmanager's resend: the same Incident
    requests = "remediator_bridge_requests_total"
    alerts = "remediator_bridge_alerts_total"
    after = scrape(port)  # counted before the answer went out
    assert value(after, requests, path="/alerts", code="401") == (
        value(before, requests, path="/alerts", code="401") + 1
    )
    assert value(after, requests, path="/alerts", code="200") == (
        value(before, requests, path="/alerts", code="200") + 2
    )
    assert value(after, alerts, status="firing", result="created") == (
        value(before, alerts, status="firing", result="created") + 1
    )
    assert value(after, alerts, status="firing", result="unchanged") == (
        value(before, alerts, status="firing", result="unchanged") + 1
    )
    duration = "remediator_bridge_request_duration_seconds_count"
    assert value(after, duration, path="/alerts") == value(before, duration, path="/alerts") + 3


def test_json_logs_of_a_run_are_bound_to_incident_policy_and_action(
    cluster: Cluster, tmp_path: Path
) -> None:
    """`remediator run --log-format json --metrics-port` as deployed, in a process of its own."""
    cluster.deployment("web", replicas=2)
    cluster.policy("scale", policy_spec(SCALE))
    port = free_port()
    log_path = tmp_path / "operator.log"
    command = [
        sys.executable,
        "-m",
        "remediator",
        "run",
        f"--kubeconfig={cluster.box.kubeconfig}",
        "--log-format=json",
        f"--metrics-port={port}",
        "--metrics-host=127.0.0.1",
        f"--webhook-port={free_port()}",
        "--standalone",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("w") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        try:
            cluster.wait_for("the operator's /metrics", lambda: _answers(port), timeout=30)
            cluster.incident("inc-1", incident_spec())
            body = cluster.wait_phase("inc-1", "Remediated", "Blocked", "Failed", timeout=30)
            assert body["status"]["phase"] == "Remediated", body["status"]
            wait_metric(
                cluster,
                port,
                "the action counted",
                lambda s: (
                    value(s, "remediator_actions_total", action="scale", result="Applied") == 1
                ),
            )
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records: list[dict[str, Any]] = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    assert all({"event", "level", "timestamp"} <= r.keys() for r in records), records[:3]
    incident = "shop/inc-1"
    mine = [r for r in records if r.get("incident") == incident]
    applied = [r for r in mine if r["event"] == "action applied"]
    assert len(applied) == 1, mine
    assert applied[0]["policy"] == "scale"
    assert applied[0]["action"] == "scale"
    assert applied[0]["target"] == "Deployment/web"
    transitions = [r for r in mine if r["event"] == "incident transition"]
    assert [r["phase"] for r in transitions] == ["Matched", "Remediating", "Remediated"]
    assert all(r["policy"] == "scale" and r["action"] == "scale" for r in transitions)
    assert any(r["event"] == "metrics listening" and r["port"] == port for r in records)


def _answers(port: int) -> bool:
    try:
        scrape(port)
    except OSError:
        return False
    return True
