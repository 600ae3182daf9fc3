"""The eviction decision: what kube-apiserver answers for a pod under PodDisruptionBudgets."""

from __future__ import annotations

from typing import Any

import pytest

from kube_emulator.errors import ApiError
from kube_emulator.eviction import budget_status, check_eviction


def pod(
    name: str,
    *,
    ready: bool = True,
    labels: dict[str, str] | None = None,
    namespace: str = "shop",
    phase: str = "Running",
    terminating: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {"app": "web"} if labels is None else labels,
    }
    if terminating:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pdb(
    name: str = "web",
    *,
    selector: dict[str, Any] | str | None = "app=web",
    namespace: str = "shop",
    policy: str | None = None,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}} if selector == "app=web" else selector,
        **spec,
    }
    if policy:
        body["unhealthyPodEvictionPolicy"] = policy
    obj: dict[str, Any] = {"metadata": {"name": name, "namespace": namespace}, "spec": body}
    if status is not None:
        obj["status"] = status
    return obj


THREE_READY = [pod("web-a"), pod("web-b"), pod("web-c")]
TWO_READY_ONE_NOT = [pod("web-a"), pod("web-b"), pod("web-c", ready=False)]

ALLOWED: list[tuple[str, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]] = [
    ("no budget", pod("web-a"), [], THREE_READY),
    (
        "budget selects other pods",
        pod("web-a"),
        [pdb(selector={"matchLabels": {"app": "db"}})],
        THREE_READY,
    ),
    (
        "budget in another namespace",
        pod("web-a"),
        [pdb(namespace="other", minAvailable=3)],
        THREE_READY,
    ),
    (
        "null selector matches nothing",
        pod("web-a"),
        [pdb(selector=None, minAvailable=3)],
        THREE_READY,
    ),
    ("minAvailable int leaves room", pod("web-a"), [pdb(minAvailable=2)], THREE_READY),
    (
        "minAvailable percent rounds up to 2 of 3",
        pod("web-a"),
        [pdb(minAvailable="50%")],
        THREE_READY,
    ),
    ("maxUnavailable int", pod("web-a"), [pdb(maxUnavailable=1)], THREE_READY),
    (
        "maxUnavailable percent rounds up to 1 of 3",
        pod("web-a"),
        [pdb(maxUnavailable="10%")],
        THREE_READY,
    ),
    (
        "unhealthy pod while the budget is healthy",
        TWO_READY_ONE_NOT[2],
        [pdb(minAvailable=2)],
        TWO_READY_ONE_NOT,
    ),
    (
        "unhealthy pod with AlwaysAllow",
        pod("web-c", ready=False),
        [pdb(minAvailable=3, policy="AlwaysAllow")],
        TWO_READY_ONE_NOT,
    ),
    (
        "terminating pod skips budgets",
        pod("web-a", terminating=True),
        [pdb(minAvailable=3)],
        THREE_READY,
    ),
    (
        "succeeded pod skips budgets",
        pod("web-a", phase="Succeeded"),
        [pdb(minAvailable=3)],
        THREE_READY,
    ),
    (
        "failed pod skips even two budgets",
        pod("web-a", phase="Failed"),
        [pdb("one", minAvailable=3), pdb("two", maxUnavailable=0)],
        THREE_READY,
    ),
    (
        "pending pod skips budgets",
        pod("web-a", phase="Pending"),
        [pdb(minAvailable=3)],
        THREE_READY,
    ),
    (
        "status written by hand is ignored",
        pod("web-a"),
        [pdb(minAvailable=2, status={"disruptionsAllowed": 0})],
        THREE_READY,
    ),
]


@pytest.mark.parametrize(
    ("target", "pdbs", "pods"), [c[1:] for c in ALLOWED], ids=[c[0] for c in ALLOWED]
)
def test_allowed(
    target: dict[str, Any], pdbs: list[dict[str, Any]], pods: list[dict[str, Any]]
) -> None:
    check_eviction(target, pdbs, pods)


REFUSED: list[tuple[str, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], int, int]] = [
    ("minAvailable int", pod("web-a"), [pdb(minAvailable=3)], THREE_READY, 3, 3),
    ("minAvailable percent", pod("web-a"), [pdb(minAvailable="100%")], THREE_READY, 3, 3),
    ("minAvailable percent rounds up", pod("web-a"), [pdb(minAvailable="70%")], THREE_READY, 3, 3),
    ("maxUnavailable zero", pod("web-a"), [pdb(maxUnavailable=0)], THREE_READY, 3, 3),
    ("maxUnavailable percent zero", pod("web-a"), [pdb(maxUnavailable="0%")], THREE_READY, 3, 3),
    (
        "maxUnavailable used up by an unready pod",
        pod("web-a"),
        [pdb(maxUnavailable=1)],
        TWO_READY_ONE_NOT,
        2,
        2,
    ),
    (
        "unhealthy pod while the budget is already short",
        pod("web-c", ready=False),
        [pdb(minAvailable=3)],
        TWO_READY_ONE_NOT,
        3,
        2,
    ),
    (
        "unhealthy pod with IfHealthyBudget",
        pod("web-c", ready=False),
        [pdb(minAvailable=3, policy="IfHealthyBudget")],
        TWO_READY_ONE_NOT,
        3,
        2,
    ),
    (
        "terminating pods do not count as healthy",
        pod("web-a"),
        [pdb(minAvailable=2)],
        [pod("web-a"), pod("web-b", terminating=True), pod("web-c", ready=False)],
        2,
        1,
    ),
    (
        "empty selector selects every pod",
        pod("web-a", labels={}),
        [pdb(selector={}, minAvailable=3)],
        [pod("web-a", labels={}), *THREE_READY[1:]],
        3,
        3,
    ),
    ("neither minAvailable nor maxUnavailable", pod("web-a"), [pdb()], THREE_READY, 0, 3),
]


@pytest.mark.parametrize(
    ("target", "pdbs", "pods", "desired", "current"),
    [c[1:] for c in REFUSED],
    ids=[c[0] for c in REFUSED],
)
def test_refused_with_429(
    target: dict[str, Any],
    pdbs: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    desired: int,
    current: int,
) -> None:
    with pytest.raises(ApiError) as caught:
        check_eviction(target, pdbs, pods)
    err = caught.value
    assert err.code == 429
    assert err.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Cannot evict pod as it would violate the pod's disruption budget.",
        "reason": "TooManyRequests",
        "code": 429,
        "details": {
            "causes": [
                {
                    "reason": "DisruptionBudget",
                    "message": f"The disruption budget web needs {desired} healthy pods "
                    f"and has {current} currently",
                }
            ]
        },
    }


def test_two_budgets_is_a_500() -> None:
    with pytest.raises(ApiError) as caught:
        check_eviction(
            pod("web-a"), [pdb("one", minAvailable=1), pdb("two", minAvailable=1)], THREE_READY
        )
    assert caught.value.code == 500
    assert caught.value.message == (
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does "
        "not support."
    )


def test_budget_status_as_the_disruption_controller_writes_it() -> None:
    status = budget_status(pdb(maxUnavailable="34%"), [*TWO_READY_ONE_NOT, pod("other", labels={})])
    assert status.as_status() == {
        "expectedPods": 3,
        "desiredHealthy": 1,
        "currentHealthy": 2,
        "disruptionsAllowed": 1,
    }
