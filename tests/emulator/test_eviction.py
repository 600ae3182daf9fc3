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

UNREADY_C = TWO_READY_ONE_NOT[2]


def allowed(
    name: str,
    *pdbs: dict[str, Any],
    target: dict[str, Any] | None = None,
    pods: list[dict[str, Any]] = THREE_READY,
) -> Any:
    """A case where evicting `target` (web-a) under `pdbs` among `pods` is allowed."""
    return pytest.param(target or pod("web-a"), list(pdbs), pods, id=name)


ALLOWED = [
    allowed("no budget"),
    allowed("budget selects other pods", pdb(selector={"matchLabels": {"app": "db"}})),
    allowed("budget in another namespace", pdb(namespace="other", minAvailable=3)),
    allowed("null selector matches nothing", pdb(selector=None, minAvailable=3)),
    allowed("minAvailable int leaves room", pdb(minAvailable=2)),
    allowed("minAvailable percent rounds up to 2 of 3", pdb(minAvailable="50%")),
    allowed("maxUnavailable int", pdb(maxUnavailable=1)),
    allowed("maxUnavailable percent rounds up to 1 of 3", pdb(maxUnavailable="10%")),
    allowed(
        "unhealthy pod while the budget is healthy",
        pdb(minAvailable=2),
        target=UNREADY_C,
        pods=TWO_READY_ONE_NOT,
    ),
    allowed(
        "unhealthy pod with AlwaysAllow",
        pdb(minAvailable=3, policy="AlwaysAllow"),
        target=pod("web-c", ready=False),
        pods=TWO_READY_ONE_NOT,
    ),
    allowed(
        "terminating pod skips budgets", pdb(minAvailable=3), target=pod("web-a", terminating=True)
    ),
    allowed(
        "succeeded pod skips budgets", pdb(minAvailable=3), target=pod("web-a", phase="Succeeded")
    ),
    allowed(
        "failed pod skips even two budgets",
        pdb("one", minAvailable=3),
        pdb("two", maxUnavailable=0),
        target=pod("web-a", phase="Failed"),
    ),
    allowed("pending pod skips budgets", pdb(minAvailable=3), target=pod("web-a", phase="Pending")),
    allowed(
        "status written by hand is ignored", pdb(minAvailable=2, status={"disruptionsAllowed": 0})
    ),
]


@pytest.mark.parametrize(("target", "pdbs", "pods"), ALLOWED)
def test_allowed(
    target: dict[str, Any], pdbs: list[dict[str, Any]], pods: list[dict[str, Any]]
) -> None:
    check_eviction(target, pdbs, pods)


def refused(
    name: str,
    healthy: tuple[int, int],
    *pdbs: dict[str, Any],
    target: dict[str, Any] | None = None,
    pods: list[dict[str, Any]] = THREE_READY,
) -> Any:
    """A case where evicting `target` (web-a) is refused: the budget needs `healthy[0]`
    healthy pods and has `healthy[1]`."""
    return pytest.param(target or pod("web-a"), list(pdbs), pods, *healthy, id=name)


REFUSED = [
    refused("minAvailable int", (3, 3), pdb(minAvailable=3)),
    refused("minAvailable percent", (3, 3), pdb(minAvailable="100%")),
    refused("minAvailable percent rounds up", (3, 3), pdb(minAvailable="70%")),
    refused("maxUnavailable zero", (3, 3), pdb(maxUnavailable=0)),
    refused("maxUnavailable percent zero", (3, 3), pdb(maxUnavailable="0%")),
    refused(
        "maxUnavailable used up by an unready pod",
        (2, 2),
        pdb(maxUnavailable=1),
        pods=TWO_READY_ONE_NOT,
    ),
    refused(
        "unhealthy pod while the budget is already short",
        (3, 2),
        pdb(minAvailable=3),
        target=pod("web-c", ready=False),
        pods=TWO_READY_ONE_NOT,
    ),
    refused(
        "unhealthy pod with IfHealthyBudget",
        (3, 2),
        pdb(minAvailable=3, policy="IfHealthyBudget"),
        target=pod("web-c", ready=False),
        pods=TWO_READY_ONE_NOT,
    ),
    refused(
        "terminating pods do not count as healthy",
        (2, 1),
        pdb(minAvailable=2),
        pods=[pod("web-a"), pod("web-b", terminating=True), pod("web-c", ready=False)],
    ),
    refused(
        "empty selector selects every pod",
        (3, 3),
        pdb(selector={}, minAvailable=3),
        target=pod("web-a", labels={}),
        pods=[pod("web-a", labels={}), *THREE_READY[1:]],
    ),
    refused("neither minAvailable nor maxUnavailable", (0, 3), pdb()),
]


@pytest.mark.parametrize(("target", "pdbs", "pods", "desired", "current"), REFUSED)
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
