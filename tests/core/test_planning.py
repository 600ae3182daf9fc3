"""Planning fixes the exact state each step will set, with kubectl's semantics."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from remediator.core import reasons
from remediator.core.models import Incident, PlannedStep, RemediationPolicy, TargetRef
from remediator.core.planning import Observed, PlanningError, plan, revert_of
from support.workloads import REVISION, deployment, pod_template

NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)
TARGET = TargetRef(kind="Deployment", name="checkout")
INCIDENT = Incident.model_validate(
    {
        "metadata": {"name": "inc-1", "namespace": "shop"},
        "spec": {
            "alertname": "HighErrorRate",
            "severity": "P1",
            "labels": {"deployment": "checkout"},
        },
    }
)


def checkout(
    revision: int | None = 3, image: str = "v3", *, paused: bool = False, replicas: int | None = 2
) -> dict[str, Any]:
    """The Deployment checkout at `revision` (None: not annotated), running `image`."""
    return deployment("checkout", image, replicas, revision=revision, paused=paused)


HASH = "pod-template-hash"


def replicaset(revision: int, image: str, age: timedelta = timedelta(days=1)) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"checkout-{image}",
            "annotations": {REVISION: str(revision)},
            "creationTimestamp": (NOW - age).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": {
            "template": pod_template("checkout", image, **{"pod-template-hash": f"h{revision}"})
        },
    }


HISTORY = (replicaset(1, "v1"), replicaset(2, "v2"), replicaset(3, "v3"))


def pod(name: str, *, terminating: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "uid": f"uid-{name}"}
    if terminating:
        metadata["deletionTimestamp"] = "2025-03-04T11:59:00Z"
    return {"metadata": metadata}


def hpa(min_replicas: int | None, max_replicas: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"maxReplicas": max_replicas}
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    return {"metadata": {"name": "checkout-hpa"}, "spec": spec}


def policy(*steps: dict[str, Any]) -> RemediationPolicy:
    return RemediationPolicy.model_validate(
        {
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": {"match": {}, "target": {"nameFromLabel": "deployment"}, "steps": list(steps)},
        }
    )


def planned(step: dict[str, Any], observed: Observed) -> PlannedStep:
    result = plan(INCIDENT, policy(step), TARGET, observed, NOW)
    assert len(result.steps) == 1
    return result.steps[0]


def refusal(step: dict[str, Any], observed: Observed) -> PlanningError:
    with pytest.raises(PlanningError) as caught:
        plan(INCIDENT, policy(step), TARGET, observed, NOW)
    return caught.value


# ------------------------------------------------------------------------- rollback
@pytest.mark.parametrize(
    ("step", "workload", "replicasets", "revision", "image"),
    [
        pytest.param({}, checkout(3), HISTORY, 2, "v2", id="previous revision"),
        pytest.param(
            {},
            checkout(5, "v5"),
            (replicaset(1, "v1"), replicaset(3, "v3"), replicaset(5, "v5")),
            3,
            "v3",
            id="highest below current, across gaps",
        ),
        pytest.param(
            {},
            checkout(2, "v2"),
            (*HISTORY, replicaset(4, "v4")),
            1,
            "v1",
            id="below the current revision, not the newest",
        ),
        pytest.param({"toRevision": 1}, checkout(3), HISTORY, 1, "v1", id="given revision"),
        pytest.param(
            {},
            checkout(None),
            HISTORY,
            2,
            "v2",
            id="no revision annotation: newest ReplicaSet is current",
        ),
        pytest.param(
            {"onlyIfRolledOutWithin": "1h"},
            checkout(3),
            (replicaset(2, "v2"), replicaset(3, "v3", age=timedelta(minutes=20))),
            2,
            "v2",
            id="recent rollout",
        ),
    ],
)
def test_rollback_restores_a_previous_template_like_rollout_undo(
    step: dict[str, Any],
    workload: dict[str, Any],
    replicasets: tuple[dict[str, Any], ...],
    revision: int,
    image: str,
) -> None:
    result = planned({"action": "rollback", **step}, Observed(workload, replicasets))
    current = int(workload["metadata"].get("annotations", {}).get(REVISION, 3))
    assert result.desired == {
        "revision": revision,
        "fromRevision": current,
        "replicaSet": f"checkout-{image}",
        "template": pod_template("checkout", image),
    }
    assert result.target == "Deployment/checkout"
    assert result.summary == (
        f"roll back Deployment/checkout from revision {current} to {revision}"
    )


def _same_template_spelled_differently() -> dict[str, Any]:
    workload = checkout(3, "v2")
    workload["spec"]["template"]["metadata"]["annotations"] = {}
    workload["spec"]["template"]["metadata"]["creationTimestamp"] = None
    workload["spec"]["template"]["spec"]["volumes"] = []
    return workload


@pytest.mark.parametrize(
    ("step", "workload", "replicasets", "reason", "fragment"),
    [
        pytest.param(
            {},
            checkout(1, "v1"),
            HISTORY[:1],
            reasons.NO_PREVIOUS_REVISION,
            "before 1",
            id="no previous revision",
        ),
        pytest.param(
            {"toRevision": 7},
            checkout(3),
            HISTORY,
            reasons.REVISION_NOT_FOUND,
            "no revision 7 (revisions: 1, 2, 3)",
            id="revision not found",
        ),
        pytest.param(
            {},
            checkout(3, paused=True),
            HISTORY,
            reasons.WORKLOAD_PAUSED,
            "paused",
            id="paused deployment",
        ),
        pytest.param(
            {},
            checkout(3, "v2"),
            HISTORY,
            reasons.TEMPLATE_ALREADY_MATCHES,
            "revision 2",
            id="template already matches",
        ),
        pytest.param(
            {},
            _same_template_spelled_differently(),
            HISTORY,
            reasons.TEMPLATE_ALREADY_MATCHES,
            "revision 2",
            id="matches ignoring nulls, empty maps and lists",
        ),
        pytest.param(
            {"onlyIfRolledOutWithin": "30m"},
            checkout(3),
            (replicaset(2, "v2"), replicaset(3, "v3", age=timedelta(hours=2))),
            reasons.ROLLOUT_TOO_OLD,
            "rolled out 2h ago, not within 30m",
            id="rollout too old",
        ),
        pytest.param(
            {"onlyIfRolledOutWithin": "30m"},
            checkout(4, "v4"),
            HISTORY,
            reasons.ROLLOUT_TOO_OLD,
            "cannot tell",
            id="current revision unknown",
        ),
    ],
)
def test_rollback_is_refused_clearly(
    step: dict[str, Any],
    workload: dict[str, Any],
    replicasets: tuple[dict[str, Any], ...],
    reason: str,
    fragment: str,
) -> None:
    error = refusal({"action": "rollback", **step}, Observed(workload, replicasets))
    assert error.reason == reason
    assert error.step == 0
    assert fragment in str(error)


def test_rollback_does_not_change_the_observed_replicaset() -> None:
    replicasets = copy.deepcopy(HISTORY)
    planned({"action": "rollback"}, Observed(checkout(3), replicasets))
    assert replicasets == HISTORY


# --------------------------------------------------------------------- restartPods
@pytest.mark.parametrize(
    ("step", "pods", "desired", "summary"),
    [
        pytest.param(
            {},
            (),
            {"mode": "rolling", "restartedAt": "2025-03-04T12:00:00Z"},
            "rolling restart of Deployment/checkout",
            id="rolling by default",
        ),
        pytest.param(
            {"mode": "evict"},
            (pod("b"), pod("a"), pod("c", terminating=True)),
            {
                "mode": "evict",
                "pods": [{"name": "a", "uid": "uid-a"}, {"name": "b", "uid": "uid-b"}],
            },
            "evict 2 pods of Deployment/checkout",
            id="evict running pods by name",
        ),
    ],
)
def test_restart_pods_plans_a_rolling_restart_or_evictions(
    step: dict[str, Any], pods: tuple[dict[str, Any], ...], desired: dict[str, Any], summary: str
) -> None:
    result = planned({"action": "restartPods", **step}, Observed(checkout(), pods=pods))
    assert result.desired == desired
    assert result.summary == summary


@pytest.mark.parametrize(
    ("step", "workload", "pods", "reason"),
    [
        pytest.param({}, checkout(paused=True), (), reasons.WORKLOAD_PAUSED, id="paused"),
        pytest.param({"mode": "evict"}, checkout(), (), reasons.NO_PODS_SELECTED, id="no pods"),
        pytest.param(
            {"mode": "evict"},
            checkout(),
            (pod("a", terminating=True),),
            reasons.NO_PODS_SELECTED,
            id="only terminating pods",
        ),
    ],
)
def test_restart_pods_is_refused_clearly(
    step: dict[str, Any], workload: dict[str, Any], pods: tuple[dict[str, Any], ...], reason: str
) -> None:
    error = refusal({"action": "restartPods", **step}, Observed(workload, pods=pods))
    assert error.reason == reason


# --------------------------------------------------------------------------- scale
@pytest.mark.parametrize(
    ("step", "replicas", "autoscaler", "desired", "summary"),
    [
        pytest.param(
            {"to": 5}, 2, None, {"via": "scale", "replicas": 5, "previous": 2}, "2 → 5", id="to"
        ),
        pytest.param(
            {"by": 3}, 2, None, {"via": "scale", "replicas": 5, "previous": 2}, "2 → 5", id="by"
        ),
        pytest.param(
            {"by": -1},
            2,
            None,
            {"via": "scale", "replicas": 1, "previous": 2},
            "2 → 1",
            id="by, down",
        ),
        pytest.param(
            {"factor": 1.5},
            3,
            None,
            {"via": "scale", "replicas": 5, "previous": 3},
            "3 → 5",
            id="factor rounds up",
        ),
        pytest.param(
            {"to": 50, "max": 8},
            2,
            None,
            {"via": "scale", "replicas": 8, "previous": 2},
            "2 → 8",
            id="clamped to max",
        ),
        pytest.param(
            {"by": -5, "min": 2},
            4,
            None,
            {"via": "scale", "replicas": 2, "previous": 4},
            "4 → 2",
            id="clamped to min",
        ),
        pytest.param(
            {"by": 1},
            None,
            None,
            {"via": "scale", "replicas": 2, "previous": 1},
            "1 → 2",
            id="replicas default to 1",
        ),
        pytest.param(
            {"to": 4},
            2,
            hpa(2, 10),
            {
                "via": "hpa",
                "hpa": "checkout-hpa",
                "replicas": 4,
                "previousMinReplicas": 2,
                "previousMaxReplicas": 10,
                "maxReplicas": 10,
            },
            "2 → 4 (via HPA minReplicas)",
            id="HPA minReplicas raised",
        ),
        pytest.param(
            {"to": 12},
            2,
            hpa(None, 6),
            {
                "via": "hpa",
                "hpa": "checkout-hpa",
                "replicas": 12,
                "previousMinReplicas": 1,
                "previousMaxReplicas": 6,
                "maxReplicas": 12,
            },
            "2 → 12 (via HPA minReplicas)",
            id="HPA maxReplicas raised to fit",
        ),
    ],
)
def test_scale_plans_replicas_or_the_hpa_floor(
    step: dict[str, Any],
    replicas: int | None,
    autoscaler: dict[str, Any] | None,
    desired: dict[str, Any],
    summary: str,
) -> None:
    observed = Observed(checkout(replicas=replicas), hpa=autoscaler)
    result = planned({"action": "scale", **step}, observed)
    assert result.desired == desired
    assert result.summary == f"scale Deployment/checkout {summary}"


@pytest.mark.parametrize(
    ("step", "replicas", "autoscaler", "fragment"),
    [
        pytest.param({"to": 3}, 3, None, "already at 3 replicas; bounds 0..∞", id="same count"),
        pytest.param(
            {"by": 2, "max": 4}, 4, None, "already at 4 replicas; bounds 0..4", id="at max"
        ),
        pytest.param(
            {"by": -2, "min": 3}, 3, None, "already at 3 replicas; bounds 3..∞", id="at min"
        ),
        pytest.param({"to": 4}, 2, hpa(4, 10), "at least 4", id="HPA floor already there"),
        pytest.param({"to": 3}, 2, hpa(5, 10), "at least 5", id="HPA floor above"),
    ],
)
def test_scale_that_changes_nothing_is_refused(
    step: dict[str, Any], replicas: int, autoscaler: dict[str, Any] | None, fragment: str
) -> None:
    error = refusal(
        {"action": "scale", **step}, Observed(checkout(replicas=replicas), hpa=autoscaler)
    )
    assert error.reason == reasons.SCALE_BOUNDS
    assert fragment in str(error)


# ------------------------------------------------------------------ circuitBreaker
@pytest.mark.parametrize(
    ("step", "data", "desired", "summary"),
    [
        pytest.param(
            {"key": "carrier-a"},
            {"carrier-a": "closed"},
            {"value": "open", "previous": "closed", "revertAfterSeconds": None},
            'set ConfigMap/flags key "carrier-a" to "open" (was "closed")',
            id="opens by default",
        ),
        pytest.param(
            {"key": "carrier-a", "value": "half", "revertAfter": "10m"},
            None,
            {"value": "half", "previous": None, "revertAfterSeconds": 600.0},
            'set ConfigMap/flags key "carrier-a" to "half" (was unset), revert after 10m',
            id="value, unset before, reverted later",
        ),
    ],
)
def test_circuit_breaker_sets_a_configmap_key_and_remembers_the_old_value(
    step: dict[str, Any], data: dict[str, str] | None, desired: dict[str, Any], summary: str
) -> None:
    config_map = {"metadata": {"name": "flags"}, "data": data}
    observed = Observed(checkout(), config_maps={"flags": config_map})
    result = planned({"action": "circuitBreaker", "configMap": "flags", **step}, observed)
    assert result.target == "ConfigMap/flags"
    assert result.desired == {"configMap": "flags", "key": "carrier-a", **desired}
    assert result.summary == summary


@pytest.mark.parametrize(
    "config_maps", [pytest.param({}, id="not observed"), pytest.param({"flags": None}, id="absent")]
)
def test_circuit_breaker_needs_its_configmap(config_maps: dict[str, Any]) -> None:
    step = {"action": "circuitBreaker", "configMap": "flags", "key": "k"}
    error = refusal(step, Observed(checkout(), config_maps=config_maps))
    assert error.reason == reasons.CONFIG_MAP_NOT_FOUND


# ---------------------------------------------------------------- the whole plan
def test_a_missing_workload_is_refused_at_its_first_step() -> None:
    error = refusal({"action": "scale", "to": 3}, Observed(None))
    assert (error.reason, error.step) == (reasons.TARGET_NOT_FOUND, 0)


def test_a_refusal_names_the_step_it_came_from() -> None:
    steps = ({"action": "scale", "to": 5}, {"action": "restartPods", "mode": "evict"})
    with pytest.raises(PlanningError) as caught:
        plan(INCIDENT, policy(*steps), TARGET, Observed(checkout()), NOW)
    assert (caught.value.reason, caught.value.step) == (reasons.NO_PODS_SELECTED, 1)
    assert str(caught.value).startswith("step 1 (restartPods): ")


def test_the_plan_has_one_step_per_policy_step_in_order() -> None:
    steps = ({"action": "scale", "to": 5}, {"action": "restartPods"})
    result = plan(INCIDENT, policy(*steps), TARGET, Observed(checkout()), NOW)
    assert [(s.index, s.action) for s in result.steps] == [(0, "scale"), (1, "restartPods")]
    assert result.created_at == NOW


@pytest.mark.parametrize(
    ("other_step", "other_observed", "same"),
    [
        pytest.param({"action": "scale", "to": 5}, Observed(checkout()), True, id="same plan"),
        pytest.param({"action": "scale", "to": 6}, Observed(checkout()), False, id="desired"),
        pytest.param(
            {"action": "scale", "to": 5}, Observed(checkout(replicas=3)), False, id="observed"
        ),
    ],
)
def test_the_plan_hash_binds_to_the_exact_desired_state(
    other_step: dict[str, Any], other_observed: Observed, same: bool
) -> None:
    first = plan(INCIDENT, policy({"action": "scale", "to": 5}), TARGET, Observed(checkout()), NOW)
    later = NOW + timedelta(minutes=1)
    second = plan(INCIDENT, policy(other_step), TARGET, other_observed, later)
    assert len(first.hash) == 16
    assert int(first.hash, 16) >= 0
    assert (first.hash == second.hash) is same


# -------------------------------------------------------------------------- revert
@pytest.mark.parametrize(
    ("action", "desired", "revert"),
    [
        pytest.param(
            "scale",
            {"via": "scale", "replicas": 5, "previous": 2},
            {"via": "scale", "replicas": 2, "previous": 5},
            id="scale",
        ),
        pytest.param(
            "scale",
            {
                "via": "hpa",
                "hpa": "h",
                "replicas": 12,
                "previousMinReplicas": 2,
                "previousMaxReplicas": 6,
                "maxReplicas": 12,
            },
            {
                "via": "hpa",
                "hpa": "h",
                "replicas": 2,
                "previousMinReplicas": 12,
                "previousMaxReplicas": 12,
                "maxReplicas": 6,
            },
            id="HPA",
        ),
        pytest.param(
            "circuitBreaker",
            {
                "configMap": "f",
                "key": "k",
                "value": "open",
                "previous": None,
                "revertAfterSeconds": 60,
            },
            {
                "configMap": "f",
                "key": "k",
                "value": None,
                "previous": "open",
                "revertAfterSeconds": None,
            },
            id="circuit breaker, key removed",
        ),
        pytest.param("rollback", {"revision": 2}, None, id="rollback has none"),
        pytest.param("restartPods", {"mode": "rolling"}, None, id="restart has none"),
    ],
)
def test_revert_restores_the_previous_state_in_the_same_shape(
    action: str, desired: dict[str, Any], revert: dict[str, Any] | None
) -> None:
    step = PlannedStep.model_validate(
        {"index": 0, "action": action, "target": "Deployment/checkout", "desired": desired}
    )
    assert revert_of(step) == revert
