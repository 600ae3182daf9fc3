"""Which workload a remediation acts on, and the refusals that name the field at fault."""

from __future__ import annotations

from typing import Any

import pytest

from remediator.core import reasons
from remediator.core.models import Incident, RemediationPolicy
from remediator.core.targets import TargetError, resolve_target, selects, workload_selector


def incident(labels: dict[str, str], target: dict[str, str] | None = None) -> Incident:
    spec: dict[str, Any] = {"alertname": "HighErrorRate", "severity": "P2", "labels": labels}
    if target is not None:
        spec["target"] = target
    return Incident.model_validate({"metadata": {"name": "inc", "namespace": "shop"}, "spec": spec})


def policy(target: dict[str, str]) -> RemediationPolicy:
    return RemediationPolicy.model_validate(
        {
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": {"match": {}, "target": target, "steps": [{"action": "restartPods"}]},
        }
    )


BY_LABEL = {"nameFromLabel": "deployment"}


@pytest.mark.parametrize(
    ("labels", "explicit", "policy_target", "expected"),
    [
        pytest.param(
            {"deployment": "checkout"}, None, BY_LABEL, ("Deployment", "checkout"), id="label"
        ),
        pytest.param(
            {"statefulset": "db-0x"},
            None,
            {"kind": "StatefulSet", "nameFromLabel": "statefulset"},
            ("StatefulSet", "db-0x"),
            id="label, StatefulSet",
        ),
        pytest.param({}, None, {"name": "worker"}, ("Deployment", "worker"), id="fixed name"),
        pytest.param(
            {"deployment": "checkout"},
            {"kind": "Deployment", "name": "cart"},
            BY_LABEL,
            ("Deployment", "cart"),
            id="explicit target wins",
        ),
        pytest.param(
            {"deployment": "a" * 63}, None, BY_LABEL, ("Deployment", "a" * 63), id="63 chars"
        ),
    ],
)
def test_the_target_comes_from_the_incident_or_the_policy(
    labels: dict[str, str],
    explicit: dict[str, str] | None,
    policy_target: dict[str, str],
    expected: tuple[str, str],
) -> None:
    target = resolve_target(incident(labels, explicit), policy(policy_target))
    assert (target.kind, target.name) == expected


@pytest.mark.parametrize(
    ("labels", "explicit", "reason", "fragment"),
    [
        pytest.param(
            {"app": "checkout"},
            None,
            reasons.TARGET_LABEL_MISSING,
            'incident has no label "deployment" (policy spec.target.nameFromLabel)',
            id="label missing",
        ),
        pytest.param(
            {"deployment": "Checkout"}, None, reasons.INVALID_TARGET, '"deployment"', id="uppercase"
        ),
        pytest.param({"deployment": "a/../b"}, None, reasons.INVALID_TARGET, "DNS-1123", id="path"),
        pytest.param({"deployment": ""}, None, reasons.INVALID_TARGET, "DNS-1123", id="empty"),
        pytest.param(
            {"deployment": "a" * 64}, None, reasons.INVALID_TARGET, "63", id="64 characters"
        ),
        pytest.param(
            {"deployment": "-bad"}, None, reasons.INVALID_TARGET, "DNS-1123", id="leading dash"
        ),
        pytest.param(
            {},
            {"kind": "StatefulSet", "name": "db"},
            reasons.INVALID_TARGET,
            "spec.target.kind",
            id="explicit kind differs",
        ),
    ],
)
def test_a_target_that_cannot_be_resolved_is_refused_with_its_reason(
    labels: dict[str, str], explicit: dict[str, str] | None, reason: str, fragment: str
) -> None:
    with pytest.raises(TargetError) as caught:
        resolve_target(incident(labels, explicit), policy(BY_LABEL))
    assert caught.value.reason == reason
    assert fragment in str(caught.value)


WORKLOAD_SELECTORS = [
    pytest.param({"matchLabels": {"app": "web"}}, "app=web", id="labels"),
    pytest.param(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        },
        "app=web,tier in (a,b),!canary",
        id="labels-and-expressions",
    ),
    pytest.param(
        {"matchExpressions": [{"key": "app", "operator": "Exists"}]}, "app", id="expressions"
    ),
    pytest.param({}, None, id="nothing-selects-nothing"),
]


@pytest.mark.parametrize(("selector", "query"), WORKLOAD_SELECTORS)
def test_a_workloads_selector_is_listed_as_the_api_server_reads_it(
    selector: dict[str, Any], query: str | None
) -> None:
    assert workload_selector({"spec": {"selector": selector}}) == query


@pytest.mark.parametrize(
    ("labels", "selected"),
    [
        ({"app": "web", "tier": "a"}, True),
        ({"app": "web", "tier": "c"}, False),
        ({"app": "web", "tier": "a", "canary": "yes"}, False),
        ({"app": "api", "tier": "a"}, False),
    ],
)
def test_an_object_is_selected_by_labels_and_expressions(
    labels: dict[str, str], selected: bool
) -> None:
    workload = {"spec": {"selector": WORKLOAD_SELECTORS[1].values[0]}}
    assert selects(workload, labels) is selected
    assert not selects({"spec": {"selector": {}}}, labels)
