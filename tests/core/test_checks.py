"""PromQL checks: every sample must satisfy `operator threshold`; no data and NaN never do."""

from __future__ import annotations

import math

import pytest

from remediator.core.checks import CheckResult, describe, evaluate, format_value
from remediator.core.models import PromCheck

NAN, INF = math.nan, math.inf


def check(operator: str, threshold: float, description: str = "") -> PromCheck:
    return PromCheck.model_validate(
        {
            "query": "rate(errors[5m])",
            "operator": operator,
            "threshold": threshold,
            "description": description,
        }
    )


@pytest.mark.parametrize(
    ("operator", "threshold", "samples", "expected"),
    [
        ("<", 0.5, [0.12], CheckResult(True, "0.12 (1 series)")),
        ("<", 0.5, [0.5], CheckResult(False, "0.5 (1 series)")),
        ("<=", 0.5, [0.5], CheckResult(True, "0.5 (1 series)")),
        (">", 1, [2, 3], CheckResult(True, "2, 3 (2 series)")),
        (">", 1, [2, 1], CheckResult(False, "1, 2 (2 series)")),  # failing values first
        (">=", 1, [1], CheckResult(True, "1 (1 series)")),
        ("==", 0, [0, 0.0], CheckResult(True, "0, 0 (2 series)")),
        ("==", 0, [1e-9], CheckResult(False, "1e-09 (1 series)")),
        ("!=", 0, [3], CheckResult(True, "3 (1 series)")),
        ("!=", 0, [0], CheckResult(False, "0 (1 series)")),
        ("<", 0.5, [], CheckResult(False, "no data")),
        ("!=", 0, [], CheckResult(False, "no data")),
        ("<", 0.5, [NAN], CheckResult(False, "NaN (1 series)")),
        ("!=", 0, [NAN], CheckResult(False, "NaN (1 series)")),  # NaN satisfies nothing
        ("<", 0.5, [0.1, NAN], CheckResult(False, "NaN, 0.1 (2 series)")),
        (">", 1e9, [INF], CheckResult(True, "+Inf (1 series)")),
        ("<", 0, [-INF], CheckResult(True, "-Inf (1 series)")),
        ("<", 1, [1234567.891], CheckResult(False, "1.23457e+06 (1 series)")),
        (
            "<",
            10,
            [1, 2, 3, 4, 5, 6, 7],
            CheckResult(True, "1, 2, 3, 4, 5, ... (7 series)"),
        ),
        (
            "<",
            3,
            [1, 2, 3, 4, 5, 6, 7],
            CheckResult(False, "3, 4, 5, 6, 7, ... (7 series)"),
        ),
    ],
)
def test_evaluate(
    operator: str, threshold: float, samples: list[float], expected: CheckResult
) -> None:
    assert evaluate(check(operator, threshold), samples) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.12, "0.12"), (2.0, "2"), (-1.5, "-1.5"), (NAN, "NaN"), (INF, "+Inf"), (-INF, "-Inf")],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_describe_names_the_condition() -> None:
    assert describe(check("<", 0.05)) == "rate(errors[5m]) < 0.05"
    assert describe(check(">=", 2, "enough replicas")) == "enough replicas (rate(errors[5m]) >= 2)"
