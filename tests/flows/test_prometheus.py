"""PromQL preconditions and verification, against the real Prometheus binary.

One Prometheus per module (Debian's package, `make debs`), on loopback with its own config
and data folder, scraping every second a tiny exporter served by the test: each test sets
its own gauge, waits until Prometheus answers with that value, and lets the real operator
ask Prometheus before acting (preconditions) and after (verify).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kube_emulator import Sandbox
from remediator_devtools.testing import OperatorThread
from support.policies import SCALE, incident_spec, policy_spec
from support.ports import free_port

from .conftest import NS, Cluster, actions, timeline, told
from .promstack import PROMETHEUS, Prometheus, run_prometheus

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="the prometheus binary is not installed (Debian package `prometheus`: `make debs` "
    "as root installs it)",
)
StartOperator = Callable[..., OperatorThread]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with run_prometheus(tmp_path_factory.mktemp("prometheus")) as server:
        yield server


def check(query: str, operator: str, threshold: float, **extra: Any) -> dict[str, Any]:
    return {"query": query, "operator": operator, "threshold": threshold, **extra}


def replicas(cluster: Cluster, name: str = "web") -> int:
    value: int = cluster.apps.read_namespaced_deployment(name, NS).spec.replicas
    return value


def condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in body["status"]["conditions"] if c["type"] == kind)


def scale_web(cluster: Cluster, *steps: dict[str, Any], **policy: Any) -> int:
    """Deployment web at 2 replicas, a policy scaling it to 5 (then `steps`) with `policy`
    (its guards, its verify), and the incident inc-1; returns the write mark before it."""
    cluster.deployment("web", replicas=2)
    cluster.policy("scale", policy_spec(SCALE, *steps, **policy))
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    return mark


# ---------------------------------------------------------------------- preconditions
def test_precondition_that_holds_lets_the_action_run(
    cluster: Cluster, prometheus: Prometheus, start_operator: StartOperator
) -> None:
    metric = prometheus.set("pre_holds_error_ratio", 0.9)
    start_operator(prometheus_url=prometheus.url)
    guards = {"preconditions": [check(metric, ">", 0.5, description="errors are high")]}
    scale_web(cluster, guards=guards)
    body = cluster.remediated("inc-1")
    assert replicas(cluster) == 5
    assert timeline(body) == ["Matched", "AutoApproved", "ActionApplied", "Remediated"]
    cluster.event_reasons(body, "PreconditionsMet")
    [event] = [e for e in cluster.events(body) if "PreconditionsMet" in told(e)]
    # told with the decision to act, in the Event of the write made before the action
    assert told(event) == ["Matched", "PreconditionsMet", "AutoApproved"]
    assert (
        f"PreconditionsMet: preconditions hold: errors are high ({metric} > 0.5): 0.9 (1 series)"
        in event.message
    )


@pytest.mark.parametrize(
    ("value", "query", "reason", "message"),
    [
        (0.1, "{metric}", "PreconditionFailed", "does not hold: observed 0.1 (1 series)"),
        (0.9, "{metric}_absent", "PreconditionFailed", "does not hold: observed no data"),
        (0.9, "sum({metric}", "PromQLError", "parse error"),
    ],
    ids=["value", "no-data", "bad-query"],
)
def test_precondition_that_does_not_hold_blocks_and_changes_nothing(
    cluster: Cluster,
    prometheus: Prometheus,
    start_operator: StartOperator,
    value: float,
    query: str,
    reason: str,
    message: str,
) -> None:
    metric = prometheus.set("pre_fails_error_ratio", value)
    start_operator(prometheus_url=prometheus.url)
    guards = {"preconditions": [check(query.format(metric=metric), ">", 0.5)]}
    mark = scale_web(cluster, guards=guards)
    body = cluster.blocked("inc-1")
    assert timeline(body) == ["Matched", reason]
    assert message in body["status"]["message"]
    assert body["status"]["message"].endswith("nothing was changed")
    assert cluster.writes(resource="deployments", since=mark) == []
    assert replicas(cluster) == 2
    cluster.event_reasons(body, reason)


@pytest.mark.parametrize("configured", [True, False], ids=["unreachable", "not-configured"])
def test_precondition_without_prometheus_fails_closed(
    cluster: Cluster, start_operator: StartOperator, configured: bool
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    start_operator(prometheus_url=closed if configured else None)
    guards = {"preconditions": [check("error_ratio", ">", 0.5)]}
    mark = scale_web(cluster, guards=guards)
    body = cluster.blocked("inc-1")
    assert timeline(body) == ["Matched", "PrometheusUnavailable"]
    expected = (
        f"Prometheus at {closed} unreachable: connection refused"
        if configured
        else "no Prometheus is configured (--prometheus-url)"
    )
    assert expected in body["status"]["message"]
    assert cluster.writes(resource="deployments", since=mark) == []
    assert replicas(cluster) == 2


# ----------------------------------------------------------------------- verification
def test_verification_passes_once_the_metric_recovers(
    cluster: Cluster, prometheus: Prometheus, start_operator: StartOperator
) -> None:
    metric = prometheus.set("verify_passes_error_ratio", 0.9)
    start_operator(prometheus_url=prometheus.url)
    verify = check(metric, "<", 0.5, within="20s", interval="1s")
    scale_web(cluster, verify=verify)
    body = cluster.wait_phase("inc-1", "Verifying", "Remediated", "Escalated", "Failed")
    assert body["status"]["phase"] == "Verifying", body["status"]
    assert replicas(cluster) == 5
    assert condition(body, "Verified")["status"] == "Unknown"
    verification = body["status"]["verification"]
    assert verification["check"]["query"] == metric
    cluster.wait_for(
        "a failing poll",
        lambda: (
            (cluster.get("incidents", "inc-1")["status"].get("verification") or {}).get("checks", 0)
            >= 1
        ),
    )
    assert cluster.get("incidents", "inc-1")["status"]["verification"]["observed"] == (
        "0.9 (1 series)"
    )

    prometheus.set(metric, 0.1)  # the remediation worked
    body = cluster.wait_phase("inc-1", "Remediated", "Escalated", "Failed")
    assert body["status"]["phase"] == "Remediated", body["status"]
    verified = condition(body, "Verified")
    assert (verified["status"], verified["reason"]) == ("True", "Verified")
    assert f"{metric} < 0.5 holds, observed 0.1 (1 series)" in verified["message"]
    assert condition(body, "Remediated")["status"] == "True"
    assert timeline(body)[-3:] == ["ActionApplied", "Verifying", "Verified"]
    assert actions(body)[0]["state"] == "Applied"
    assert replicas(cluster) == 5  # nothing reverted
    cluster.event_reasons(body, "Verifying", "Verified")


def test_verification_that_never_passes_escalates_and_reverts(
    cluster: Cluster, prometheus: Prometheus, start_operator: StartOperator
) -> None:
    metric = prometheus.set("verify_fails_error_ratio", 0.9)
    start_operator(prometheus_url=prometheus.url)
    cluster.configmap("payments-flags", {"carrier-a": "closed", "carrier-b": "closed"})
    breaker = {"action": "circuitBreaker", "configMap": "payments-flags", "key": "carrier-a"}
    verify = check(metric, "<", 0.5, within="3s", interval="1s")
    scale_web(cluster, {**breaker, "value": "open"}, verify=verify)
    body = cluster.wait_phase("inc-1", "Verifying", "Remediated", "Escalated", "Failed")
    assert replicas(cluster) == 5
    assert cluster.configmap_data("payments-flags")["carrier-a"] == "open"

    body = cluster.wait_phase("inc-1", "Escalated", "Remediated", "Failed", timeout=10)
    assert body["status"]["phase"] == "Escalated", body["status"]
    message = body["status"]["message"]
    assert f"{metric} < 0.5 did not hold within 3s" in message
    assert "last observed: 0.9 (1 series)" in message
    assert "reverted: carrier-a in ConfigMap payments-flags restored to closed" in message
    assert "Deployment/web scaled back to 2" in message
    verified = condition(body, "Verified")
    assert (verified["status"], verified["reason"]) == ("False", "VerificationFailed")
    assert replicas(cluster) == 2
    assert cluster.configmap_data("payments-flags") == {
        "carrier-a": "closed",
        "carrier-b": "closed",
    }
    assert [a["state"] for a in actions(body)] == ["Reverted", "Reverted"]
    assert timeline(body)[-4:] == [
        "Verifying",
        "ActionReverted",
        "ActionReverted",
        "VerificationFailed",
    ]
    cluster.event_reasons(body, "ActionReverted", "ActionReverted", "VerificationFailed")


def test_verification_with_prometheus_unreachable_escalates_without_reverting(
    cluster: Cluster, start_operator: StartOperator
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    start_operator(prometheus_url=closed)
    # 3s: a poll with its client's retries takes up to ~1s here; the first must end before
    # the deadline for the outage to be noted once before the escalation
    verify = check("error_ratio", "<", 0.5, within="3s", interval="1s")
    scale_web(cluster, verify=verify)
    body = cluster.wait_phase("inc-1", "Escalated", "Remediated", "Failed", timeout=10)
    assert body["status"]["phase"] == "Escalated", body["status"]
    assert timeline(body)[-3:] == ["Verifying", "PrometheusUnavailable", "PrometheusUnavailable"]
    assert body["status"]["message"].startswith("could not verify error_ratio < 0.5 within 3s")
    assert "connection refused" in body["status"]["message"]
    assert condition(body, "Verified")["reason"] == "PrometheusUnavailable"
    assert actions(body)[0]["state"] == "Applied"
    assert replicas(cluster) == 5  # an unanswered check is no reason to change it again


@pytest.mark.emulator_only(reason="the 403s are injected inside the emulator")
def test_a_revert_refused_for_now_at_escalation_is_tried_again_until_done(
    cluster: Cluster, prometheus: Prometheus, start_operator: StartOperator
) -> None:
    """A kube-apiserver that has just restarted answers 403 for a few seconds: the revert of
    a failed verification is then made due at once, and retried until it is done."""
    metric = prometheus.set("verify_revert_refused_error_ratio", 0.9)
    start_operator(prometheus_url=prometheus.url)
    scale_web(cluster, verify=check(metric, "<", 0.5, within="2s", interval="1s"))
    cluster.wait_phase("inc-1", "Verifying", "Remediated", "Escalated", "Failed")
    assert replicas(cluster) == 5
    assert isinstance(cluster.box, Sandbox)
    cluster.box.faults.add(verb="patch", resource="deployments/scale", status=403, count=3)

    body = cluster.wait_phase("inc-1", "Escalated", "Remediated", "Failed", timeout=10)
    assert body["status"]["phase"] == "Escalated", body["status"]
    assert "revert of Deployment/web deferred" in body["status"]["message"]
    body = cluster.reverted("inc-1", timeout=20)
    assert replicas(cluster) == 2
    assert "Deployment/web scaled back to 2" in actions(body)[0]["result"]
    assert timeline(body)[-4:] == [
        "ActionDeferred",
        "VerificationFailed",
        "ActionDeferred",  # the ticker's retries, refused twice more: told once
        "ActionReverted",
    ]


def test_a_revert_whose_target_is_gone_says_so_and_fails_nothing(
    cluster: Cluster, prometheus: Prometheus, start_operator: StartOperator
) -> None:
    metric = prometheus.set("verify_target_gone_error_ratio", 0.9)
    start_operator(prometheus_url=prometheus.url)
    scale_web(cluster, verify=check(metric, "<", 0.5, within="2s", interval="1s"))
    cluster.wait_phase("inc-1", "Verifying", "Remediated", "Escalated", "Failed")
    cluster.apps.delete_namespaced_deployment("web", NS)

    body = cluster.wait_phase("inc-1", "Escalated", "Remediated", "Failed", timeout=10)
    assert body["status"]["phase"] == "Escalated", body["status"]
    assert "Deployment/web is gone; nothing to scale back" in body["status"]["message"]
    assert "revert failed" not in actions(body)[0]["result"]
    assert "ActionFailed" not in timeline(body)
