"""Whether kube-apiserver would grant an Eviction, decided from the pod, the PDBs and the pods.

The operator drains and restarts workloads through `pods/eviction`, and the interesting
answers there are refusals: 429 when a PodDisruptionBudget has no disruption left, 500 when
two budgets cover one pod. The real decision is split between the eviction REST handler
(pkg/registry/core/pod/storage/eviction.go), which reads `PDB.status`, and the disruption
controller (pkg/controller/disruption), which writes that status. The emulator runs no
controllers, so this module does both halves at once: it computes the budget's status from
the pods as the controller would and then applies the handler's rules to it. Purely
computational; the server deletes the pod when this returns.

Differences from the real pair, all deliberate:

* `status` of a PDB is ignored, even when a test wrote `disruptionsAllowed` itself: the
  values are always recomputed from the pods, which is what a settled disruption controller
  would have written. (So the "still being processed" 429 for `observedGeneration <
  generation` never happens.)
* For `maxUnavailable` and percentage `minAvailable` the expected pod count is, as in the
  controller, the sum of the scales of the pods' controllers when the caller can tell them
  (`scale_of`); pods without a controller count once each. Without `scale_of` it is the
  number of matching pods that are not terminating.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, too_many_requests
from .selectors import label_selector_from_dict

MORE_THAN_ONE_PDB = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
    "support."
)
VIOLATES_BUDGET = "Cannot evict pod as it would violate the pod's disruption budget."

_PERCENT = re.compile(r"^(\d+)%$")


@dataclass(frozen=True)
class BudgetStatus:
    """What the disruption controller would write into `PodDisruptionBudget.status`."""

    expected_pods: int
    desired_healthy: int
    current_healthy: int
    disruptions_allowed: int

    def as_status(self) -> dict[str, int]:
        return {
            "expectedPods": self.expected_pods,
            "desiredHealthy": self.desired_healthy,
            "currentHealthy": self.current_healthy,
            "disruptionsAllowed": self.disruptions_allowed,
        }


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool(_meta(pod).get("deletionTimestamp"))


def is_ready(pod: Mapping[str, Any]) -> bool:
    """podutil.IsPodReady: a `Ready` condition with status `True`."""
    for condition in _status(pod).get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def can_ignore_pdb(pod: Mapping[str, Any]) -> bool:
    """Pods whose eviction needs no budget: finished, not yet running, or already going away."""
    phase = _status(pod).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or is_terminating(pod)


def pdb_matches(pdb: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """policy/v1 semantics: a null selector matches nothing, an empty one every pod."""
    if _meta(pdb).get("namespace", "") != _meta(pod).get("namespace", ""):
        return False
    selector = (pdb.get("spec") or {}).get("selector")
    if selector is None:
        return False
    try:
        parsed = label_selector_from_dict(selector)
    except (ValueError, TypeError, KeyError, ApiError):
        return False  # an invalid selector matches no pod (the handler skips such a PDB)
    labels = _meta(pod).get("labels") or {}
    return bool(parsed.matches(labels))


def _scaled(value: Any, total: int) -> int | None:
    """intstr.GetScaledValueFromIntOrPercent with rounding up; None when malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match:
            return math.ceil(int(match.group(1)) * total / 100)
    return None


ScaleOf = Callable[[str, str], "int | None"]


def _expected(live: Sequence[Mapping[str, Any]], scale_of: ScaleOf | None) -> int:
    """The controller's expected count: each controller's scale once, others one each."""
    if scale_of is None:
        return len(live)
    total, seen = 0, set()
    for pod in live:
        ref = next(
            (r for r in _meta(pod).get("ownerReferences") or [] if r.get("controller")), None
        )
        if ref is None:
            total += 1
            continue
        key = (str(ref.get("kind")), str(ref.get("name")))
        if key in seen:
            continue
        seen.add(key)
        scale = scale_of(*key)
        total += 1 if scale is None else scale
    return total


def budget_status(
    pdb: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    scale_of: ScaleOf | None = None,
) -> BudgetStatus:
    """The status the disruption controller computes for `pdb` over the namespace's `pods`."""
    matching = [p for p in pods if pdb_matches(pdb, p)]
    live = [p for p in matching if not is_terminating(p)]
    current_healthy = sum(1 for p in live if is_ready(p))
    spec = pdb.get("spec") or {}
    max_unavailable = spec.get("maxUnavailable")
    min_available = spec.get("minAvailable")
    expected = 0
    desired: int | None = 0
    if max_unavailable is not None:
        expected = _expected(live, scale_of)
        scaled = _scaled(max_unavailable, expected)
        desired = None if scaled is None else max(0, expected - scaled)
    elif min_available is not None:
        if isinstance(min_available, int) and not isinstance(min_available, bool):
            expected = len(matching)
            desired = min_available
        else:
            expected = _expected(live, scale_of)
            desired = _scaled(min_available, expected)
    if desired is None:
        # The controller fails on a malformed value and fails safe: no disruption allowed.
        return BudgetStatus(expected, 0, current_healthy, 0)
    allowed = current_healthy - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    return BudgetStatus(expected, desired, current_healthy, allowed)


def check_eviction(
    pod: Mapping[str, Any],
    pdbs: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]],
    scale_of: ScaleOf | None = None,
) -> None:
    """Return when the eviction of `pod` is allowed, raise the API's refusal otherwise.

    `pdbs` are the PodDisruptionBudgets of the pod's namespace (others are skipped), `pods`
    all pods of that namespace (the evicted one included).
    """
    if can_ignore_pdb(pod):
        return
    matching = [pdb for pdb in pdbs if pdb_matches(pdb, pod)]
    if not matching:
        return
    if len(matching) > 1:
        raise ApiError(500, "InternalError", MORE_THAN_ONE_PDB)
    pdb = matching[0]
    status = budget_status(pdb, pods, scale_of)
    if not is_ready(pod):
        policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy")
        if policy == "AlwaysAllow":
            return
        if status.current_healthy >= status.desired_healthy and status.desired_healthy > 0:
            return
    if status.disruptions_allowed <= 0:
        name = _meta(pdb).get("name", "")
        raise too_many_requests(
            VIOLATES_BUDGET,
            [
                {
                    "reason": "DisruptionBudget",
                    "message": f"The disruption budget {name} needs {status.desired_healthy} "
                    f"healthy pods and has {status.current_healthy} currently",
                }
            ],
        )
