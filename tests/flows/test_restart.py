"""What a restart costs: policies that say what they are already are not written again."""

from __future__ import annotations

import time
from collections.abc import Callable

from remediator_devtools.testing import OperatorThread
from support.policies import incident_spec, policy_spec

from .conftest import Cluster

SCALE = {"action": "scale", "to": 3}


def test_a_restart_does_not_rewrite_the_policies(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    cluster.deployment("web")
    cluster.policy("scale", policy_spec(SCALE))
    # stored while no webhook is in the path: marked invalid by the first operator
    cluster.policy("both", policy_spec({"action": "scale", "to": 3, "by": 1}, alert="Other"))
    first = start_operator()

    def marked() -> bool:
        return all(
            (cluster.get("remediationpolicies", name).get("status") or {}).get("conditions")
            for name in ("scale", "both")
        )

    cluster.wait_for("the Valid conditions", marked)
    first.stop()
    mark = len(cluster.box.writes())
    start_operator()
    cluster.incident("inc-1", incident_spec())
    cluster.remediated("inc-1")
    time.sleep(1)  # the policies were resumed long before; room for a late write anyway
    rewritten = [
        (w.verb, w.name, w.subresource)
        for w in cluster.box.writes()[mark:]
        if w.resource == "remediationpolicies"
    ]
    assert rewritten == []
