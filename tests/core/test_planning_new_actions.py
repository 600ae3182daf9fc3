"""Planning of suspendCronJobs, isolatePods and notify; the isolation's approval gate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from remediator.core import gating, reasons
from remediator.core.models import Incident, RemediationPolicy, TargetRef
from remediator.core.notifications import payload
from remediator.core.planning import Observed, PlanningError, plan, select_cron_jobs

NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)
TARGET = TargetRef(kind="Deployment", name="api")
INCIDENT = Incident.model_validate(
    {
        "metadata": {"name": "inc-1", "namespace": "shop", "uid": "u-1"},
        "spec": {
            "alertname": "SecurityBreachDetected",
            "severity": "P0",
            "summary": "outbound traffic to a C2 address",
            "labels": {"deployment": "api"},
        },
    }
)
WORKLOAD = {
    "metadata": {"name": "api"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"tier": "web", "app": "api"}}},
}


def policy(*steps: dict[str, Any], **spec: Any) -> RemediationPolicy:
    return RemediationPolicy.model_validate(
        {
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": {
                "match": {"alertnames": ["SecurityBreachDetected"]},
                "target": {"kind": "Deployment", "nameFromLabel": "deployment"},
                "steps": list(steps),
                **spec,
            },
        }
    )


def cron(name: str, suspend: bool | None = None, **labels: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"schedule": "* * * * *"}
    if suspend is not None:
        spec["suspend"] = suspend
    return {"metadata": {"name": name, "labels": labels}, "spec": spec}


JOBS = (
    cron("ledger-sync", False, stop="true"),
    cron("invoice-export", True, stop="true"),
    cron("audit", None, stop="true"),
    cron("cache-warmer", False),
)


# ---------------------------------------------------------------- suspendCronJobs
def test_suspend_by_selector_records_only_the_running_ones() -> None:
    step = {"action": "suspendCronJobs", "selector": {"matchLabels": {"stop": "true"}}}
    result = plan(
        INCIDENT,
        policy({**step, "resumeAfter": "30m"}),
        TARGET,
        Observed(WORKLOAD, cron_jobs=JOBS),
        NOW,
    )
    [planned] = result.steps
    assert planned.target == "CronJobs/stop=true"
    assert planned.desired == {
        "suspend": ["audit", "ledger-sync"],
        "alreadySuspended": ["invoice-export"],
        "resumeAfterSeconds": 1800,
    }
    assert planned.summary == (
        "suspend CronJob audit, ledger-sync, resume after 30m;"
        " invoice-export already suspended, left as is"
    )


def test_suspend_by_name_and_missing_names_refuse() -> None:
    step = {"action": "suspendCronJobs", "cronJobs": ["cache-warmer"]}
    [planned] = plan(INCIDENT, policy(step), TARGET, Observed(WORKLOAD, cron_jobs=JOBS), NOW).steps
    assert planned.desired["suspend"] == ["cache-warmer"]
    assert planned.desired["resumeAfterSeconds"] is None
    with pytest.raises(PlanningError) as refused:
        plan(
            INCIDENT,
            policy({"action": "suspendCronJobs", "cronJobs": ["cache-warmer", "nope"]}),
            TARGET,
            Observed(WORKLOAD, cron_jobs=JOBS),
            NOW,
        )
    assert refused.value.reason == reasons.CRON_JOB_NOT_FOUND
    assert "nope" in refused.value.message


def test_a_selector_that_selects_nothing_refuses_and_all_suspended_plans_nothing() -> None:
    step = {"action": "suspendCronJobs", "selector": {"matchLabels": {"stop": "never"}}}
    with pytest.raises(PlanningError) as refused:
        plan(INCIDENT, policy(step), TARGET, Observed(WORKLOAD, cron_jobs=JOBS), NOW)
    assert refused.value.reason == reasons.NO_CRON_JOBS_SELECTED
    only_suspended = (cron("invoice-export", True, stop="true"),)
    step = {"action": "suspendCronJobs", "selector": {"matchLabels": {"stop": "true"}}}
    [planned] = plan(
        INCIDENT, policy(step), TARGET, Observed(WORKLOAD, cron_jobs=only_suspended), NOW
    ).steps
    assert planned.desired["suspend"] == []


def test_select_cron_jobs_is_shared_and_sorted() -> None:
    step = policy({"action": "suspendCronJobs", "cronJobs": ["b", "a"]}).spec.steps[0]
    assert [j["metadata"]["name"] for j in select_cron_jobs(step, [cron("b"), cron("a")])] == [
        "a",
        "b",
    ]


@pytest.mark.parametrize(
    "step",
    [
        {"action": "suspendCronJobs"},
        {"action": "suspendCronJobs", "cronJobs": ["a"], "selector": {"matchLabels": {"a": "b"}}},
        {"action": "suspendCronJobs", "cronJobs": ["a"], "revertAfter": "1m"},
        {"action": "notify"},
        {"action": "isolatePods", "resumeAfter": "1m"},
    ],
)
def test_fields_must_fit_the_action(step: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        policy(step, approval={"P2": {"mode": "required"}, "P3": {"mode": "required"}})


# -------------------------------------------------------------------- isolatePods
def test_isolate_plans_a_deny_all_network_policy_for_the_workload_pods() -> None:
    [planned] = plan(
        INCIDENT, policy({"action": "isolatePods"}), TARGET, Observed(WORKLOAD), NOW
    ).steps
    assert planned.target == "Deployment/api"
    assert planned.desired == {
        "networkPolicy": "remediator-isolate-api",
        "spec": {
            "podSelector": {"matchLabels": {"app": "api", "tier": "web"}},
            "policyTypes": ["Ingress", "Egress"],
        },
        "revertAfterSeconds": None,
    }
    assert "stays until a human removes it" in planned.summary
    [timed] = plan(
        INCIDENT,
        policy({"action": "isolatePods", "revertAfter": "2h"}),
        TARGET,
        Observed(WORKLOAD),
        NOW,
    ).steps
    assert timed.desired["revertAfterSeconds"] == 7200


def test_isolate_refuses_a_workload_without_match_labels() -> None:
    workload = {"metadata": {"name": "api"}, "spec": {"selector": {}}}
    with pytest.raises(PlanningError) as refused:
        plan(INCIDENT, policy({"action": "isolatePods"}), TARGET, Observed(workload), NOW)
    assert refused.value.reason == reasons.INVALID_TARGET


@pytest.mark.parametrize("severity", ["P0", "P1", "P2", "P3"])
def test_isolation_is_refused_on_auto_naming_the_field(severity: str) -> None:
    with pytest.raises(ValidationError) as refused:
        policy({"action": "isolatePods"}, approval={severity: {"mode": "auto"}})
    assert f"approval.{severity}.mode" in str(refused.value)


def test_isolation_is_always_gated_even_where_the_default_is_auto() -> None:
    isolating = policy({"action": "isolatePods"}, approval={"P3": {"mode": "notifyOnly"}})
    assert gating.approval_rule(isolating, "P2").mode == "required"
    assert gating.approval_rule(isolating, "P0").mode == "required"
    assert gating.approval_rule(isolating, "P3").mode == "notifyOnly"  # changes nothing
    restarting = policy({"action": "restartPods"})
    assert gating.approval_rule(restarting, "P2").mode == "auto"


# ------------------------------------------------------------------------- notify
def test_notify_plans_the_text_and_the_secret_reference_only() -> None:
    step = {
        "action": "notify",
        "webhookSecretRef": {"name": "incident-webhook", "key": "url"},
        "message": "stakeholders notified",
    }
    # no workload is needed for a notification
    [planned] = plan(INCIDENT, policy(step), TARGET, Observed(None), NOW).steps
    assert planned.target == "Webhook/incident-webhook"
    assert planned.desired == {
        "webhookSecretRef": {"name": "incident-webhook", "key": "url"},
        "text": "[P0] SecurityBreachDetected in shop: outbound traffic to a C2 address"
        " — stakeholders notified",
    }


def test_the_payload_carries_the_structured_fields() -> None:
    message = payload(INCIDENT, event="Escalated", text="hello", reason="R", message="m")
    assert message["text"] == "hello"
    assert {k: message[k] for k in ("incident", "namespace", "severity", "phase", "event")} == {
        "incident": "shop/inc-1",
        "namespace": "shop",
        "severity": "P0",
        "phase": "Pending",
        "event": "Escalated",
    }
    assert message["plan"] is None and message["actions"] == []
    assert message["dedupKey"] == "u-1/-/Escalated"


def test_manual_revert_annotation_silences_the_breaker_warning() -> None:
    from remediator.core.lint import Document, lint

    body: dict[str, Any] = {
        "apiVersion": "remediator.dev/v1alpha1",
        "kind": "RemediationPolicy",
        "metadata": {"name": "maintenance"},
        "spec": {
            "match": {"alertnames": ["DataIntegrityViolation"]},
            "target": {"kind": "Deployment", "nameFromLabel": "deployment", "names": ["api"]},
            "steps": [{"action": "circuitBreaker", "configMap": "flags", "key": "maintenance"}],
        },
    }
    warned = lint([Document("p.yaml", 0, body)])
    assert [f.rule for f in warned.findings] == ["circuit-breaker-without-revert"]
    body["metadata"]["annotations"] = {"remediator.dev/manual-revert": "true"}
    assert lint([Document("p.yaml", 0, body)]).findings == []
