"""Scope and approval attacks, fuzzed: whoever creates, edits, deletes Incidents or writes
their status may ask, but only the policies and the approvers decide (issue 17).

The real operator runs against the embedded emulator. Each example gets a namespace of its
own with a few bounded policies (a `selector` on `remediator.dev/managed: "true"`, a `names`
list, both, and one fixed `target.name`) and many Deployments, some opted in, some not.
Hypothesis then plays a sequence of attacks, one at a time, each waited on until the
operator is done with it:

* Incidents with random alertnames, severities, labels and explicit `spec.target`;
* approvals by alice or bob, of the current plan or of a stale one (a plan of an edited
  spec, or of the deleted incident of the same name);
* spec edits after planning, through admission (refused once planned) and past it (an
  admin who removed the webhooks: the operator must re-plan and void the approvals);
* delete and create again under the same name;
* forged status writes (as *ops*, who may write `incidents/status`): a plan written by
  hand (aimed anywhere), counted approvals, a sealed status copied from another Incident
  or from the deleted one of the same name, a made-up past action.

The invariant is checked from the emulator's write log after every step: each write to a
Deployment (or its scale subresource) or a NetworkPolicy is to the workload that this
step's incident resolves to under the policies (fixed name, or within the bounds on the
live object), by an incident whose plan was allowed (approval mode auto for its severity,
or enough distinct approvals of its current plan), and to a workload not acted on before
in the namespace (every policy has a 1h cooldown: a re-created incident never gets past
it). A forged status causes no write at all.

Two attacks found by this file have their own tests: a status reset to look untouched
(refused: the guard ledger holds the incident's past actions), and a made-up past action in
a status (the guards count only the ledger, which only the operator writes).

The counts (sequences tried, attacks that got the operator to do what it should not) go to
the figures of `make chaos` (`tests/hostile/figures.py`, section `scope_fuzz`).
"""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from kubernetes import client, config

from flows.conftest import APPROVAL_KEY, Cluster
from kube_emulator import Sandbox
from remediator.core import lifecycle, planning, status_seal
from remediator.core.models import Incident
from remediator_devtools.testing import OperatorThread
from support.policies import GROUP, VERSION
from support.workloads import deployment

from . import figures
from .fuzzing import SETTLED, fuzz

pytestmark = pytest.mark.emulator_only(
    reason="reads the emulator's write log step by step; sized for the emulator's speed"
)

EXAMPLES = 14
MANAGED = {"remediator.dev/managed": "true"}
WORKLOADS: dict[str, dict[str, str]] = {
    "web": MANAGED,
    "api": MANAGED,
    "worker": MANAGED,
    "search": MANAGED,
    "cache": {},
    "db": {},
    "billing": {},
    "payments": {"remediator.dev/managed": "false"},
}
COOLDOWN = {"cooldown": "1h", "maxActionsPerTargetPerHour": 10, "maxActionsPerPolicyPerHour": 100}
APPROVAL = {"P0": {"mode": "required", "approvers": 2}, "P1": {"mode": "required"}}
NEEDED = {"P0": 2, "P1": 1, "P2": 0, "P3": 0}


@dataclass(frozen=True)
class Policy:
    name: str
    alert: str
    target: dict[str, Any]
    step: dict[str, Any]

    @property
    def spec(self) -> dict[str, Any]:
        return {
            "match": {"alertnames": [self.alert]},
            "target": {"kind": "Deployment", **self.target},
            "steps": [self.step],
            "approval": APPROVAL,
            "guards": COOLDOWN,
        }

    def resolve(self, spec: dict[str, Any]) -> str | None:
        """The workload this policy may act on for an Incident of `spec`, None when none:
        the model the operator is held to (fixed name never overridden; a name from the
        incident within `names` and the `selector` on the live workload)."""
        explicit = (spec.get("target") or {}).get("name")
        fixed = self.target.get("name")
        if fixed is not None:
            return fixed if explicit in (None, fixed) and fixed in WORKLOADS else None
        name = (
            explicit
            if explicit is not None
            else (spec.get("labels") or {}).get(self.target["nameFromLabel"])
        )
        if name not in WORKLOADS:
            return None
        if "names" in self.target and name not in self.target["names"]:
            return None
        wanted = (self.target.get("selector") or {}).get("matchLabels") or {}
        if any(WORKLOADS[name].get(k) != v for k, v in wanted.items()):
            return None
        return str(name)


POLICIES = [
    Policy(
        "by-selector",
        "HighErrorRate",
        {"nameFromLabel": "deployment", "selector": {"matchLabels": MANAGED}},
        {"action": "scale", "to": 5, "max": 10},
    ),
    Policy(
        "by-names",
        "HighLatency",
        {"nameFromLabel": "workload", "names": ["api", "db", "ghost"]},
        {"action": "restartPods", "mode": "rolling"},
    ),
    Policy(
        "by-both",
        "QueueBacklog",
        {
            "nameFromLabel": "deployment",
            "selector": {"matchLabels": MANAGED},
            "names": ["web", "worker", "billing"],
        },
        {"action": "isolatePods"},
    ),
    Policy("fixed", "CacheDown", {"name": "cache"}, {"action": "scale", "to": 3, "max": 10}),
]
BY_ALERT = {p.alert: p for p in POLICIES}

# --------------------------------------------------------------------------- strategies
# The first member of each list is what hypothesis tries first (its simplest example): the
# lists start with what makes the operator act, so the early examples are not all refusals.
ALERTS = [*BY_ALERT, "Unmatched"]
NAMES = ["web", *[w for w in WORKLOADS if w != "web"], "ghost", "Web", "web.shop", "../db"]
SEVERITIES = ["P2", "P3", "P1", "P0"]
severities = st.sampled_from(SEVERITIES)
other_labels = st.dictionaries(
    st.sampled_from(["app", "deployment", "workload"]), st.sampled_from(NAMES), max_size=1
)
targets = st.one_of(
    st.none(),
    st.builds(lambda n: {"kind": "Deployment", "name": n}, st.sampled_from([*WORKLOADS, "ghost"])),
)


@st.composite
def incident_specs(draw: st.DrawFn) -> dict[str, Any]:
    """An Incident for one of the policies (or none): mostly with the label its policy
    reads, naming a workload inside or outside its bounds; sometimes an explicit target."""
    alert = draw(st.sampled_from(ALERTS))
    policy = BY_ALERT.get(alert)
    key = (policy.target.get("nameFromLabel") if policy else None) or "deployment"
    labels = draw(other_labels)
    if draw(st.integers(0, 5)) != 5:
        labels[key] = draw(st.sampled_from(NAMES))
    spec: dict[str, Any] = {
        "alertname": alert,
        "severity": draw(severities),
        "labels": labels,
    }
    if draw(st.integers(0, 3)) == 3:
        spec["target"] = draw(targets)
        if spec["target"] is None:
            del spec["target"]
    return spec


edits = st.fixed_dictionaries(
    {},
    optional={
        "severity": severities,
        "labels": st.builds(lambda n: {"deployment": n, "workload": n}, st.sampled_from(NAMES)),
        "target": targets,
    },
).filter(bool)
FORGERIES = [
    "by-hand",
    "counted-approvals",
    "copied-seal",
    "previous-incarnation",
    "history",
    "reset",
]
ops = st.one_of(
    st.tuples(st.just("create"), incident_specs()),
    st.tuples(st.just("create"), incident_specs()),
    st.tuples(
        st.just("approve"), st.integers(0, 9), st.sampled_from(["alice", "bob"]), st.booleans()
    ),
    st.tuples(st.just("edit"), st.integers(0, 9), edits, st.booleans()),
    st.tuples(st.just("recreate"), st.integers(0, 9), st.booleans()),
    st.tuples(
        st.just("forge"),
        st.integers(0, 9),
        st.sampled_from(FORGERIES),
        st.sampled_from(sorted(WORKLOADS)),
    ),
)
sequences = st.tuples(incident_specs(), st.lists(ops, min_size=2, max_size=5))


# ------------------------------------------------------------------------------ the world
FINAL = lifecycle.TERMINAL | {"Remediated"}  # the operator looks at these no more
QUIET = 0.35  # an incident settled and unchanged this long: the operator is done with it


def seen_generation(body: dict[str, Any]) -> bool:
    status = body.get("status") or {}
    return bool(status.get("observedGeneration") == body["metadata"].get("generation"))


def sealed_by_operator(body: dict[str, Any]) -> bool:
    try:
        return status_seal.verifies(APPROVAL_KEY, Incident.model_validate(body))
    except ValueError:
        return False


def request_key(spec: dict[str, Any]) -> str:
    """What an approval of a plan is an approval of, besides the incident's uid."""
    return json.dumps({k: v for k, v in spec.items() if k != "alertStatus"}, sort_keys=True)


@dataclass
class Tracked:
    """One Incident name in the namespace, as the test knows it."""

    name: str
    uid: str
    spec: dict[str, Any]
    # (uid, request) → who approved a plan made for it
    approvals: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    hashes: list[str] = field(default_factory=list)  # every plan hash seen for this name
    previous_status: dict[str, Any] | None = None  # the deleted incarnation's, sealed


def workload_of(resource: str, name: str) -> str:
    if resource == "networkpolicies" and name.startswith(planning.ISOLATE_PREFIX):
        return name[len(planning.ISOLATE_PREFIX) :]
    return name


@dataclass
class World:
    cluster: Cluster
    namespace: str
    users: dict[str, client.CustomObjectsApi]
    stats: Counter[str]
    tracked: list[Tracked] = field(default_factory=list)
    acted: set[str] = field(default_factory=set)
    serial: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def box(self) -> Sandbox:
        assert isinstance(self.cluster.box, Sandbox)
        return self.cluster.box

    # ------------------------------------------------------------------ API helpers
    def get(self, name: str) -> dict[str, Any] | None:
        try:
            return self.cluster.get("incidents", name, self.namespace)
        except client.ApiException as e:
            if e.status == 404:
                return None
            raise

    def create(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Incident",
            "metadata": {"name": name},
            "spec": spec,
        }
        created: dict[str, Any] = self.users["mallory"].create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "incidents", body
        )
        return created

    def settle(
        self, name: str, until: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """The incident once the operator is done with it: in a settled phase, past `until`
        unless in a phase the operator never looks at again, and unchanged for QUIET."""
        deadline = time.monotonic() + 15
        last: tuple[str, float] | None = None
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.get(name) or {}
            status = body.get("status") or {}
            rv = (body.get("metadata") or {}).get("resourceVersion", "")
            phase = status.get("phase")
            done = phase in SETTLED and (until is None or phase in FINAL or until(body))
            if not done:
                last = None
            elif last is None or last[0] != rv:
                last = (rv, time.monotonic())
            elif time.monotonic() - last[1] >= QUIET:
                return body
            time.sleep(0.03)
        self.problems.append(f"{self.namespace}/{name} did not settle: {body.get('status')}")
        return body

    def workload_writes(self, since: int) -> list[tuple[str, str, str]]:
        """(resource, subresource, workload) of the writes to Deployments (and their scale)
        and NetworkPolicies of the namespace since the mark, by anyone but the test."""
        return [
            (w.resource, w.subresource, workload_of(w.resource, w.name))
            for w in self.box.writes()[since:]
            if w.changed
            and w.namespace == self.namespace
            and (
                (w.resource == "deployments" and w.subresource in ("", "scale"))
                or w.resource == "networkpolicies"
            )
        ]

    # ------------------------------------------------------------------------ model
    def allowed(self, tracked: Tracked) -> tuple[str | None, str]:
        """The workload this incident may act on now, and why not when None."""
        policy = BY_ALERT.get(tracked.spec.get("alertname", ""))
        if policy is None:
            return None, "no policy matches"
        target = policy.resolve(tracked.spec)
        if target is None:
            return None, f"policy {policy.name} allows no workload for {tracked.spec}"
        approvers = tracked.approvals.get((tracked.uid, request_key(tracked.spec)), set())
        needed = NEEDED[tracked.spec["severity"]]
        if len(approvers) < needed:
            return None, f"{len(approvers)} of {needed} approvals of the current plan"
        return target, ""

    def judge(self, what: str, tracked: Tracked, since: int, *, forged: bool = False) -> None:
        """The writes of this step: none for a forgery; else only to the workload the
        incident may act on, allowed, and not acted on before (cooldown)."""
        writes = self.workload_writes(since)
        if not writes:
            return
        self.stats["steps_that_wrote"] += 1
        if forged:
            self.problems.append(f"{what}: a forged status made the operator write {writes}")
            return
        target, why = self.allowed(tracked)
        for _resource, _sub, workload in writes:
            if target is None:
                self.problems.append(f"{what}: wrote {workload} although {why}")
            elif workload != target:
                self.problems.append(f"{what}: wrote {workload}, the incident may act on {target}")
            elif workload in self.acted:
                self.problems.append(f"{what}: acted on {workload} again within its cooldown")
        self.acted |= {w for _, _, w in writes}

    # -------------------------------------------------------------------------- steps
    def pick(self, index: int) -> Tracked | None:
        return self.tracked[index % len(self.tracked)] if self.tracked else None

    def pick_stored(self, index: int) -> tuple[Tracked, dict[str, Any]] | None:
        """A tracked incident and its body, if there is one and it is still stored."""
        tracked = self.pick(index)
        body = None if tracked is None else self.get(tracked.name)
        return None if tracked is None or body is None else (tracked, body)

    def remember(self, tracked: Tracked, body: dict[str, Any]) -> None:
        plan = (body.get("status") or {}).get("plan") or {}
        if plan.get("hash") and plan["hash"] not in tracked.hashes:
            tracked.hashes.append(plan["hash"])

    def step_create(self, spec: dict[str, Any]) -> None:
        self.serial += 1
        name = f"inc-{self.serial}"
        mark = len(self.box.writes())
        created = self.create(name, spec)
        tracked = Tracked(name, created["metadata"]["uid"], copy.deepcopy(spec))
        self.tracked.append(tracked)
        self.remember(tracked, self.settle(name))
        self.judge(f"create {name} {spec}", tracked, mark)

    def step_approve(self, index: int, approver: str, stale: bool) -> None:
        tracked = self.pick(index)
        if tracked is None:
            return
        body = self.get(tracked.name) or {}
        current = ((body.get("status") or {}).get("plan") or {}).get("hash")
        older = [h for h in tracked.hashes if h != current]
        plan_hash = older[-1] if stale and older else current
        if plan_hash is None:
            return
        mark = len(self.box.writes())
        approval = self.cluster.approve(
            tracked.name, f"{approver}@example.com", plan_hash=plan_hash, namespace=self.namespace
        )["metadata"]["name"]
        if plan_hash == current and body["metadata"]["uid"] == tracked.uid:
            key = (tracked.uid, request_key(tracked.spec))
            tracked.approvals.setdefault(key, set()).add(approver)
        else:
            self.stats["stale_approvals"] += 1

        def looked_at(body: dict[str, Any]) -> bool:
            status = body.get("status") or {}
            recorded = {a.get("name") for a in status.get("approvals") or []}
            return status.get("phase") != "AwaitingApproval" or approval in recorded

        self.remember(tracked, self.settle(tracked.name, looked_at))
        self.judge(f"approve {tracked.name} by {approver} (stale={stale})", tracked, mark)

    def step_edit(self, index: int, changes: dict[str, Any], past_admission: bool) -> None:
        picked = self.pick_stored(index)
        if picked is None:
            return
        tracked, body = picked
        spec = {**body["spec"], **changes}
        spec = {k: v for k, v in spec.items() if v is not None}
        if "target" in changes and changes["target"] is None:
            spec.pop("target", None)
        status = body.get("status") or {}
        planned = status.get("phase", "Pending") != "Pending" or bool(status.get("plan"))
        mark = len(self.box.writes())
        if past_admission:
            self.stats["edits_past_admission"] += 1
            stored = copy.deepcopy(body)
            stored["spec"] = spec
            self.box.call(lambda: self.box.api.internal_update(GROUP, "incidents", stored))
        else:
            try:
                self.users["mallory"].patch_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, "incidents", tracked.name, {"spec": spec}
                )
            except client.ApiException as e:
                if e.status != 422 or "spec." not in str(e.body):
                    self.problems.append(f"edit {tracked.name}: {e.status} {e.body}")
                if not planned or spec == body["spec"]:
                    self.problems.append(f"edit {tracked.name} before planning refused: {e.body}")
                self.stats["edits_refused"] += 1
                return
            if planned and spec != body["spec"]:
                self.problems.append(f"edit {tracked.name} of a planned spec was admitted")
        tracked.spec = spec
        self.remember(tracked, self.settle(tracked.name, seen_generation))
        self.judge(f"edit {tracked.name} → {spec} (past admission={past_admission})", tracked, mark)

    def step_recreate(self, index: int, same: bool) -> None:
        tracked = self.pick(index)
        if tracked is None:
            return
        old = self.get(tracked.name)
        mark = len(self.box.writes())
        if old is not None:
            tracked.previous_status = old.get("status")
            self.users["mallory"].delete_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "incidents", tracked.name
            )
            self.cluster.wait_for(
                f"{tracked.name} to be gone", lambda: self.get(tracked.name) is None
            )
        spec = tracked.spec if same else {**tracked.spec, "summary": "again"}
        created = self.create(tracked.name, spec)
        tracked.uid, tracked.spec = created["metadata"]["uid"], copy.deepcopy(spec)
        self.remember(tracked, self.settle(tracked.name))
        self.judge(f"recreate {tracked.name}", tracked, mark)

    def step_wait(self) -> None:
        time.sleep(1.1)

    def step_forge(self, index: int, how: str, victim: str) -> None:
        picked = self.pick_stored(index)
        if picked is None:
            return
        tracked, body = picked
        own = copy.deepcopy(body.get("status") or {})
        others: list[dict[str, Any]] = [
            b["status"]
            for t in self.tracked
            if t is not tracked and (b := self.get(t.name)) and (b.get("status") or {}).get("seal")
        ]
        forged = self.forgery(how, victim, tracked, own, others)
        self.stats[f"forged_{how}"] += 1
        mark = len(self.box.writes())
        # one write that replaces the whole status, as `kubectl replace --subresource` does
        self.users["ops"].replace_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, "incidents", tracked.name, {**body, "status": forged}
        )
        after = self.settle(tracked.name, sealed_by_operator)
        if not sealed_by_operator(after):
            self.stats["forgeries_left_in_status"] += 1  # final phases are not looked at
        time.sleep(0.2)  # a late action would show now
        self.judge(f"forge {how} on {tracked.name} ({victim})", tracked, mark, forged=True)

    def forgery(
        self,
        how: str,
        victim: str,
        tracked: Tracked,
        own: dict[str, Any],
        others: list[dict[str, Any]],
    ) -> dict[str, Any]:
        step = {
            "index": 0,
            "action": "scale",
            "target": f"Deployment/{victim}",
            "summary": f"scale Deployment/{victim} 2 → 7",
            "desired": {"via": "scale", "replicas": 7, "previous": 2},
        }
        plan_hash = (own.get("plan") or {}).get("hash") or "e" * 16
        approved = [
            {
                "name": f"{tracked.name}-{who}",
                "approver": f"{who}@example.com",
                "decision": "approve",
                "planHash": plan_hash,
                "counted": True,
            }
            for who in ("alice", "bob")
        ]
        if how == "by-hand":
            return {
                "phase": "Remediating",
                "policy": "by-selector",
                "plan": {"hash": "f" * 16, "steps": [step]},
                "actions": [{"index": 0, "action": "scale", "target": step["target"]}],
                "seal": "0" * 64,
            }
        if how == "counted-approvals" and own.get("plan"):
            own.pop("seal", None)
            return {**own, "phase": "Matched", "approvals": approved}
        if how == "copied-seal" and others:
            return copy.deepcopy(others[-1])
        if how == "previous-incarnation" and tracked.previous_status:
            return copy.deepcopy(tracked.previous_status)
        if how == "reset":
            return {"phase": "Pending"}
        if how == "history":  # a past action made up, to trip the guards
            at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            return {
                # with the generation seen, the operator has no reason to look again
                "observedGeneration": own.get("observedGeneration", 1),
                "phase": "Remediated",
                "policy": "by-names",
                "actions": [
                    {
                        "index": 0,
                        "action": "restartPods",
                        "target": f"Deployment/{victim}",
                        "state": "Applied",
                        "startedAt": at,
                        "finishedAt": at,
                    }
                ],
            }
        return {
            "phase": "Matched",
            "policy": "by-selector",
            "plan": {"hash": plan_hash, "steps": [step]},
            "approvals": approved,
        }


def _examples(known: list[Any]) -> Callable[[Any], Any]:
    def decorate(test: Any) -> Any:
        for sequence in reversed(known):
            test = example(sequence=sequence)(test)
        return test

    return decorate


def as_user(box: Sandbox, name: str, path: Path) -> client.CustomObjectsApi:
    configuration = client.Configuration()
    config.load_kube_config(
        config_file=str(box.kubeconfig_for(name, path)), client_configuration=configuration
    )
    return client.CustomObjectsApi(client.ApiClient(configuration))


def build_namespace(cluster: Cluster, namespace: str) -> None:
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    for name, extra in WORKLOADS.items():
        cluster.apps.create_namespaced_deployment(
            namespace, deployment(name, labels={"app": name, **extra})
        )
    for policy in POLICIES:
        cluster.policy(policy.name, policy.spec, namespace)
    cluster.box.settle()


# --------------------------------------------------------------------------- the test
def spec(alert: str, severity: str, workload: str, **extra: Any) -> dict[str, Any]:
    policy = BY_ALERT[alert]
    key = policy.target.get("nameFromLabel") or "deployment"
    return {"alertname": alert, "severity": severity, "labels": {key: workload}, **extra}


BILLING = {"kind": "Deployment", "name": "billing"}

# The attacks of issue 17, always tried (hypothesis runs these before its own).
KNOWN_ATTACKS = [
    # deleted and created again after acting: the cooldown holds
    (spec("HighLatency", "P3", "api"), [("recreate", 0, True), ("recreate", 0, False)]),
    # approval replay: approved, acted, re-created; alice's approval of the old plan
    (
        spec("HighLatency", "P1", "db"),
        [("approve", 0, "alice", False), ("recreate", 0, True), ("approve", 0, "alice", True)],
    ),
    # severity raised past admission while waiting: one approval no longer suffices
    (
        spec("QueueBacklog", "P1", "web"),
        [
            ("approve", 0, "alice", False),
            ("edit", 0, {"severity": "P0"}, True),
            ("approve", 0, "bob", True),
            ("forge", 0, "counted-approvals", "web"),
        ],
    ),
    # explicit targets outside the fixed name and the bounds
    (
        spec("CacheDown", "P3", "cache", target={"kind": "Deployment", "name": "payments"}),
        [
            (
                "create",
                spec(
                    "HighErrorRate", "P3", "web", target={"kind": "Deployment", "name": "billing"}
                ),
            ),
            ("create", spec("HighLatency", "P2", "web")),
            ("create", spec("QueueBacklog", "P2", "billing")),
        ],
    ),
    # a sealed status copied from another incident, a plan written by hand
    (
        spec("HighErrorRate", "P1", "search"),
        [
            ("create", spec("HighLatency", "P2", "db")),
            ("forge", 0, "copied-seal", "search"),
            ("create", spec("HighErrorRate", "P0", "api")),
            ("forge", 2, "by-hand", "payments"),
        ],
    ),
    # a deleted incident's sealed status written onto its successor
    (
        spec("HighErrorRate", "P1", "api"),
        [("recreate", 0, True), ("forge", 0, "previous-incarnation", "api")],
    ),
]


@dataclass
class Attacker:
    """Plays attack sequences, each in a namespace of its own, and counts them."""

    cluster: Cluster
    users: dict[str, client.CustomObjectsApi]
    stats: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def play(self, sequence: tuple[dict[str, Any], list[tuple[Any, ...]]]) -> World:
        first, steps = sequence
        self.stats["sequences"] += 1
        namespace = f"scope-{self.stats['sequences']}"
        build_namespace(self.cluster, namespace)
        world = World(self.cluster, namespace, self.users, self.stats)
        world.step_create(first)
        for kind, *args in steps:
            self.stats[f"steps_{kind}"] += 1
            begun = time.monotonic()
            getattr(world, f"step_{kind}")(*args)
            self.seconds[kind] = self.seconds.get(kind, 0.0) + time.monotonic() - begun
        if world.problems:
            self.stats["succeeded"] += 1
            self.failures.extend(world.problems)
        return world

    def record(self) -> None:
        """Into the figures of `make chaos`: every sequence is an attack tried; one that
        made the operator write what it should not has succeeded."""
        tried, succeeded = self.stats["sequences"], self.stats["succeeded"]
        figures.add(
            "scope_fuzz",
            cases=tried,
            scope_attacks=tried,
            scope_attacks_succeeded=succeeded,
            **{k: v for k, v in self.stats.items() if k not in ("sequences", "succeeded")},
        )


@pytest.fixture
def attacker(cluster: Cluster, operator: OperatorThread, tmp_path: Path) -> Iterator[Attacker]:
    assert isinstance(cluster.box, Sandbox)
    users = {name: as_user(cluster.box, name, tmp_path / name) for name in ("mallory", "ops")}
    attacker = Attacker(cluster, users)
    started = time.monotonic()
    try:
        yield attacker
    finally:
        attacker.record()
        print(
            f"scope attacks: {dict(attacker.stats)} in {time.monotonic() - started:.1f}s"
            f" ({ {k: round(v, 1) for k, v in attacker.seconds.items()} })"
        )


def test_scope_and_approval_attacks_never_make_the_operator_act_outside_its_policies(
    attacker: Attacker,
) -> None:
    @fuzz(EXAMPLES, shrink=False)
    @given(sequence=sequences)
    @_examples(KNOWN_ATTACKS)
    def attacks(sequence: tuple[dict[str, Any], list[tuple[Any, ...]]]) -> None:
        world = attacker.play(sequence)
        assert world.problems == [], world.problems

    attacks()
    assert attacker.failures == []
    # not vacuous: the operator did act where the policies allowed it, and refused the rest
    assert attacker.stats["steps_that_wrote"] >= 5, attacker.stats
    assert attacker.stats["sequences"] == EXAMPLES + len(KNOWN_ATTACKS)


def test_a_status_reset_to_untouched_never_makes_an_incident_act_again(
    attacker: Attacker,
) -> None:
    # a second later, a rolling restart stamps another time: it is a change again
    world = attacker.play(
        (spec("HighLatency", "P2", "api"), [("wait",), ("forge", 0, "reset", "api")])
    )
    assert world.acted == {"api"}, "the first restart did not happen"
    assert world.problems == []


def test_a_forged_history_never_blocks_a_remediation(attacker: Attacker) -> None:
    # a made-up past action on api, in the status of an incident that did nothing; with
    # status.observedGeneration set, the operator never looks at it again
    world = attacker.play(
        (
            {"alertname": "Unmatched", "severity": "P3", "labels": {}},
            [("forge", 0, "history", "api"), ("create", spec("HighLatency", "P2", "api"))],
        )
    )
    assert world.problems == []
    if world.acted != {"api"}:
        attacker.stats["succeeded"] += 1  # denied: the forged past refused a remediation
    body = world.get("inc-2") or {}
    assert world.acted == {"api"}, (body.get("status") or {}).get("message")
