"""Which policy answers an incident: every match rule, and how ties are broken."""

from __future__ import annotations

from typing import Any

import pytest

from remediator.core.matching import matches, select_policy, specificity
from remediator.core.models import Incident, RemediationPolicy


def incident(
    *,
    namespace: str = "shop",
    alertname: str = "HighErrorRate",
    severity: str = "P1",
    **labels: str,
) -> Incident:
    return Incident.model_validate(
        {
            "metadata": {"name": "inc-1", "namespace": namespace},
            "spec": {"alertname": alertname, "severity": severity, "labels": labels},
        }
    )


def policy(
    match: dict[str, Any], *, name: str = "p", namespace: str = "shop", priority: int = 0
) -> RemediationPolicy:
    return RemediationPolicy.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "match": match,
                "priority": priority,
                "target": {"nameFromLabel": "deployment"},
                "steps": [{"action": "restartPods"}],
            },
        }
    )


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ({}, True),
        ({"alertnames": ["HighErrorRate", "Other"]}, True),
        ({"alertnames": ["Other"]}, False),
        ({"severities": ["P0", "P1"]}, True),
        ({"severities": ["P2"]}, False),
        ({"labels": {"team": "payments"}}, True),
        ({"labels": {"team": "search"}}, False),
        ({"labels": {"missing": "x"}}, False),
        ({"expressions": [{"key": "env", "operator": "In", "values": ["prod", "stage"]}]}, True),
        ({"expressions": [{"key": "env", "operator": "In", "values": ["dev"]}]}, False),
        ({"expressions": [{"key": "absent", "operator": "In", "values": ["x"]}]}, False),
        ({"expressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}, True),
        ({"expressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, False),
        ({"expressions": [{"key": "absent", "operator": "NotIn", "values": ["x"]}]}, True),
        ({"expressions": [{"key": "env", "operator": "Exists"}]}, True),
        ({"expressions": [{"key": "absent", "operator": "Exists"}]}, False),
        ({"expressions": [{"key": "absent", "operator": "DoesNotExist"}]}, True),
        ({"expressions": [{"key": "env", "operator": "DoesNotExist"}]}, False),
        ({"expressions": [{"key": "env", "operator": "Regex", "values": ["pr.d"]}]}, True),
        ({"expressions": [{"key": "env", "operator": "Regex", "values": ["pr"]}]}, False),
        ({"expressions": [{"key": "absent", "operator": "Regex", "values": [".*"]}]}, False),
        (
            {
                "alertnames": ["HighErrorRate"],
                "severities": ["P1"],
                "labels": {"team": "payments"},
                "expressions": [{"key": "env", "operator": "Exists"}],
            },
            True,
        ),
        ({"alertnames": ["HighErrorRate"], "severities": ["P3"]}, False),
    ],
)
def test_a_policy_matches_when_every_constraint_holds(
    match: dict[str, Any], expected: bool
) -> None:
    assert matches(policy(match), incident(team="payments", env="prod")) is expected


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ({}, 0),
        ({"alertnames": ["A", "B"]}, 1),
        ({"alertnames": ["A"], "severities": ["P0", "P1"]}, 2),
        ({"labels": {"a": "1", "b": "2"}}, 2),
        (
            {
                "severities": ["P1"],
                "labels": {"a": "1"},
                "expressions": [
                    {"key": "x", "operator": "Exists"},
                    {"key": "y", "operator": "DoesNotExist"},
                ],
            },
            4,
        ),
    ],
)
def test_specificity_counts_the_constraints(match: dict[str, Any], expected: int) -> None:
    assert specificity(policy(match)) == expected


@pytest.mark.parametrize(
    ("policies", "winner"),
    [
        pytest.param([], None, id="no policies"),
        pytest.param([policy({"alertnames": ["Other"]}, name="a")], None, id="none match"),
        pytest.param(
            [policy({}, name="elsewhere", namespace="other")], None, id="other namespace ignored"
        ),
        pytest.param(
            [policy({}, name="low", priority=1), policy({}, name="high", priority=5)],
            "high",
            id="highest priority wins",
        ),
        pytest.param(
            [
                policy({"alertnames": ["HighErrorRate"]}, name="specific", priority=0),
                policy({}, name="urgent", priority=1),
            ],
            "urgent",
            id="priority beats specificity",
        ),
        pytest.param(
            [
                policy({}, name="broad"),
                policy({"alertnames": ["HighErrorRate"], "labels": {"team": "payments"}}, name="x"),
            ],
            "x",
            id="more specific wins at equal priority",
        ),
        pytest.param(
            [policy({}, name="zeta"), policy({}, name="alpha"), policy({}, name="mid")],
            "alpha",
            id="name breaks the last tie",
        ),
    ],
)
def test_select_policy_picks_one_policy_independent_of_order(
    policies: list[RemediationPolicy], winner: str | None
) -> None:
    for ordering in (policies, list(reversed(policies))):
        chosen = select_policy(incident(team="payments"), ordering)
        assert (chosen.metadata.name if chosen else None) == winner
