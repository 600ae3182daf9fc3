"""suspendCronJobs, isolatePods and notify, run by the real operator on the emulator.

Each action is applied once (the write log shows one change per object), resumes without
a second change after a crash between the change and its record, records what a dry run
would do without changing anything, and reverts exactly what it changed. isolatePods
always waits for a human; notify posts Slack-compatible JSON to a webhook whose URL is in
a Secret, as a step and on the policy's escalations, to a local aiohttp receiver.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from kubernetes import client

from remediator_devtools.testing import OperatorThread
from support.policies import incident_spec, policy_spec
from support.workloads import cron_job

from .conftest import NS, Cluster, actions, timeline
from .sealing import write_as_operator

STOP_LABEL = "remediator.dev/stop-on-data-incident"
SUSPEND = {"action": "suspendCronJobs", "selector": {"matchLabels": {STOP_LABEL: "true"}}}


# ------------------------------------------------------------------------ helpers
@dataclass
class Receiver:
    """A webhook receiver on loopback: records each JSON body, answers `status`."""

    url: str = ""
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)

    def wait(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.received)} of {count} notifications received")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner_box: list[web.AppRunner] = []

    async def handle(request: web.Request) -> web.Response:
        found.received.append(await request.json())
        return web.json_response({"ok": found.status < 300}, status=found.status)

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/hooks/{token}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        found.url = f"http://127.0.0.1:{port}/hooks/T0KEN"
        runner_box.append(runner)
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert ready.wait(5)
    yield found
    asyncio.run_coroutine_threadsafe(runner_box[0].cleanup(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def secret(cluster: Cluster, url: str, name: str = "incident-webhook") -> None:
    cluster.core.create_namespaced_secret(
        NS,
        {"metadata": {"name": name}, "data": {"url": base64.b64encode(url.encode()).decode()}},
    )


def cronjob(cluster: Cluster, name: str, *, suspend: bool, stop: bool = True) -> None:
    labels = {STOP_LABEL: "true"} if stop else {}
    client.BatchV1Api(cluster.api).create_namespaced_cron_job(
        NS, cron_job(name, labels=labels, suspend=suspend)
    )


def suspended(cluster: Cluster) -> dict[str, bool]:
    jobs = client.BatchV1Api(cluster.api).list_namespaced_cron_job(NS).items
    return {j.metadata.name: bool(j.spec.suspend) for j in jobs}


def network_policies(cluster: Cluster) -> dict[str, Any]:
    items = client.NetworkingV1Api(cluster.api).list_namespaced_network_policy(NS).items
    return {n.metadata.name: cluster.api.sanitize_for_serialization(n) for n in items}


def crash_after_applying(
    cluster: Cluster, start_operator: Callable[..., OperatorThread], operator: OperatorThread
) -> int:
    """Stop the operator, then leave the status as a crash right after the change (and
    before its record) would: back in Remediating, every action marked Applying. Restart;
    return the write-log mark taken before the restart."""
    operator.stop()
    body = cluster.get("incidents", "inc-1")
    status = body["status"]
    status["phase"] = "Remediating"
    for record in status["actions"]:
        record["state"] = "Applying"
        record.pop("revertAt", None)
    write_as_operator(cluster, "inc-1", status)
    mark = cluster.mark()
    start_operator()
    return mark


# ---------------------------------------------------------------- suspendCronJobs
def stop_jobs(cluster: Cluster, *jobs: tuple[str, bool], **policy: Any) -> int:
    """Deployment web, the CronJobs `jobs` (name, selected by the policy), none suspended,
    and the policy stop-jobs that suspends those it selects (`policy` added to its spec);
    returns the write mark after them."""
    cluster.deployment("web")
    for name, stop in jobs:
        cronjob(cluster, name, suspend=False, stop=stop)
    cluster.policy("stop-jobs", policy_spec(SUSPEND, **policy))
    return cluster.mark()


def test_suspend_cron_jobs_once_then_resume_exactly_those_it_suspended(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web")
    cronjob(cluster, "ledger-sync", suspend=False)
    cronjob(cluster, "invoice-export", suspend=True)  # suspended by someone else
    cronjob(cluster, "cache-warmer", suspend=False, stop=False)
    cluster.policy("stop-jobs", policy_spec({**SUSPEND, "resumeAfter": "1s"}))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    step = body["status"]["plan"]["steps"][0]
    assert step["desired"]["suspend"] == ["ledger-sync"]
    assert step["desired"]["alreadySuspended"] == ["invoice-export"]
    assert actions(body)[0]["revert"] == {"cronJobs": ["ledger-sync"]}
    body = cluster.reverted("inc-1")
    assert suspended(cluster) == {
        "ledger-sync": False,
        "invoice-export": True,  # it was suspended before: it stays suspended
        "cache-warmer": False,
    }
    writes = cluster.writes(resource="cronjobs", since=mark)
    assert [(w.verb, w.name) for w in writes] == [("patch", "ledger-sync")] * 2
    assert "resumed CronJob ledger-sync" in actions(body)[0]["result"]
    assert timeline(body)[-1] == "ActionReverted"


def test_suspend_cron_jobs_resumes_after_a_crash_without_a_second_change(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    stop_jobs(cluster, ("ledger-sync", True))
    first = start_operator()
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    assert actions(body)[0]["revert"] == {"cronJobs": ["ledger-sync"]}
    assert "revertAt" not in actions(body)[0]  # no resumeAfter: suspended until a human
    mark = crash_after_applying(cluster, start_operator, first)
    body = cluster.remediated("inc-1")
    assert actions(body)[0]["state"] == "Skipped"
    assert cluster.writes(resource="cronjobs", since=mark) == []
    assert suspended(cluster) == {"ledger-sync": True}


def test_suspend_cron_jobs_dry_run_changes_nothing(
    cluster: Cluster, operator: OperatorThread
) -> None:
    mark = stop_jobs(cluster, ("ledger-sync", True), dryRun=True)
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "DryRun", "Remediated", "Blocked", "Failed")
    assert body["status"]["phase"] == "DryRun", body["status"]
    assert actions(body)[0]["state"] == "DryRun"
    assert actions(body)[0]["result"] == "would suspend CronJob ledger-sync"
    assert cluster.writes(resource="cronjobs", since=mark) == []
    assert suspended(cluster) == {"ledger-sync": False}


def test_suspend_cron_jobs_selecting_nothing_is_blocked(
    cluster: Cluster, operator: OperatorThread
) -> None:
    stop_jobs(cluster, ("cache-warmer", False))
    cluster.incident("inc-1", incident_spec())
    body = cluster.blocked("inc-1")
    assert timeline(body)[-1] == "NoCronJobsSelected"


# -------------------------------------------------------------------- isolatePods
def test_isolate_pods_always_waits_for_a_human_then_denies_all_traffic_once(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    cluster.deployment("web")
    # no approval section: P2 defaults to auto, but isolatePods is never automatic
    cluster.policy("isolate", policy_spec({"action": "isolatePods"}))
    first = start_operator()
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec(severity="P2"))
    body = cluster.wait_phase("inc-1", "AwaitingApproval", "Remediated", "Failed", "Blocked")
    assert body["status"]["phase"] == "AwaitingApproval", body["status"]
    assert network_policies(cluster) == {}
    cluster.approve("inc-1", "alice")
    body = cluster.remediated("inc-1")
    [policy] = network_policies(cluster).values()
    assert policy["metadata"]["name"] == "remediator-isolate-web"
    assert policy["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "remediator"}
    assert policy["metadata"]["annotations"] == {"remediator.dev/incident": "inc-1"}
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"app": "web"}},
        "policyTypes": ["Ingress", "Egress"],
    }
    assert "revertAt" not in actions(body)[0]  # stays until a human removes it
    writes = cluster.writes(resource="networkpolicies", since=mark)
    assert [(w.verb, w.name) for w in writes] == [("create", "remediator-isolate-web")]
    # a crash between the create and its record: resumed, nothing created twice
    mark = crash_after_applying(cluster, start_operator, first)
    body = cluster.remediated("inc-1")
    assert actions(body)[0]["state"] == "Skipped"
    assert cluster.writes(resource="networkpolicies", since=mark) == []


def test_isolate_pods_with_revert_after_deletes_its_network_policy(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web")
    cluster.policy("isolate", policy_spec({"action": "isolatePods", "revertAfter": "1s"}))
    cluster.incident("inc-1", incident_spec(severity="P1"))
    cluster.wait_phase("inc-1", "AwaitingApproval")
    cluster.approve("inc-1", "alice")
    cluster.wait_phase("inc-1", "Remediated", "Failed")
    body = cluster.reverted("inc-1")
    assert network_policies(cluster) == {}
    assert "deleted" in actions(body)[0]["result"]


def test_isolate_pods_dry_run_creates_nothing(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment("web")
    cluster.policy("isolate", policy_spec({"action": "isolatePods"}, dryRun=True))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "DryRun", "Remediated", "Failed", "AwaitingApproval")
    assert body["status"]["phase"] == "DryRun", body["status"]
    assert actions(body)[0]["result"].startswith("would isolate the pods of Deployment/web")
    assert cluster.writes(resource="networkpolicies", since=mark) == []
    assert network_policies(cluster) == {}


def test_a_policy_that_would_isolate_automatically_is_refused_naming_the_field(
    cluster: Cluster, operator: OperatorThread
) -> None:
    with pytest.raises(client.ApiException) as refused:
        cluster.policy(
            "isolate",
            policy_spec({"action": "isolatePods"}, approval={"P2": {"mode": "auto"}}),
        )
    assert refused.value.status in (400, 422)
    assert "approval.P2.mode" in str(refused.value.body)


# ------------------------------------------------------------------------- notify
def test_notify_step_posts_the_incident_as_slack_compatible_json(
    cluster: Cluster, operator: OperatorThread, receiver: Receiver
) -> None:
    cluster.deployment("web")
    secret(cluster, receiver.url)
    step = {
        "action": "notify",
        "webhookSecretRef": {"name": "incident-webhook", "key": "url"},
        "message": "stakeholders notified",
    }
    cluster.policy("tell", policy_spec({"action": "restartPods"}, step))
    cluster.incident("inc-1", incident_spec(summary="web 5xx at 9%"))
    body = cluster.remediated("inc-1")
    [message] = receiver.wait(1)
    assert message["text"] == ("[P2] HighErrorRate in shop: web 5xx at 9% — stakeholders notified")
    assert message["incident"] == "shop/inc-1"
    assert (message["namespace"], message["severity"], message["phase"]) == (
        "shop",
        "P2",
        "Remediating",
    )
    assert (message["policy"], message["event"]) == ("tell", "step-1")
    assert message["plan"]["hash"] == body["status"]["plan"]["hash"]
    assert [(a["action"], a["state"]) for a in message["actions"]] == [
        ("restartPods", "Applied"),
        ("notify", "Applying"),
    ]
    assert actions(body)[1]["state"] == "Applied"
    assert "T0KEN" not in actions(body)[1]["result"]  # the URL's secret part is not shown
    assert "(HTTP 200)" in actions(body)[1]["result"]


def test_notify_step_dry_run_posts_nothing(
    cluster: Cluster, operator: OperatorThread, receiver: Receiver
) -> None:
    cluster.deployment("web")
    secret(cluster, receiver.url)
    step = {"action": "notify", "webhookSecretRef": {"name": "incident-webhook", "key": "url"}}
    cluster.policy("tell", policy_spec(step, dryRun=True))
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "DryRun", "Remediated", "Failed")
    assert body["status"]["phase"] == "DryRun", body["status"]
    assert actions(body)[0]["result"].startswith("would notify http://127.0.0.1:")
    time.sleep(0.3)
    assert receiver.received == []


def test_notify_step_without_its_secret_fails_the_incident(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web")
    step = {"action": "notify", "webhookSecretRef": {"name": "missing", "key": "url"}}
    cluster.policy("tell", policy_spec(step))
    cluster.incident("inc-1", incident_spec())
    body = cluster.wait_phase("inc-1", "Failed", "Remediated")
    assert body["status"]["phase"] == "Failed"
    assert timeline(body)[-1] == "SecretNotFound"


def test_escalations_are_notified_and_a_failing_webhook_never_blocks(
    cluster: Cluster, start_operator: Callable[..., OperatorThread], receiver: Receiver
) -> None:
    start_operator(notify_attempts=2)
    cluster.deployment("web")
    secret(cluster, receiver.url)
    notifications = {
        "webhookSecretRef": {"name": "incident-webhook", "key": "url"},
        "events": ["AwaitingApproval", "Escalated"],
    }
    # no Prometheus is configured: the verification cannot answer and escalates
    verify = {"query": "up", "operator": ">", "threshold": 0, "within": "1s", "interval": "1s"}
    cluster.policy(
        "restart",
        policy_spec({"action": "restartPods"}, verify=verify, notifications=notifications),
    )
    cluster.incident("inc-1", incident_spec(severity="P1"))
    cluster.wait_phase("inc-1", "AwaitingApproval")
    [waiting] = receiver.wait(1)
    assert (waiting["phase"], waiting["event"]) == ("AwaitingApproval", "AwaitingApproval")
    assert waiting["text"].startswith(
        "[P1] Incident shop/inc-1 (HighErrorRate) is AwaitingApproval"
    )
    assert waiting["respondBy"]
    cluster.approve("inc-1", "alice")
    body = cluster.wait_phase("inc-1", "Escalated", "Remediated", "Failed", timeout=20)
    assert body["status"]["phase"] == "Escalated", body["status"]
    escalated = receiver.wait(2)[1]
    assert (escalated["phase"], escalated["event"], escalated["reason"]) == (
        "Escalated",
        "Escalated",
        "PrometheusUnavailable",
    )
    assert escalated["actions"][0]["state"] == "Applied"
    cluster.event_reasons(body, "NotificationSent", "NotificationSent")

    # the receiver now fails: the incident goes on, the failure is in the timeline
    receiver.status = 500
    cluster.deployment("api")
    cluster.incident("inc-2", incident_spec(deployment="api", severity="P1"))
    body = cluster.wait_phase("inc-2", "AwaitingApproval")
    body = cluster.wait_for(
        "the failed notification in the timeline",
        lambda: (
            (b := cluster.get("incidents", "inc-2")) and "NotificationFailed" in timeline(b) and b
        ),
    )
    assert body["status"]["phase"] == "AwaitingApproval"
    [entry] = [e for e in body["status"]["timeline"] if e["reason"] == "NotificationFailed"]
    assert "answered 500" in entry["message"]
    assert "T0KEN" not in entry["message"]
    assert len(receiver.received) == 2 + 2  # both attempts reached the receiver


# -------------------------------------------------------------- fall through
def test_rollback_only_after_a_recent_deployment_else_the_next_policy_restarts(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment("web")  # one revision: nothing to roll back to
    cluster.policy(
        "rollback",
        policy_spec({"action": "rollback", "onlyIfRolledOutWithin": "1h"}, priority=50),
    )
    cluster.policy("restart", policy_spec({"action": "restartPods"}, priority=10))
    cluster.incident("inc-1", incident_spec())
    body = cluster.remediated("inc-1")
    assert body["status"]["policy"] == "restart"
    matched = next(e for e in body["status"]["timeline"] if e["reason"] == "Matched")
    assert "policy rollback does not apply (NoPreviousRevision" in matched["message"]
