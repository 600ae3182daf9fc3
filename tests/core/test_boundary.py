"""The pure parts of the safety boundary: the status seal, plan bindings, target bounds, the
guard ledger, and the bridge's fail-closed severity (issue 17, table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from remediator.core import (
    alerts,
    bindings,
    guards,
    ledger,
    planning,
    reasons,
    status_seal,
    targets,
)
from remediator.core.models import Incident, IncidentStatus, RemediationPolicy

KEY = b"boundary-key"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
WORKLOAD = {
    "metadata": {"name": "web", "uid": "w1", "labels": {"remediator.dev/managed": "true"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
}


def incident(uid: str = "u1", severity: str = "P1", **spec: Any) -> Incident:
    return Incident.model_validate(
        {
            "metadata": {"name": "inc", "namespace": "shop", "uid": uid, "generation": 1},
            "spec": {
                "alertname": "HighErrorRate",
                "severity": severity,
                "labels": {"deployment": "web"},
                **spec,
            },
        }
    )


def policy(target: dict[str, Any] | None = None, generation: int = 1) -> RemediationPolicy:
    return RemediationPolicy.model_validate(
        {
            "metadata": {"name": "p", "namespace": "shop", "uid": "p1", "generation": generation},
            "spec": {
                "match": {},
                "target": target or {"nameFromLabel": "deployment"},
                "steps": [{"action": "scale", "to": 4}],
            },
        }
    )


def planned(inc: Incident, pol: RemediationPolicy) -> Incident:
    target = targets.resolve_target(inc, pol)
    plan = planning.plan(inc, pol, target, planning.Observed(workload=WORKLOAD), NOW)
    status = IncidentStatus(phase="AwaitingApproval", policy="p", plan=plan)
    return inc.model_copy(update={"status": status})


# ------------------------------------------------------------------------ status seal
def test_a_sealed_status_verifies_only_for_its_own_incident_and_key() -> None:
    inc = planned(incident(), policy())
    sealed = inc.model_copy(update={"status": status_seal.sealed(KEY, inc, inc.status)})
    assert status_seal.verifies(KEY, sealed)
    assert not status_seal.verifies(b"another key", sealed)
    recreated = sealed.model_copy(
        update={"metadata": sealed.metadata.model_copy(update={"uid": "u2"})}
    )
    assert not status_seal.verifies(KEY, recreated)


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param({"phase": "Remediating"}, id="phase"),
        pytest.param({"policy": "other"}, id="policy"),
        pytest.param({"message": "approved by alice"}, id="message"),
    ],
)
def test_any_edit_of_a_sealed_status_breaks_the_seal(edit: dict[str, Any]) -> None:
    inc = planned(incident(), policy())
    status = status_seal.sealed(KEY, inc, inc.status)
    edited = inc.model_copy(update={"status": status.model_copy(update=edit)})
    assert not status_seal.verifies(KEY, edited)


def test_the_seal_survives_the_api_servers_rewriting_of_numbers_and_nulls() -> None:
    inc = planned(incident(), policy())
    step = inc.status.plan.steps[0].model_copy(  # type: ignore[union-attr]
        update={"desired": {"replicas": 4, "revertAfterSeconds": 60.0, "previous": None}}
    )
    plan = inc.status.plan.model_copy(update={"steps": [step]})  # type: ignore[union-attr]
    inc = inc.model_copy(update={"status": inc.status.model_copy(update={"plan": plan})})
    status = status_seal.sealed(KEY, inc, inc.status)
    wire = status.dump()
    wire["plan"]["steps"][0]["desired"] = {"replicas": 4, "revertAfterSeconds": 60}
    reread = inc.model_copy(update={"status": IncidentStatus.model_validate(wire)})
    assert status_seal.verifies(KEY, reread)


def test_only_an_untouched_status_needs_no_seal() -> None:
    assert status_seal.untouched(IncidentStatus())
    assert not status_seal.untouched(IncidentStatus(phase="Remediating"))
    assert not status_seal.untouched(planned(incident(), policy()).status)


# ---------------------------------------------------------------------- plan binding
def test_the_same_steps_for_another_incident_severity_or_policy_version_hash_differently() -> None:
    base = planned(incident(), policy()).status.plan
    others = [
        planned(incident(uid="u2"), policy()).status.plan,
        planned(incident(severity="P0"), policy()).status.plan,
        planned(incident(), policy(generation=2)).status.plan,
    ]
    assert base is not None
    assert all(o is not None and o.steps == base.steps for o in others)
    assert len({base.hash, *(o.hash for o in others if o)}) == 4


@pytest.mark.parametrize(
    ("now_incident", "now_policy", "why"),
    [
        pytest.param(incident(), policy(), None, id="unchanged"),
        pytest.param(incident(), None, None, id="policy-unknown"),
        pytest.param(incident(severity="P2"), policy(), "spec.severity changed", id="severity"),
        pytest.param(incident(summary="x"), policy(), "spec changed", id="spec"),
        pytest.param(incident(alertStatus="resolved"), policy(), None, id="resolution-is-news"),
        pytest.param(incident(), policy(generation=2), "policy p changed", id="policy-edit"),
        pytest.param(incident(uid="u2"), policy(), "another Incident", id="recreated"),
    ],
)
def test_a_plan_holds_until_its_incident_or_policy_changes(
    now_incident: Incident, now_policy: RemediationPolicy | None, why: str | None
) -> None:
    plan = planned(incident(), policy()).status
    current = now_incident.model_copy(update={"status": plan})
    reason = bindings.rebind_reason(current, now_policy)
    assert (reason is None) == (why is None)
    if why is not None:
        assert why in str(reason)


# -------------------------------------------------------------------- target bounds
@pytest.mark.parametrize(
    ("target", "spec", "workload_labels", "refused"),
    [
        pytest.param({"name": "web"}, {}, {}, None, id="fixed"),
        pytest.param(
            {"name": "cache"},
            {"target": {"kind": "Deployment", "name": "web"}},
            {},
            "spec.target.name",
            id="fixed-not-overridden",
        ),
        pytest.param(
            {"nameFromLabel": "deployment", "names": ["api"]},
            {},
            {},
            "spec.target.names",
            id="names",
        ),
        pytest.param(
            {"nameFromLabel": "deployment", "selector": {"matchLabels": {"tier": "front"}}},
            {},
            {"tier": "back"},
            "tier=front",
            id="selector",
        ),
        pytest.param(
            {"nameFromLabel": "deployment", "selector": {"matchLabels": {"tier": "front"}}},
            {"target": {"kind": "Deployment", "name": "web"}},
            {"tier": "front"},
            None,
            id="explicit-within-bounds",
        ),
    ],
)
def test_targets_stay_within_the_policy(
    target: dict[str, Any],
    spec: dict[str, Any],
    workload_labels: dict[str, str],
    refused: str | None,
) -> None:
    pol = policy(target)
    workload = {"metadata": {"name": "web", "labels": workload_labels}}

    def resolve() -> None:
        ref = targets.resolve_target(incident(**spec), pol)
        targets.check_bounds(pol, ref, workload)

    if refused is None:
        resolve()
        return
    with pytest.raises(targets.TargetError, match=refused.replace(".", r"\.")) as error:
        resolve()
    assert error.value.reason == reasons.TARGET_NOT_ALLOWED


def test_names_only_bound_a_name_from_a_label() -> None:
    with pytest.raises(ValueError, match="names: only with nameFromLabel"):
        policy({"name": "web", "names": ["web"]})


# ----------------------------------------------------------------------- the ledger
def test_ledger_entries_round_trip_and_expire_after_their_longest_guard() -> None:
    entry = ledger.entry(
        uid="u1",
        index=0,
        namespace="shop",
        incident="inc",
        policy="p",
        target="Deployment/web",
        at=NOW,
        cooldown_seconds=2 * 3600,
    )
    (decoded,) = ledger.decode({entry.key: ledger.encode(entry), "junk": "{"}).values()
    assert decoded == entry
    assert ledger.expired([entry], NOW + timedelta(hours=1, minutes=59)) == []
    assert ledger.expired([entry], NOW + timedelta(hours=2)) == [entry.key]


def test_a_recreated_incident_is_refused_by_its_predecessors_actions() -> None:
    pol = RemediationPolicy.model_validate(
        {
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": {
                "match": {},
                "target": {"nameFromLabel": "deployment"},
                "steps": [{"action": "restartPods"}],
                "guards": {"cooldown": "15m"},
            },
        }
    )
    earlier = guards.PastAction("shop", "Deployment/web", "p", "inc", NOW, uid="u1")
    target = targets.resolve_target(incident(uid="u2"), pol)
    verdict = guards.check_guards(
        incident(uid="u2"), pol, target, guards.GlobalConfig(), [earlier], 0, NOW
    )
    assert verdict.reason == reasons.COOLDOWN
    same = guards.check_guards(
        incident(uid="u1"), pol, target, guards.GlobalConfig(), [earlier], 0, NOW
    )
    assert same.allowed  # its own action never counts against it


# --------------------------------------------------------------------- the bridge
@pytest.mark.parametrize(
    ("labels", "severity", "noted"),
    [
        pytest.param({"severity": "critical"}, "P1", False, id="known"),
        pytest.param({"severity": "info"}, "P3", False, id="known-low"),
        pytest.param({"severity": "sev1"}, "P1", True, id="unknown"),
        pytest.param({"severity": "CRIT"}, "P1", True, id="unknown-caps"),
        pytest.param({}, "P1", True, id="missing"),
    ],
)
def test_the_bridge_fails_closed_on_severities_it_does_not_know(
    labels: dict[str, str], severity: str, noted: bool
) -> None:
    alert = alerts.Alert.model_validate(
        {
            "status": "firing",
            "labels": {"alertname": "X", **labels},
            "startsAt": "2026-12-01T10:00:00Z",
            "fingerprint": "abc",
        }
    )
    body = alerts.incident_for(alert, namespace="shop")
    assert body["spec"]["severity"] == severity
    assert (alerts.UNKNOWN_SEVERITY_ANNOTATION in body["metadata"]["annotations"]) == noted
