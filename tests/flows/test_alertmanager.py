"""Prometheus → Alertmanager → bridge → Incident → operator, with the real binaries.

One stack per module (Debian's packages, `make debs`), on loopback with its own configs and
data folders: Prometheus scrapes a tiny exporter the test controls every second and
evaluates alerting rules (`for: 0s`) every second; it sends to two Alertmanagers, which
post (group_wait 1s, group_interval 1s, `send_resolved`) to the bridge served by the real
operator, authenticated with a bearer token read from a file:

- `main` holds the right token; alerts named `DuplicateAlert` are re-sent every 2 s
  (a short `repeat_interval`), `WrongTokenAlert` goes nowhere;
- `wrong` holds a wrong token, and notifies only about `WrongTokenAlert`.

Every test uses its own alert (rule and metric), and the cluster and operator are new for
each test; the bridge's port is the module's, so the Alertmanagers' config stays valid.
A test leaves its alert resolved and the resolution delivered, so that nothing of it
reaches the next test's cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from remediator.bridge import BridgeConfig
from remediator_devtools.testing import OperatorThread
from support.policies import SCALE, policy_spec

from .conftest import NS, Cluster, actions, timeline
from .promstack import (
    ALERTMANAGER,
    PROMETHEUS,
    Alertmanager,
    Prometheus,
    free_port,
    run_alertmanager,
    run_prometheus,
)

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or ALERTMANAGER is None,
    reason="the prometheus and prometheus-alertmanager binaries are not both installed "
    "(Debian packages `prometheus` and `prometheus-alertmanager`: `make debs` as root "
    "installs them)",
)
StartOperator = Callable[..., OperatorThread]
TOKEN = "flow-tests-bridge-token"
BAD, GOOD = 0.9, 0.1
THRESHOLD = 0.5

# alert name → the gauge its rule watches
ALERTS = {
    "EndToEndAlert": "am_e2e_error_ratio",
    "VerifyFailsAlert": "am_verify_fails_error_ratio",
    "DuplicateAlert": "am_duplicate_error_ratio",
    "WrongTokenAlert": "am_wrong_token_error_ratio",
}
SERIES_LABELS = {"namespace": NS, "deployment": "web"}


@dataclass
class Stack:
    prometheus: Prometheus
    main: Alertmanager
    wrong: Alertmanager
    bridge_port: int

    @property
    def bridge(self) -> BridgeConfig:
        return BridgeConfig(token=TOKEN, port=self.bridge_port, allowed_namespaces=frozenset({NS}))

    def set(self, alertname: str, value: float) -> None:
        self.prometheus.set(ALERTS[alertname], value, labels=SERIES_LABELS)


def rule(alertname: str) -> dict[str, Any]:
    return {
        "alert": alertname,
        "expr": f"{ALERTS[alertname]} > {THRESHOLD}",
        "for": "0s",
        "labels": {"severity": "warning"},
        "annotations": {"summary": f"{alertname}: errors above {THRESHOLD:.0%}"},
    }


def webhook(url: str, credentials_file: Path) -> dict[str, Any]:
    return {
        "url": url,
        "send_resolved": True,
        "max_alerts": 0,
        "http_config": {
            "authorization": {"type": "Bearer", "credentials_file": str(credentials_file)}
        },
    }


def route(receiver: str, **extra: Any) -> dict[str, Any]:
    return {
        "receiver": receiver,
        "group_by": ["alertname"],
        "group_wait": "1s",
        "group_interval": "1s",
        "repeat_interval": "1h",
        **extra,
    }


def only(alertname: str) -> list[str]:
    return [f'alertname="{alertname}"']


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("alerting")
    bridge_port = free_port()
    url = f"http://127.0.0.1:{bridge_port}/alerts"
    (folder / "token").write_text(TOKEN + "\n")
    (folder / "wrong-token").write_text("not-the-bridge-token\n")
    main_config = {
        "route": route(
            "bridge",
            routes=[
                {"matchers": only("DuplicateAlert"), "repeat_interval": "2s"},
                {"matchers": only("WrongTokenAlert"), "receiver": "nowhere"},
            ],
        ),
        "receivers": [
            {"name": "bridge", "webhook_configs": [webhook(url, folder / "token")]},
            {"name": "nowhere"},
        ],
    }
    wrong_config = {
        "route": route(
            "nowhere",
            routes=[{"matchers": only("WrongTokenAlert"), "receiver": "bridge"}],
        ),
        "receivers": [
            {"name": "bridge", "webhook_configs": [webhook(url, folder / "wrong-token")]},
            {"name": "nowhere"},
        ],
    }
    with (
        run_alertmanager(folder / "main", main_config) as main,
        run_alertmanager(folder / "wrong", wrong_config) as wrong,
        run_prometheus(
            folder / "prometheus",
            rules=[rule(name) for name in ALERTS],
            alertmanagers=[main.url.removeprefix("http://"), wrong.url.removeprefix("http://")],
        ) as prometheus,
    ):
        stack = Stack(prometheus, main, wrong, bridge_port)
        for name in ALERTS:  # all in one scrape, then each seen
            prometheus.exporter.labels[ALERTS[name]] = SERIES_LABELS
            prometheus.exporter.gauges[ALERTS[name]] = GOOD
        for name in ALERTS:
            stack.set(name, GOOD)
        yield stack


def replicas(cluster: Cluster, name: str = "web") -> int:
    value: int = cluster.apps.read_namespaced_deployment(name, NS).spec.replicas
    return value


def condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in body["status"]["conditions"] if c["type"] == kind)


def incidents_of(cluster: Cluster, alertname: str) -> list[dict[str, Any]]:
    items = cluster.custom.list_namespaced_custom_object(
        "remediator.dev", "v1alpha1", NS, "incidents"
    )["items"]
    return [i for i in items if i["spec"].get("alertname") == alertname]


def the_incident(cluster: Cluster, alertname: str, timeout: float = 15) -> dict[str, Any]:
    """The Incident the bridge created for `alertname` (waits for it; fails if several)."""
    found: list[dict[str, Any]] = cluster.wait_for(
        f"the Incident of {alertname}", lambda: incidents_of(cluster, alertname), timeout
    )
    assert len(found) == 1, [i["metadata"]["name"] for i in found]
    return found[0]


def resolved_delivered(cluster: Cluster, name: str, timeout: float = 15) -> dict[str, Any]:
    """Wait until Alertmanager's resolution has reached the Incident."""
    body: dict[str, Any] = cluster.wait_for(
        f"the resolution of {name}",
        lambda: (
            (b := cluster.get("incidents", name))["spec"].get("alertStatus") == "resolved" and b
        ),
        timeout,
    )
    return body


def incident_creates(cluster: Cluster) -> int:
    """Create requests for Incidents the API answered, accepted or not (409): deliveries."""
    return cluster.box.request_counts().get(("create", "remediator.dev", "incidents"), 0)


def when(record_time: float) -> datetime:
    return datetime.fromtimestamp(record_time).astimezone()


def verify_check(alertname: str, within: str) -> dict[str, Any]:
    return {
        "query": ALERTS[alertname],
        "operator": "<",
        "threshold": THRESHOLD,
        "within": within,
        "interval": "1s",
    }


# ---------------------------------------------------------------------------- scenarios
def test_end_to_end_alert_action_verification_resolution(
    cluster: Cluster,
    stack: Stack,
    start_operator: StartOperator,
    capsys: pytest.CaptureFixture[str],
    record_property: Callable[[str, object], None],
) -> None:
    alertname = "EndToEndAlert"
    start_operator(prometheus_url=stack.prometheus.url, bridge=stack.bridge)
    cluster.deployment("web", replicas=2)
    cluster.policy(
        "scale-on-errors",
        policy_spec(SCALE, alert=alertname, verify=verify_check(alertname, "30s")),
    )
    mark = cluster.mark()

    stack.set(alertname, BAD)  # the rule fires
    incident = the_incident(cluster, alertname)
    name = incident["metadata"]["name"]
    spec = incident["spec"]
    assert incident["metadata"]["namespace"] == NS  # from the alert's namespace label
    assert (spec["source"], spec["severity"], spec["alertStatus"]) == (
        "alertmanager",
        "P2",  # severity="warning"
        "firing",
    )
    assert spec["labels"]["deployment"] == "web"
    assert spec["labels"]["severity"] == "warning"
    assert spec["summary"] == f"{alertname}: errors above 50%"
    assert spec["annotations"]["summary"] == spec["summary"]

    body = cluster.wait_phase(name, "Verifying", "Remediated", "Escalated", "Failed")
    assert body["status"]["phase"] == "Verifying", body["status"]
    assert replicas(cluster) == 5

    stack.set(alertname, GOOD)  # the remediation worked: the metric recovers
    body = cluster.wait_phase(name, "Resolved", "Escalated", "Failed", timeout=20)
    assert body["status"]["phase"] == "Resolved", body["status"]
    assert body["spec"]["alertStatus"] == "resolved"  # Alertmanager sent the resolution
    verified = condition(body, "Verified")
    assert (verified["status"], verified["reason"]) == ("True", "Verified")
    assert f"{ALERTS[alertname]} < 0.5 holds" in verified["message"]
    assert condition(body, "Remediated")["status"] == "True"
    reasons = timeline(body)
    assert reasons[:2] == ["Matched", "AutoApproved"]
    assert reasons.index("ActionApplied") < reasons.index("Verified") < reasons.index("Resolved")
    assert [a["state"] for a in actions(body)] == ["Applied"]
    assert replicas(cluster) == 5  # kept: nothing reverted

    [created] = cluster.writes(verb="create", resource="incidents", since=mark)
    assert created.name == name
    [scaled] = cluster.writes(resource="deployments", name="web", since=mark)  # exactly once
    pipeline = (when(created.time) - datetime.fromisoformat(spec["startsAt"])).total_seconds()
    action = scaled.time - created.time
    record_property("alert_to_incident_seconds", round(pipeline, 3))
    record_property("incident_to_action_seconds", round(action, 3))
    with capsys.disabled():  # shown without -s
        print(
            f"\n[alertmanager e2e] rule firing (startsAt) -> Incident persisted by the bridge: "
            f"{pipeline:.3f} s; bridge -> Deployment patched ({scaled.verb} "
            f"{scaled.subresource or 'object'}): {action * 1000:.0f} ms"
        )


def test_verification_that_fails_escalates_and_reverts(
    cluster: Cluster, stack: Stack, start_operator: StartOperator
) -> None:
    alertname = "VerifyFailsAlert"
    start_operator(prometheus_url=stack.prometheus.url, bridge=stack.bridge)
    cluster.deployment("web", replicas=2)
    cluster.configmap("payments-flags", {"carrier-a": "closed", "carrier-b": "closed"})
    breaker = {
        "action": "circuitBreaker",
        "configMap": "payments-flags",
        "key": "carrier-a",
        "value": "open",
    }
    cluster.policy(
        "scale-and-break",
        policy_spec(SCALE, breaker, alert=alertname, verify=verify_check(alertname, "3s")),
    )
    mark = cluster.mark()

    stack.set(alertname, BAD)  # and it stays bad
    name = the_incident(cluster, alertname)["metadata"]["name"]
    body = cluster.wait_phase(name, "Escalated", "Remediated", "Resolved", "Failed", timeout=20)
    assert body["status"]["phase"] == "Escalated", body["status"]
    message = body["status"]["message"]
    assert f"{ALERTS[alertname]} < 0.5 did not hold within 3s" in message
    assert f"last observed: {BAD} (1 series)" in message
    verified = condition(body, "Verified")
    assert (verified["status"], verified["reason"]) == ("False", "VerificationFailed")
    assert [a["state"] for a in actions(body)] == ["Reverted", "Reverted"]
    assert timeline(body)[-1] == "VerificationFailed"
    assert replicas(cluster) == 2
    assert cluster.configmap_data("payments-flags")["carrier-a"] == "closed"
    # applied, then reverted: two writes to each target
    assert len(cluster.writes(resource="deployments", name="web", since=mark)) == 2
    assert len(cluster.writes(resource="configmaps", name="payments-flags", since=mark)) == 2
    assert len(cluster.writes(verb="create", resource="incidents", since=mark)) == 1

    stack.set(alertname, GOOD)
    body = resolved_delivered(cluster, name)
    assert body["status"]["phase"] == "Escalated"  # a resolution does not undo an escalation


def test_the_same_alert_delivered_twice_makes_one_incident(
    cluster: Cluster,
    stack: Stack,
    start_operator: StartOperator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alertname = "DuplicateAlert"  # re-sent every 2 s by the main Alertmanager
    start_operator(prometheus_url=stack.prometheus.url, bridge=stack.bridge)
    cluster.deployment("web", replicas=2)
    cluster.policy("scale", policy_spec(SCALE, alert=alertname))
    mark = cluster.mark()
    creates = incident_creates(cluster)
    sent = stack.main.metric("alertmanager_notifications_total", integration="webhook")

    stack.set(alertname, BAD)
    name = the_incident(cluster, alertname)["metadata"]["name"]
    cluster.wait_for(
        "Alertmanager's resends to reach the bridge",
        lambda: incident_creates(cluster) - creates >= 2,
        timeout=15,
    )
    resends = stack.main.metric("alertmanager_notifications_total", integration="webhook") - sent
    assert resends >= 2
    body = cluster.wait_phase(name, "Remediated", "Escalated", "Failed")
    assert body["status"]["phase"] == "Remediated", body["status"]
    assert [i["metadata"]["name"] for i in incidents_of(cluster, alertname)] == [name]
    [created] = cluster.writes(verb="create", resource="incidents", since=mark)
    assert created.name == name
    assert len(cluster.writes(resource="deployments", name="web", since=mark)) == 1
    assert replicas(cluster) == 5
    with capsys.disabled():
        print(
            f"\n[alertmanager duplicates] {incident_creates(cluster) - creates} deliveries "
            f"({resends:.0f} webhook notifications) -> 1 Incident, 1 action"
        )

    stack.set(alertname, GOOD)
    body = resolved_delivered(cluster, name)
    assert cluster.wait_phase(name, "Resolved")["status"]["phase"] == "Resolved"


def test_a_wrong_token_gets_401_and_creates_nothing(
    cluster: Cluster, stack: Stack, start_operator: StartOperator
) -> None:
    alertname = "WrongTokenAlert"  # notified by the `wrong` Alertmanager only
    start_operator(bridge=stack.bridge)
    mark = cluster.mark()
    creates = incident_creates(cluster)
    failed = stack.wrong.metric("alertmanager_notifications_failed_total", integration="webhook")
    main_failed = stack.main.metric(
        "alertmanager_notifications_failed_total", integration="webhook"
    )
    log_size = stack.wrong.log.stat().st_size

    stack.set(alertname, BAD)
    cluster.wait_for(
        "failed webhook notifications",
        lambda: (
            stack.wrong.metric("alertmanager_notifications_failed_total", integration="webhook")
            >= failed + 2
        ),
        timeout=15,
    )
    assert stack.wrong.alerts(alertname=alertname)  # it did hold the alert
    log = stack.wrong.log.read_bytes()[log_size:].decode(errors="replace")
    assert "unexpected status code 401" in log, log[-2000:]
    assert "unauthorized" in log, log[-2000:]
    assert (
        stack.main.metric("alertmanager_notifications_failed_total", integration="webhook")
        == main_failed
    )
    assert incidents_of(cluster, alertname) == []
    assert cluster.writes(since=mark, resource="incidents") == []
    assert incident_creates(cluster) == creates  # refused before touching the API
    stack.set(alertname, GOOD)
