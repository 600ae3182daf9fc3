"""matching.PolicyIndex answers as matching.ranked does on the whole list."""

from __future__ import annotations

import itertools
from typing import Any

from remediator.core import matching
from remediator.core.models import Incident, RemediationPolicy


def _policy(name: str, namespace: str, match: dict[str, Any], priority: int = 0) -> Any:
    return RemediationPolicy.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "match": match,
                "priority": priority,
                "target": {"kind": "Deployment", "nameFromLabel": "deployment"},
                "steps": [{"action": "scale", "by": 1}],
            },
        }
    )


def test_index_ranks_as_the_full_scan_does() -> None:
    matches: list[dict[str, Any]] = [
        {"alertnames": ["A"]},
        {"alertnames": ["A", "B"], "severities": ["P2"]},
        {"alertnames": ["B"]},
        {"severities": ["P2"]},
        {"labels": {"team": "x"}},
        {"alertnames": ["A"], "labels": {"team": "x"}},
        {"alertnames": ["A", "A"]},
    ]
    policies = [
        _policy(f"p{i}-{ns}", ns, match, priority=i % 3)
        for (i, match), ns in itertools.product(enumerate(matches), ("shop", "other"))
    ]
    index = matching.PolicyIndex(policies)
    for alertname, severity, labels, ns in itertools.product(
        ("A", "B", "C"), ("P1", "P2"), ({}, {"team": "x"}), ("shop", "other", "none")
    ):
        incident = Incident.model_validate(
            {
                "metadata": {"name": "i", "namespace": ns},
                "spec": {"alertname": alertname, "severity": severity, "labels": labels},
            }
        )
        assert index.ranked(incident) == matching.ranked(incident, policies)
        assert index.select(incident) == matching.select_policy(incident, policies)
