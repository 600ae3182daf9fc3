"""Guards under concurrency: incidents that pass the guards at the same moment, then spend
time before acting (capturing evidence), must still not exceed a limit together.

An action counts in the guards from the moment its incident passed them (it is reserved in
the guard ledger before anything is awaited), not from when its change is written."""

from __future__ import annotations

from remediator_devtools.testing import OperatorThread
from support.policies import incident_spec, policy_spec

from .conftest import Cluster


def test_incidents_that_pass_together_never_exceed_the_policy_rate_limit(
    cluster: Cluster, operator: OperatorThread
) -> None:
    names = [f"web-{i}" for i in range(4)]
    for name in names:
        cluster.deployment(name, replicas=1)
    cluster.policy(
        "restart",
        policy_spec(
            {"action": "restartPods"},
            guards={"maxActionsPerPolicyPerHour": 2},
            evidence={"capture": "always", "budget": "2s"},
        ),
    )
    for index, name in enumerate(names):
        cluster.incident(f"inc-{index}", incident_spec(name))
    ended = [
        cluster.wait_phase(f"inc-{index}", "Remediated", "Blocked", "Failed")
        for index in range(len(names))
    ]
    phases = sorted(body["status"]["phase"] for body in ended)
    assert phases == ["Blocked", "Blocked", "Remediated", "Remediated"]
    blocked = [b for b in ended if b["status"]["phase"] == "Blocked"]
    assert all(b["status"]["timeline"][-1]["reason"] == "PolicyRateLimit" for b in blocked)
