"""Every golden alert played through the real operator: it ends as `remediator simulate` said.

`tests/test_golden.py` checks what `remediator simulate` decides for each recorded payload of
`tests/golden/alerts/`; this file checks that the operator decides the same (issue 13, "one
decision code"). For each payload, on a fresh emulator:

1. The observed objects of `tests/golden/state/` are loaded as they are written, with their
   uids and creation times (the emulator's server-set fields are set afterwards in its
   store), every timestamp moved by (now - the golden tests' NOW), so that ages are what
   they are in the golden tests. No Deployment controller runs: the emulator holds exactly
   the recorded objects, no ReplicaSet or Pod more.
2. The policies of `remediations/` are applied in namespace shop, the real operator started
   with its Alertmanager bridge (allowing `*`, default namespace shop: the options the
   golden tests give `simulate`), and the payload, its times moved too, posted to the bridge.
3. `remediator simulate` decides the same payload against the objects as the emulator serves
   them (`--state`, as from `kubectl get -o yaml`) at the same now. Its decisions are first
   checked against `tests/golden/expected/` (moving the times changed nothing), then each
   against what the bridge and the operator did:

   - Dropped: the bridge skipped the alert; Duplicate: it found the earlier alert's Incident
     and created none;
   - otherwise the bridge created exactly the Incident simulate names, with its severity,
     and once the Incident settles its phase and the reason of its decision are simulate's
     outcome and reason, with the same message, policy and plan steps (action, target,
     summary and desired state). An outcome of Remediating is the gate's decision: the
     operator then acts, so its Incident ends Remediated with the decision (AutoApproved)
     in its timeline before;
   - no Incident more than these, and nothing of namespace shop changed unless some
     decision was Remediating.

What cannot agree, and is not compared:

- the plan hash: it binds the plan to the Incident's uid and the policy's uid and
  generation (`bindings.plan_hash`), which simulate has no cluster to know. The steps are
  compared instead, and an AwaitingApproval message is compared with the operator's hash
  in place of simulate's;
- a rolling restart's `restartedAt`: the time of planning, a moment apart on each side;
- the guards simulate lists as `notChecked` (the pause switch, cooldown, the hourly rate
  limits, maxConcurrent, PromQL preconditions): each case runs on a new cluster with no
  past actions, no `remediator-config` ConfigMap and one payload's Incidents, and no
  golden policy has a precondition, so they all let the operator act here, as simulate
  assumes; a case whose decision depended on one would fail here and say so;
- a Resolved Incident's policy: the operator closes an Incident whose alert resolved before
  any action without matching a policy, while simulate names the policy that would have
  matched; and the wording of the NoPolicy and Resolved messages, which simulate words
  for someone reading a payload rather than an Incident.
"""

from __future__ import annotations

import copy
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from kube_emulator import Sandbox
from kube_emulator.api import Api
from remediator.bridge import BridgeConfig
from remediator.cli.files import load_objects
from remediator.core import alerts, reasons
from remediator.reconcile import OperatorConfig
from remediator_devtools.testing import OperatorThread
from support.crds import install_crds
from support.golden import GOLDEN, PAYLOADS, POLICIES, decided_at
from support.ports import free_port

from .conftest import APPROVAL_KEY, NS, Cluster, _configuration

pytestmark = pytest.mark.emulator_only(
    reason="the recorded objects are loaded with their own uids and creation times, which "
    "only the emulator's store lets a test set, and with no controller adding ReplicaSets "
    "or Pods"
)

GOLDEN_NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # tests/test_golden.py's NOW
TOKEN = "golden-bridge-token"
# phases the operator leaves only on an outside change (an approval, a resolution, a
# deadline, a revert that is due much later)
SETTLED = frozenset(
    {
        "AwaitingApproval",
        "Remediated",
        "Resolved",
        "NoPolicy",
        "Blocked",
        "Failed",
        "Escalated",
        "Rejected",
        "DryRun",
    }
)
TIMESTAMP = re.compile(r"^(\d{4})-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


# ----------------------------------------------------------------------- moving time
def shifted(value: Any, by: timedelta) -> Any:
    """`value` with every RFC 3339 timestamp in it moved by `by`, spelled as before (a
    fraction of a second kept as written). Alertmanager's zero time (`0001-01-01`, an
    alert's endsAt while it fires) stays."""
    if isinstance(value, dict):
        return {k: shifted(v, by) for k, v in value.items()}
    if isinstance(value, list):
        return [shifted(v, by) for v in value]
    if isinstance(value, str):
        found = TIMESTAMP.match(value)
        if found and int(found.group(1)) > 1970:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00")) + by
            return moment.strftime("%Y-%m-%dT%H:%M:%S") + (found.group(2) or "") + "Z"
    return value


# ------------------------------------------------------------------------ the cluster
def _resource(api: Api, obj: dict[str, Any]) -> tuple[str, str]:
    """The (group, plural) of a recorded object, from the emulator's own registry."""
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    for info in api.registry.resources_of(group, version):
        if info.kind == obj["kind"]:
            return group, info.plural
    raise AssertionError(f"the emulator serves no {obj['kind']} in {obj['apiVersion']}")


def load_state(box: Sandbox, objects: list[dict[str, Any]]) -> None:
    """Create the recorded objects, then give each the uid and creationTimestamp it was
    recorded with (the API server sets both on create; ownerReferences name the uids)."""

    def load() -> None:
        api = box.api
        for obj in objects:
            group, plural = _resource(api, obj)
            created = api.internal_create(group, plural, obj)
            recorded = {
                k: v for k, v in obj["metadata"].items() if k in ("uid", "creationTimestamp")
            }
            if not recorded:
                continue
            key = api.registry.find(group, plural).storage_key  # type: ignore[union-attr]
            meta = created["metadata"]
            old = api.store.get(key, meta.get("namespace", ""), meta["name"])
            assert old is not None
            new = copy.deepcopy(old)
            new["metadata"].update(recorded, resourceVersion=api.store.next_rv())
            api.store.commit(key, new, old)

    box.call(load)


def state_resources(api: Api) -> list[tuple[str, str]]:
    """The (group, plural) of every kind the recorded state has."""
    return sorted({_resource(api, o) for o in load_objects([GOLDEN / "state"])})


def served(box: Sandbox) -> list[dict[str, Any]]:
    """Every object of namespace shop of the recorded kinds, as the emulator serves it."""

    def export() -> list[dict[str, Any]]:
        return [
            obj
            for group, plural in state_resources(box.api)
            for obj in box.api.internal_list(group, plural, NS)
        ]

    return box.call(export)


@pytest.fixture
def golden_cluster(backend: str, tmp_path: Path) -> Iterator[Cluster]:
    """A new emulator with the CRDs and the namespaces, and no fixture controllers."""
    assert backend == "emulator"
    with Sandbox(
        kubeconfig=tmp_path / "kubeconfig",
        controllers=False,
        bookmark_interval=0.5,
        anonymous_is_admin=False,
    ) as box:
        api = client.ApiClient(_configuration(box))
        install_crds(api)
        core = client.CoreV1Api(api)
        for ns in (NS, "remediator-system"):
            core.create_namespace({"metadata": {"name": ns}})
        yield Cluster(box, api)
        api.close()


def apply_policies(cluster: Cluster) -> None:
    for path in sorted(POLICIES.glob("*.yaml")):
        for body in yaml.safe_load_all(path.read_text()):
            if isinstance(body, dict) and body.get("kind") == "RemediationPolicy":
                cluster.create("remediationpolicies", body)


def post(port: int, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/alerts",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.URLError as e:
            if isinstance(e, urllib.error.HTTPError) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # the bridge is not listening yet


def settled(cluster: Cluster, name: str, timeout: float = 20) -> dict[str, Any]:
    """The Incident once its phase is one the operator leaves only on an outside change,
    or (past planning) has not changed for a second."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = cluster.get("incidents", name)
        phase = (body.get("status") or {}).get("phase")
        if phase in SETTLED:
            return body
        if phase != last:
            last, since = phase, time.monotonic()
        elif phase not in (None, "Pending") and time.monotonic() - since >= 1:
            return body
        time.sleep(0.05)
    raise AssertionError(f"incident {name} did not settle; status: {body.get('status')}")


# ------------------------------------------------------------------------ simulate
def steps(plan: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A plan's steps as compared: a rolling restart's time of planning left out."""
    compared = []
    for step in (plan or {}).get("steps", []):
        desired = dict(step["desired"])
        if desired.get("mode") == "rolling":
            assert TIMESTAMP.match(desired.pop("restartedAt")), step
        compared.append(
            {k: step[k] for k in ("action", "target", "summary")} | {"desired": desired}
        )
    return compared


def the_decision(decision: dict[str, Any]) -> dict[str, Any]:
    """What must not change when the times move: outcome, reason, policy, target, steps."""
    return {
        "outcome": decision["outcome"],
        "reason": decision["reason"],
        "policy": decision["policy"],
        "target": decision["target"],
        "steps": steps(decision["plan"]),
        "missing": decision["missing"],
    }


# ----------------------------------------------------------------------------- test
def timeline(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list((body.get("status") or {}).get("timeline", []))


def decision_entry(body: dict[str, Any]) -> dict[str, Any]:
    """The timeline entry that tells the operator's decision, the one simulate's outcome is
    compared with: after a plan was made, the gate's (or the guards') entry right after
    Matched (the operator may have acted since); else the transition to the phase the
    Incident is in (notes after it, such as NotificationFailed, change no phase)."""
    entries = timeline(body)
    assert entries, body.get("status")
    reasons_told = [e["reason"] for e in entries]
    if reasons.MATCHED in reasons_told:
        after = len(reasons_told) - reasons_told[::-1].index(reasons.MATCHED)
        assert after < len(entries), reasons_told
        return entries[after]
    message = body["status"].get("message", "")
    told = [e for e in entries if e["message"] == message]
    assert told, (message, reasons_told)
    return told[-1]


def ended_as(outcome: str) -> str:
    """The phase an Incident settles in after simulate's outcome."""
    return "Remediated" if outcome == "Remediating" else outcome


def compared(
    decision: dict[str, Any], body: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What simulate decided and what the operator did, side by side, for one Incident."""
    status = body["status"]
    entry = decision_entry(body)
    did = {
        "severity": body["spec"]["severity"],
        "phase": status["phase"],
        "reason": entry["reason"],
        "message": entry["message"],
        "policy": status.get("policy"),
        "steps": steps(status.get("plan")),
    }
    message = decision["message"]
    if decision["plan"] and status.get("plan"):  # the plan hash binds the Incident's uid
        message = message.replace(decision["plan"]["hash"], status["plan"]["hash"])
    said = {
        "severity": decision["incident"]["severity"],
        "phase": ended_as(decision["outcome"]),
        "reason": decision["reason"],
        "message": message,
        "policy": decision["policy"],
        "steps": steps(decision["plan"]),
    }
    if decision["outcome"] in ("NoPolicy", "Resolved"):  # worded for a payload's reader
        del did["message"], said["message"]
    if decision["outcome"] == "Resolved":  # the operator matches no policy to close it
        del did["policy"], said["policy"]
    return said, did


def operator_config(port: int) -> OperatorConfig:
    """The operator with its bridge, routing as `simulate` is told to: any namespace not
    protected, alerts without one to shop; the default severities and protected namespaces."""
    bridge = BridgeConfig(
        token=TOKEN,
        port=port,
        allowed_namespaces=frozenset({alerts.ANY_NAMESPACE}),
        default_namespace=NS,
    )
    return OperatorConfig(
        tick_seconds=0.2, retry_seconds=0.3, approval_key=APPROVAL_KEY, bridge=bridge
    )


def workload_writes(box: Sandbox, since: int) -> list[str]:
    """Changing writes to the recorded objects' resources in shop since `since`."""
    kinds = {plural for _, plural in box.call(lambda: state_resources(box.api))}
    return [
        f"{w.verb} {w.resource}/{w.name}"
        for w in box.writes()[since:]
        if w.changed and w.namespace == NS and w.resource in kinds
    ]


@pytest.mark.parametrize("payload_file", PAYLOADS, ids=[p.stem for p in PAYLOADS])
def test_the_operator_ends_as_simulate_said(
    golden_cluster: Cluster, payload_file: Path, tmp_path: Path
) -> None:
    cluster = golden_cluster
    box = cluster.box
    assert isinstance(box, Sandbox) and box.kubeconfig is not None
    now = datetime.now(UTC).replace(microsecond=0)
    by = now - GOLDEN_NOW
    load_state(box, shifted(load_objects([GOLDEN / "state"]), by))
    apply_policies(cluster)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": served(box)}))
    payload = shifted(json.loads(payload_file.read_text()), by)
    alert_file = tmp_path / "alert.json"
    alert_file.write_text(json.dumps(payload))

    decisions = decided_at(alert_file, state, now.strftime("%Y-%m-%dT%H:%M:%SZ"), NS)["decisions"]
    golden = json.loads((GOLDEN / "expected" / payload_file.name).read_text())["decisions"]
    assert [the_decision(d) for d in decisions] == [the_decision(d) for d in golden], (
        "moving the times, or the objects as the emulator serves them, changed simulate's decision"
    )

    port = free_port()
    mark = len(box.writes())
    with OperatorThread(box.kubeconfig, operator_config(port)):
        answer = post(port, payload)
        results = answer["incidents"]
        assert len(results) == len(decisions), answer
        bodies = {
            r["incident"]: settled(cluster, r["incident"].split("/")[1])
            for r in results
            if r["result"] == "created"
        }
    filed: list[str] = []
    for decision, result in zip(decisions, results, strict=True):
        outcome = decision["outcome"]
        where = f"{payload_file.stem}, alert {decision['alert']['fingerprint']}"
        if outcome == "Dropped":
            assert result == {"incident": "", "result": "skipped"}, where
            continue
        ref = f"{decision['incident']['namespace']}/{decision['incident']['name']}"
        assert result["incident"] == ref, where
        if outcome == "Duplicate":  # the earlier alert's Incident, found, not created again
            assert (result["result"], ref in filed) == ("unchanged", True), where
            continue
        assert result["result"] == "created", where
        filed.append(ref)
        said, did = compared(decision, bodies[ref])
        told = [e["reason"] for e in timeline(bodies[ref])]
        assert did == said, f"{where}: the operator's timeline {told}"
    incidents = cluster.custom.list_namespaced_custom_object(
        "remediator.dev", "v1alpha1", NS, "incidents"
    )["items"]
    assert sorted(f"{NS}/{i['metadata']['name']}" for i in incidents) == sorted(filed)
    # only a plan the gate let through changed anything
    changed = workload_writes(box, mark)
    acted = any(d["outcome"] == "Remediating" for d in decisions)
    assert bool(changed) == acted, changed
