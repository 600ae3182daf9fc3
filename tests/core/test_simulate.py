"""`simulate.observe` gathers the objects the reconciler would read, from recorded ones."""

from __future__ import annotations

from typing import Any

from remediator.core.models import RemediationPolicy, TargetRef
from remediator.core.simulate import observe

TARGET = TargetRef(kind="Deployment", name="checkout")
ROLLBACK = RemediationPolicy.model_validate(
    {
        "metadata": {"name": "rollback", "namespace": "shop"},
        "spec": {
            "match": {"alertnames": ["HighErrorRate"]},
            "target": {"kind": "Deployment", "nameFromLabel": "deployment"},
            "steps": [{"action": "rollback"}],
        },
    }
)
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "checkout", "namespace": "shop", "uid": "u-checkout"},
    "spec": {"selector": {"matchLabels": {"app": "checkout"}}},
}


def replicaset(name: str, labels: dict[str, str], owner: str = "u-checkout") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": labels,
            "ownerReferences": [{"kind": "Deployment", "name": "checkout", "uid": owner}],
        },
    }


def test_replicasets_are_those_the_selector_lists_and_the_workload_owns() -> None:
    """The reconciler lists a Deployment's ReplicaSets by its selector, then keeps those it
    owns: a ReplicaSet it owns without the selector's labels is not among its revisions."""
    objects = [
        DEPLOYMENT,
        replicaset("checkout-1", {"app": "checkout", "pod-template-hash": "1"}),
        replicaset("checkout-unlabelled", {}),
        replicaset("checkout-other", {"app": "checkout"}, owner="u-other"),
    ]
    observed, missing = observe(objects, "shop", TARGET, ROLLBACK)
    assert [rs["metadata"]["name"] for rs in observed.replicasets] == ["checkout-1"]
    assert missing == []
    observed, missing = observe([DEPLOYMENT, objects[2]], "shop", TARGET, ROLLBACK)
    assert observed.replicasets == ()
    assert missing == ["ReplicaSets owned by Deployment/checkout (rollback reads their revisions)"]
