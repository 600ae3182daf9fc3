"""Guards refuse in a fixed order, name their reason and numbers, and read history from
Incident status so that they survive a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from remediator.core import reasons
from remediator.core.guards import (
    GlobalConfig,
    PastAction,
    Verdict,
    active_remediations,
    check_guards,
)
from remediator.core.models import Incident, RemediationPolicy, TargetRef

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
TARGET = TargetRef(kind="Deployment", name="checkout")
REF = "Deployment/checkout"


def incident(
    name: str = "inc-1",
    namespace: str = "shop",
    *,
    phase: str = "Pending",
    policy: str | None = None,
    actions: list[dict[str, Any]] | None = None,
) -> Incident:
    return Incident.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"alertname": "HighErrorRate", "severity": "P2"},
            "status": {"phase": phase, "policy": policy, "actions": actions or []},
        }
    )


def policy(guards: dict[str, Any] | None = None, name: str = "p") -> RemediationPolicy:
    return RemediationPolicy.model_validate(
        {
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {
                "match": {},
                "target": {"nameFromLabel": "deployment"},
                "steps": [{"action": "restartPods"}],
                "guards": guards or {},
            },
        }
    )


def acted(
    minutes_ago: float, *, incident: str = "inc-0", target: str = REF, policy: str = "p"
) -> PastAction:
    return PastAction("shop", target, policy, incident, NOW - timedelta(minutes=minutes_ago))


def case(
    expected: Verdict,
    *,
    id: str,
    namespace: str = "shop",
    config: GlobalConfig | None = None,
    guards: dict[str, Any] | None = None,
    history: list[PastAction] | None = None,
    active: int = 0,
) -> Any:
    """A row of the guards table: what `check_guards` decides for these inputs."""
    return pytest.param(
        namespace, config or GlobalConfig(), guards or {}, history or [], active, expected, id=id
    )


def test_active_remediations_count_remediating_and_verifying_incidents() -> None:
    phases = [
        "Pending",
        "Remediating",
        "Verifying",
        "AwaitingApproval",
        "Remediated",
        "Remediating",
    ]
    assert active_remediations(incident(f"i{n}", phase=p) for n, p in enumerate(phases)) == 3


@pytest.mark.parametrize(
    ("namespace", "config", "guards", "history", "active", "expected"),
    [
        case(Verdict(True), id="nothing in the way"),
        case(
            Verdict(False, reasons.PAUSED, "paused: remediation is paused operator-wide"),
            id="paused",
            config=GlobalConfig(paused=True),
        ),
        case(
            Verdict(
                False,
                reasons.PROTECTED_NAMESPACE,
                "protected namespace: kube-system is never remediated automatically",
            ),
            id="protected namespace",
            namespace="kube-system",
        ),
        case(
            Verdict(
                False,
                reasons.COOLDOWN,
                "cooldown: Deployment/checkout was acted on 3m ago by incident inc-9;"
                " cooldown is 10m",
            ),
            id="cooldown names the last action",
            history=[acted(30), acted(3, incident="inc-9")],
        ),
        case(Verdict(True), id="cooldown over", history=[acted(11)]),
        case(
            Verdict(True), id="cooldown is per target", history=[acted(1, target="Deployment/cart")]
        ),
        case(
            Verdict(True),
            id="this incident's own actions do not count",
            history=[acted(1, incident="inc-1")],
        ),
        case(
            Verdict(
                False,
                reasons.TARGET_RATE_LIMIT,
                "target rate limit: 2 actions on Deployment/checkout in the last hour;"
                " the limit is 2",
            ),
            id="target rate limit counts the last hour",
            guards={"cooldown": "1m", "maxActionsPerTargetPerHour": 2},
            history=[acted(50), acted(20), acted(70)],
        ),
        case(
            Verdict(
                False,
                reasons.POLICY_RATE_LIMIT,
                "policy rate limit: policy p took 2 actions in the last hour; the limit is 2",
            ),
            id="policy rate limit across targets",
            guards={"cooldown": "1m", "maxActionsPerPolicyPerHour": 2},
            history=[
                acted(5, target="Deployment/a"),
                acted(6, target="Deployment/b"),
                acted(7, policy="q"),
            ],
        ),
        case(
            Verdict(
                False,
                reasons.MAX_CONCURRENT,
                "max concurrent: 2 remediations are running; the limit is 2",
                retry_after=5,
            ),
            id="max concurrent is temporary",
            config=GlobalConfig(max_concurrent=2),
            active=2,
        ),
        case(
            Verdict(False, reasons.PAUSED, "paused: remediation is paused operator-wide"),
            id="paused is checked first",
            namespace="kube-system",
            config=GlobalConfig(paused=True, max_concurrent=1),
            history=[acted(1)],
            active=3,
        ),
        case(
            Verdict(
                False,
                reasons.COOLDOWN,
                "cooldown: Deployment/checkout was acted on 1m ago by incident inc-0;"
                " cooldown is 10m",
            ),
            id="cooldown before the rate limits and concurrency",
            config=GlobalConfig(max_concurrent=1),
            guards={"maxActionsPerTargetPerHour": 1},
            history=[acted(1)],
            active=3,
        ),
    ],
)
def test_guards_refuse_in_order_and_say_why(
    namespace: str,
    config: GlobalConfig,
    guards: dict[str, Any],
    history: list[PastAction],
    active: int,
    expected: Verdict,
) -> None:
    verdict = check_guards(
        incident("inc-1", namespace), policy(guards), TARGET, config, history, active, NOW
    )
    assert verdict == expected
