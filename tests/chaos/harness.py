"""Chaos runs: the real operator (a child process) on the emulator, under injected faults,
SIGKILLs and a second replica, with every change to a target counted from the write log.

`run_faults_and_kills` creates incidents across every action (rollback, restartPods rolling
and evict, scale through /scale and through an HPA, circuitBreaker, suspendCronJobs; each on
its own target so no guard refuses; P2 auto, some P1 approved by a user through the
operator's admission webhook) while about `fault_rate` of the operator's API requests fail
(500/503/409/429, answers lost after the write, hung requests), its watches are dropped and
get 410 Gone on re-watch, and the operator is SIGKILLed `kills` times at seeded random
moments and started again. Every incident must be Remediated, and each planned change made
exactly once: one changing write of the planned kind per target, by the operator.

On the real control plane (`plane`, from `tests/real`) the faults come from a proxy in front
of kube-apiserver, the writes are read from the API server's audit log, and the run can also
SIGKILL kube-apiserver (`apiserver_restarts`) and etcd (`etcd_restarts`, its data dir kept)
at seeded random moments among the incidents, and start them again as kwokctl did: the
operator's requests in flight are cut, its watches end, and it must carry on.

`run_peering` starts two replicas with Kopf peering and their own identities: only the
higher-priority one writes to targets; after a SIGKILL the standby takes over within the
peering lifetime and completes new incidents.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import urllib3
import yaml
from kubernetes import client
from kubernetes import config as kube_config

from kube_emulator import Sandbox, WriteRecord
from remediator.core import ledger
from remediator_devtools.testing import OperatorProcess
from support.ports import free_port
from support.waiting import wait_for
from support.workloads import cron_job

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION = "remediator.dev", "v1alpha1"
NS = "chaos"
APPROVER = "alice@example.com"
ACTIONS = ("scale", "hpa", "rollback", "restart", "evict", "breaker", "cronjobs")
TARGET_RESOURCES = {"deployments", "horizontalpodautoscalers", "configmaps", "cronjobs", "pods"}
# what the operator reads, and what it writes (its own status included)
READS = (
    "incidents",
    "remediationpolicies",
    "approvals",
    "deployments",
    "replicasets",
    "pods",
    "horizontalpodautoscalers",
    "configmaps",
    "cronjobs",
)
WRITES: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("deployments", None, ("patch",)),  # the Deployment and its /scale
    ("horizontalpodautoscalers", "", ("patch",)),
    ("configmaps", "", ("patch",)),
    ("cronjobs", "", ("patch",)),
    ("pods", "eviction", ("create",)),
    ("incidents", "status", ("patch",)),
)
STOP_LABEL = "chaos.remediator.dev/incident"


@dataclass
class Planned:
    """One incident and the change it must make, once."""

    name: str
    kind: str
    severity: str
    deployment: str
    expected: list[tuple[str, str, str, str]] = field(default_factory=list)


@dataclass
class Result:
    scenario: str
    incidents: int = 0
    faults: int = 0
    faults_by_kind: dict[str, int] = field(default_factory=dict)
    kills: int = 0
    apiserver_restarts: int = 0
    etcd_restarts: int = 0
    duplicates: int = 0
    lost: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    phases: Counter[str] = field(default_factory=Counter)
    takeover_seconds: float | None = None
    # on the real control plane: the operator's writes kube-apiserver refused with a 403
    # (its identity may do anything: a restarted server does so until its RBAC caches sync)
    forbidden: int = 0
    # evictions made while kube-apiserver was SIGKILLed: the pod is gone, but the server died
    # between etcd's commit and its audit entry (see `unaudited_eviction`)
    unaudited: int = 0
    outages: list[tuple[float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.scenario}: {self.incidents} incidents ({dict(self.phases)}), "
            f"{self.faults} faults {self.faults_by_kind}, {self.kills} kills, "
        )
        if self.apiserver_restarts or self.etcd_restarts:
            text += (
                f"{self.apiserver_restarts} apiserver restarts, "
                f"{self.etcd_restarts} etcd restarts, "
            )
        if self.forbidden:
            text += f"{self.forbidden} writes refused 403, "
        if self.unaudited:
            text += f"{self.unaudited} evictions unaudited (server killed mid-request), "
        text += f"{self.duplicates} duplicate, {self.lost} lost, {self.seconds:.1f}s"
        if self.takeover_seconds is not None:
            text += f", takeover in {self.takeover_seconds:.1f}s"
        return text


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------ the cluster
class Cluster:
    """The emulator with the CRDs, the test's admin client, and helpers."""

    def __init__(self, box: Sandbox, workdir: Path) -> None:
        self.box = box
        self.workdir = workdir
        configuration = client.Configuration()
        kube_config.load_kube_config(
            config_file=str(box.kubeconfig), client_configuration=configuration
        )
        self.api = client.ApiClient(configuration)
        self.custom = client.CustomObjectsApi(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self._approver: client.CustomObjectsApi | None = None

    def install(self, peering: bool = False) -> None:
        """The CRDs and namespaces (on the real cluster the session has made ours already)."""
        ext = client.ApiextensionsV1Api(self.api)
        docs = [yaml.safe_load(path.read_text()) for path in sorted((ROOT / "crds").glob("*.yaml"))]
        if peering:
            docs += [
                doc
                for doc in yaml.safe_load_all((ROOT / "deploy/crds/kopf-peering.yaml").read_text())
                if doc
            ]
        for doc in docs:
            _create(lambda doc=doc: ext.create_custom_resource_definition(doc))
        for doc in docs:
            self.wait_for(
                f"CRD {doc['metadata']['name']} established",
                lambda doc=doc: any(
                    c.type == "Established" and c.status == "True"
                    for c in ext.read_custom_resource_definition(
                        doc["metadata"]["name"]
                    ).status.conditions
                    or []
                ),
            )
        for ns in (NS, "remediator-system"):
            _create(lambda ns=ns: self.core.create_namespace({"metadata": {"name": ns}}))

    def close(self) -> None:
        self.api.close()

    # -- objects
    def deployment(self, name: str, replicas: int, image: str = "v1") -> None:
        self.apps.create_namespaced_deployment(
            NS,
            {
                "metadata": {"name": name},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {
                            "containers": [{"name": "app", "image": f"example/{name}:{image}"}]
                        },
                    },
                },
            },
        )

    def new_image(self, name: str, image: str) -> None:
        self.apps.patch_namespaced_deployment(
            name,
            NS,
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "app", "image": f"example/{name}:{image}"}]
                        }
                    }
                }
            },
        )

    def policy(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            "remediationpolicies",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "RemediationPolicy",
                "metadata": {"name": name},
                "spec": spec,
            },
        )

    def incident(self, planned: Planned) -> None:
        # once more if kube-apiserver's restart cut the connection: a 409 then means it's there
        _create(lambda: again_if_cut(lambda: self._create_incident(planned)))

    def _create_incident(self, planned: Planned) -> None:
        self.custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            "incidents",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Incident",
                "metadata": {"name": planned.name},
                "spec": {
                    "alertname": alertname(planned),
                    "severity": planned.severity,
                    "labels": {"deployment": planned.deployment},
                },
            },
        )

    def incidents(self) -> dict[str, dict[str, Any]]:
        items = self.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "incidents")
        return {i["metadata"]["name"]: i for i in items["items"]}

    def approve(self, incident: dict[str, Any]) -> bool:
        """An Approval of the incident's plan by a user, through the admission webhook."""
        if self._approver is None:
            path = self.box.kubeconfig_for(APPROVER, self.workdir / "approver.kubeconfig")
            configuration = client.Configuration()
            kube_config.load_kube_config(config_file=str(path), client_configuration=configuration)
            self._approver = client.CustomObjectsApi(client.ApiClient(configuration))
        name = incident["metadata"]["name"]
        try:
            self._approver.create_namespaced_custom_object(
                GROUP,
                VERSION,
                NS,
                "approvals",
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Approval",
                    "metadata": {"generateName": f"{name}-"},
                    "spec": {
                        "incident": name,
                        "decision": "approve",
                        "planHash": incident["status"]["plan"]["hash"],
                    },
                },
            )
        except client.ApiException as e:  # the webhook is down while the operator restarts
            log(f"approval of {name} refused for now: {e.status} {e.reason}")
            return False
        except CUT as e:  # kube-apiserver restarted under the test's pooled connection
            log(f"approval of {name} cut off: {e}")
            return False
        return True

    def webhooks_point_to(self, port: int) -> bool:
        api = client.AdmissionregistrationV1Api(self.api)
        try:
            mutating = api.read_mutating_webhook_configuration(GROUP)
        except client.ApiException:
            return False
        hooks = mutating.webhooks or []
        return bool(hooks) and all(f":{port}/" in (w.client_config.url or "") for w in hooks)

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
        return wait_for(what, check, timeout)


CUT = (urllib3.exceptions.HTTPError, ConnectionError)  # a connection the server dropped


def again_if_cut(call: Callable[[], Any], tries: int = 5) -> Any:
    """A call of the test's own client, made again if its connection was cut (a pooled
    connection to a kube-apiserver that has since restarted)."""
    for attempt in range(tries):
        try:
            return call()
        except CUT:
            if attempt == tries - 1:
                raise
            time.sleep(0.2)
    return None


def _create(create: Callable[[], Any]) -> None:
    """Create, or find it there already (the real cluster is shared by the session)."""
    try:
        create()
    except client.ApiException as e:
        if e.status != 409:
            raise


def alertname(planned: Planned) -> str:
    if planned.kind in ("breaker", "cronjobs"):  # a policy of their own (its ConfigMap, jobs)
        return f"Chaos-{planned.kind}-{planned.name}"
    return f"Chaos-{'scale' if planned.kind == 'hpa' else planned.kind}"


def policy_spec(alert: str, step: dict[str, Any]) -> dict[str, Any]:
    return {
        "match": {"alertnames": [alert]},
        "target": {"kind": "Deployment", "nameFromLabel": "deployment"},
        "steps": [step],
        "approval": {"P1": {"mode": "required", "approvers": 1}, "P2": {"mode": "auto"}},
        "guards": {"maxActionsPerPolicyPerHour": 1000},
    }


SHARED_STEPS: dict[str, dict[str, Any]] = {
    "scale": {"action": "scale", "to": 3},
    "rollback": {"action": "rollback"},
    "restart": {"action": "restartPods", "mode": "rolling"},
    "evict": {"action": "restartPods", "mode": "evict"},
}


def plan_incidents(count: int, prefix: str, rng: random.Random, p1_share: float) -> list[Planned]:
    planned = []
    for i in range(count):
        kind = ACTIONS[i % len(ACTIONS)]
        name = f"{prefix}{i:04d}"
        severity = "P1" if rng.random() < p1_share else "P2"
        planned.append(Planned(name, kind, severity, f"{name}-{kind}"))
    return planned


def set_up_targets(cluster: Cluster, planned: list[Planned], shared_policies: bool) -> None:
    """Each incident's own target (and ConfigMap, CronJobs, HPA), and the policies."""
    batch = client.BatchV1Api(cluster.api)
    autoscaling = client.AutoscalingV2Api(cluster.api)
    if shared_policies:
        for kind, step in SHARED_STEPS.items():
            cluster.policy(kind, policy_spec(f"Chaos-{kind}", step))
    for p in planned:
        d = p.deployment
        replicas = 2 if p.kind in ("evict", "scale") else 1
        cluster.deployment(d, replicas)
        if p.kind == "scale":
            p.expected = [("patch", "deployments", "scale", d)]
        elif p.kind == "hpa":
            autoscaling.create_namespaced_horizontal_pod_autoscaler(
                NS,
                {
                    "metadata": {"name": f"{d}-hpa"},
                    "spec": {
                        "scaleTargetRef": {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": d,
                        },
                        "minReplicas": 1,
                        "maxReplicas": 6,
                    },
                },
            )
            p.expected = [("patch", "horizontalpodautoscalers", "", f"{d}-hpa")]
        elif p.kind in ("rollback", "restart"):
            p.expected = [("patch", "deployments", "", d)]
        elif p.kind == "evict":
            p.expected = []  # the pods of its plan, known once planned
        elif p.kind == "breaker":
            cm = f"{d}-flags"
            cluster.core.create_namespaced_config_map(
                NS, {"metadata": {"name": cm}, "data": {"breaker": "closed"}}
            )
            cluster.policy(
                p.name,
                policy_spec(
                    alertname(p),
                    {
                        "action": "circuitBreaker",
                        "configMap": cm,
                        "key": "breaker",
                        "value": "open",
                    },
                ),
            )
            p.expected = [("patch", "configmaps", "", cm)]
        elif p.kind == "cronjobs":
            jobs = [f"{d}-a", f"{d}-b"]
            for job in jobs:
                batch.create_namespaced_cron_job(NS, cron_job(job, labels={STOP_LABEL: p.name}))
            cluster.policy(
                p.name,
                policy_spec(
                    alertname(p),
                    {
                        "action": "suspendCronJobs",
                        "selector": {"matchLabels": {STOP_LABEL: p.name}},
                    },
                ),
            )
            p.expected = [("patch", "cronjobs", "", job) for job in jobs]
    cluster.box.settle(60)
    for p in planned:  # a second revision to roll back from
        if p.kind == "rollback":
            cluster.new_image(p.deployment, "v2")
    cluster.box.settle(60)


def add_faults(box: Sandbox, user: str, rate: float, seed: int) -> None:
    """About `rate` of the operator's requests fail; its watches drop and meet 410 Gone."""
    n = 0

    def seeded() -> int:
        nonlocal n
        n += 1
        return seed * 1000 + n

    for resource in READS:
        for status in (500, 503, 429):
            box.faults.add(
                verb=("get", "list"),
                resource=resource,
                user=user,
                status=status,
                rate=rate / 3,
                seed=seeded(),
            )
    for resource, subresource, verbs in WRITES:
        for status in (500, 503, 409, 429):
            box.faults.add(
                verb=verbs,
                resource=resource,
                subresource=subresource,
                user=user,
                status=status,
                rate=rate / 6,
                seed=seeded(),
            )
        # the ambiguous ones: applied but the answer lost; no answer at all
        for ambiguous in ({"apply_then_drop": True}, {"timeout": True}):
            box.faults.add(
                verb=verbs,
                resource=resource,
                subresource=subresource,
                user=user,
                hang=0.3,
                rate=rate / 6,
                seed=seeded(),
                **ambiguous,
            )
    box.faults.add(verb="watch", user=user, drop_watch_after=2.0, rate=0.5, seed=seeded())
    box.faults.add(verb="watch", user=user, gone_on_rewatch=True, rate=0.5, seed=seeded())


# ----------------------------------------------------------------- the operator
def operator_args(
    kubeconfig: Path,
    key_file: Path,
    webhook_port: int | None,
    *,
    peering: tuple[int, int] | None = None,
    insecure_webhooks: bool = True,
) -> list[str]:
    args = [
        "--kubeconfig",
        str(kubeconfig),
        "--approval-key-file",
        str(key_file),
        "--max-concurrent",
        "10000",
        "--tick-seconds",
        "0.3",
        "--retry-seconds",
        "0.5",
        "--log-format",
        "json",
        "--identity",
        f"chaos-{kubeconfig.stem}",
    ]
    if webhook_port is not None:
        args += ["--manage-webhooks", "--webhook-port", str(webhook_port)]
        if insecure_webhooks:  # the emulator; kube-apiserver calls webhooks over HTTPS only
            args += ["--webhook-insecure"]
    if peering is None:
        args += ["--standalone"]
    else:
        priority, lifetime = peering
        args += ["--peering", "--priority", str(priority), "--peering-lifetime", str(lifetime)]
    return args


@contextmanager
def sandbox(workdir: Path, plane: Any = None) -> Iterator[Cluster]:
    """The emulator; or, given the real control plane (`tests/real`), that cluster, with the
    operator's requests through a fault-injecting proxy (`tests/real/proxy.py`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if plane is not None:
        with real_box(plane, workdir) as real:
            cluster = Cluster(real, workdir)
            try:
                yield cluster
            finally:
                cluster.close()
        return
    with Sandbox(
        kubeconfig=workdir / "admin.kubeconfig", bookmark_interval=0.5, anonymous_is_admin=False
    ) as box:
        cluster = Cluster(box, workdir)
        try:
            yield cluster
        finally:
            cluster.close()


@contextmanager
def real_box(plane: Any, workdir: Path) -> Iterator[Any]:
    """A RealBox whose service accounts reach kube-apiserver through a `FaultProxy`, whose
    `faults` it shares (the emulator's `Sandbox.faults`, outside the server)."""
    from real.backend import RealBox
    from real.proxy import FaultProxy, proxied_kubeconfig

    class ProxiedBox(RealBox):
        def __init__(self, proxy: FaultProxy) -> None:
            super().__init__(plane, workdir, namespaces=(NS,))
            self.proxy = proxy
            self.faults = proxy.faults

        def kubeconfig_for_service_account(
            self, namespace: str, name: str, path: Path | str
        ) -> Path:
            # the emulator's chaos runs let every identity do anything
            self.plane.bind({"kind": "ServiceAccount", "name": name, "namespace": namespace})
            token = self.plane.service_account_token(namespace, name)
            self.proxy.users[token] = f"system:serviceaccount:{namespace}:{name}"
            return proxied_kubeconfig(Path(path), self.proxy.url, token, namespace)

    server = (
        plane.info["server"]
        or yaml.safe_load(plane.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    )
    with FaultProxy(server, plane.pki / "ca.crt") as proxy:
        try:
            yield ProxiedBox(proxy)
        except BaseException:
            try:  # a failure with kube-apiserver down: that failure, not the cleanup's
                plane.clean()
            except Exception as e:
                log(f"the cleanup after the failure failed too: {e!r}")
            raise
        plane.clean()


# ------------------------------------------------------------------------ counting
def expected_writes(planned: list[Planned], bodies: dict[str, dict[str, Any]]) -> None:
    """Fill in the evictions: the pods each evict plan selected (of its own Deployment)."""
    for p in planned:
        if p.kind != "evict":
            continue
        plan = ((bodies.get(p.name) or {}).get("status") or {}).get("plan") or {}
        steps = plan.get("steps") or [{}]
        pods = [str(pod["name"]) for pod in (steps[0].get("desired") or {}).get("pods", [])]
        p.expected = [("evict", "pods", "", pod) for pod in pods if pod.startswith(p.deployment)]


def count(
    planned: list[Planned],
    bodies: dict[str, dict[str, Any]],
    writes: list[WriteRecord],
    actors: set[str],
    result: Result,
    unaudited: Callable[[Planned, tuple[str, str, str, str]], str] | None = None,
) -> None:
    """Duplicates and losses, from the write log: each planned target changed exactly once.
    `unaudited` may explain a change missing from the log (why, or "" if it cannot)."""
    expected_writes(planned, bodies)
    changes: Counter[tuple[str, str, str, str]] = Counter(
        (w.verb, w.resource, w.subresource, w.name)
        for w in writes
        if w.changed
        and not w.dry_run
        and w.user in actors
        and w.resource in TARGET_RESOURCES
        and w.name not in ledger.CONFIG_MAPS  # the guard ledger, in the operator's namespace
    )
    wanted: set[tuple[str, str, str, str]] = set()
    for p in planned:
        phase = ((bodies.get(p.name) or {}).get("status") or {}).get("phase", "?")
        result.phases[phase] += 1
        wanted.update(p.expected)  # a partial change of a lost incident is no duplicate
        if phase != "Remediated":
            result.lost += 1
            status = (bodies.get(p.name) or {}).get("status") or {}
            timeline = status.get("timeline", [])
            last = str((timeline or [{}])[-1].get("message", ""))[:300]
            result.problems.append(
                f"{p.name} ({p.kind}, {p.severity}) is {phase}: "
                f"{[e.get('reason') for e in timeline]}; last: {last}"
            )
            continue
        if not p.expected:
            result.lost += 1
            result.problems.append(f"{p.name} ({p.kind}) planned no change")
        for key in p.expected:
            seen = changes.get(key, 0)
            why = unaudited(p, key) if seen == 0 and unaudited is not None else ""
            if why:
                result.unaudited += 1
                result.notes.append(f"{p.name} ({p.kind}): {key} {why}")
            elif seen == 0:
                result.lost += 1
                result.problems.append(f"{p.name} ({p.kind}): no change of {key}")
            elif seen > 1:
                result.duplicates += seen - 1
                result.problems.append(f"{p.name} ({p.kind}): {key} changed {seen} times")
    for key, seen in changes.items():
        if key not in wanted:
            result.duplicates += seen
            result.problems.append(f"unplanned change {key} x{seen}")


def unaudited_eviction(
    cluster: Cluster, bodies: dict[str, dict[str, Any]], outages: list[tuple[float, float]]
) -> Callable[[Planned, tuple[str, str, str, str]], str]:
    """Why an eviction the audit log lacks was made all the same, or "". kube-apiserver
    writes a request's audit entry after etcd committed it: SIGKILLed in between, the
    change is made and never logged (the operator's retry then finds the pod gone). Only
    an eviction whose incident was acting while kube-apiserver was down, and whose pod is
    gone, is taken as made; every other missing change is a loss."""

    def why(planned: Planned, key: tuple[str, str, str, str]) -> str:
        verb, _, _, pod = key
        if verb != "evict":
            return ""
        actions = ((bodies.get(planned.name) or {}).get("status") or {}).get("actions") or []
        spans = [
            (_epoch(a.get("startedAt")), _epoch(a.get("finishedAt")) or time.time())
            for a in actions
            if a.get("startedAt")
        ]
        killed = any(
            start <= down_to and end >= down_from
            for start, end in spans
            for down_from, down_to in outages
        )
        if not killed:
            return ""
        try:
            again_if_cut(lambda: cluster.core.read_namespaced_pod(pod, NS))
        except client.ApiException as e:
            if e.status == 404:
                return "not in the audit log: kube-apiserver was SIGKILLed while the pod went"
        return ""

    return why


def _epoch(stamp: Any) -> float:
    if not stamp:
        return 0.0
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


def wait_terminal(
    cluster: Cluster,
    planned: list[Planned],
    deadline: float,
    approved: dict[str, float],
) -> dict[str, dict[str, Any]]:
    """Approve P1 plans as they come, until every incident is in a final phase."""
    names = {p.name for p in planned}
    bodies: dict[str, dict[str, Any]] = {}
    next_report = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            bodies = cluster.incidents()
        except (client.ApiException, *CUT) as e:
            log(f"listing incidents failed: {getattr(e, 'status', None) or e}")
            time.sleep(0.5)
            continue
        approve(cluster, bodies, approved)
        pending = [
            n
            for n in names
            if ((bodies.get(n) or {}).get("status") or {}).get("phase")
            not in ("Remediated", "Failed", "Blocked", "Escalated", "Rejected", "NoPolicy")
        ]
        if not pending:
            return bodies
        if time.monotonic() > next_report:
            log(f"{len(names) - len(pending)} of {len(names)} incidents finished")
            next_report += 15
        time.sleep(0.3)
    return bodies


def approve(
    cluster: Cluster, bodies: dict[str, dict[str, Any]], approved: dict[str, float]
) -> None:
    """Approve each plan awaiting approval once; again only if the first one was not counted
    (created while the webhook was down it would carry no verified approver)."""
    now = time.monotonic()
    for name, body in bodies.items():
        status = body.get("status") or {}
        if status.get("phase") != "AwaitingApproval":
            continue
        records = status.get("approvals", [])
        ignored = bool(records) and not any(r.get("counted", True) for r in records)
        if name in approved and not ignored and now - approved[name] < 20:
            continue
        if cluster.approve(body):
            approved[name] = now


# ------------------------------------------------------------------------ scenarios
def run_faults_and_kills(
    workdir: Path,
    *,
    incidents: int = 120,
    kills: int = 3,
    fault_rate: float = 0.1,
    seed: int = 1,
    p1_share: float = 0.15,
    deadline_seconds: float | None = None,
    plane: Any = None,
    apiserver_restarts: int = 0,
    etcd_restarts: int = 0,
) -> Result:
    if (apiserver_restarts or etcd_restarts) and plane is None:
        raise ValueError("kube-apiserver and etcd restarts need the real control plane")
    rng = random.Random(seed)
    result = Result("faults+kills" + (" (real)" if plane else ""), incidents=incidents)
    restarts = restart_schedule(incidents, apiserver_restarts, etcd_restarts, seed)
    started = time.monotonic()
    with sandbox(workdir, plane) as cluster:
        cluster.install()
        planned = plan_incidents(incidents, "inc", rng, p1_share)
        set_up_targets(cluster, planned, shared_policies=True)
        log(f"set up {incidents} targets in {time.monotonic() - started:.1f}s")
        user = "system:serviceaccount:remediator-system:remediator"
        kubeconfig = cluster.box.kubeconfig_for_service_account(
            "remediator-system", "remediator", workdir / "operator.kubeconfig"
        )
        key_file = workdir / "approval.key"
        key_file.write_text("chaos-approval-key\n")
        webhook_port = free_port()
        operator = OperatorProcess(
            operator_args(kubeconfig, key_file, webhook_port, insecure_webhooks=plane is None),
            liveness_port=free_port(),
            log_path=workdir / "operator.log",
        )
        operator.start()
        cluster.wait_for("the webhooks", lambda: cluster.webhooks_point_to(webhook_port))
        add_faults(cluster.box, user, fault_rate, seed)
        cluster.box.faults.reset_counts()

        # Incidents arrive in waves; in each wave but the last, the operator is SIGKILLed at a
        # random (seeded) moment while the wave's incidents are in flight, then restarted.
        # On the real control plane kube-apiserver and etcd are restarted at moments of their
        # own schedule, after the n-th incident created.
        approved: dict[str, float] = {}
        waves = [planned[i :: kills + 1] for i in range(kills + 1)]
        created = 0
        log(f"creating {incidents} incidents in {len(waves)} waves")
        for number, wave in enumerate(waves):
            kill_at = rng.randrange(len(wave)) if number < kills and wave else -1
            for i, p in enumerate(wave):
                cluster.incident(p)
                created += 1
                if i % 10 == 9:
                    time.sleep(0.2)
                    approve(cluster, again_if_cut(cluster.incidents), approved)
                if i == kill_at:
                    time.sleep(rng.uniform(0.0, 0.5))
                    operator.kill()
                    result.kills += 1
                    log(f"SIGKILL #{result.kills} after {i + 1} incidents of wave {number + 1}")
                    operator.start()
                for component, pause in restarts.get(created, []):
                    time.sleep(pause)
                    restart(cluster, component, result, created)
        budget = deadline_seconds or (
            60 + incidents * 0.5 + kills * 10 + (apiserver_restarts + etcd_restarts) * 10
        )
        log(f"all {incidents} incidents created; waiting for them to finish")
        bodies = wait_terminal(cluster, planned, time.monotonic() + budget, approved)
        # let a last in-flight request land before reading the log
        time.sleep(0.5)
        result.faults_by_kind = cluster.box.faults.injected()
        result.faults = cluster.box.faults.total()
        cluster.box.faults.clear()
        bodies = again_if_cut(cluster.incidents)
        explain = None if plane is None else unaudited_eviction(cluster, bodies, result.outages)
        count(planned, bodies, cluster.box.writes(), {user}, result, explain)
        if plane is not None:
            result.forbidden = cast(Any, cluster.box).answers(user).get(403, 0)  # a RealBox
        operator.stop()
    result.seconds = time.monotonic() - started
    return result


def restart_schedule(
    incidents: int, apiserver: int, etcd: int, seed: int
) -> dict[int, list[tuple[str, float]]]:
    """Which component is SIGKILLed and restarted after the n-th incident created, and after
    what pause (seeded; its own generator, so the rest of a run is as without restarts)."""
    rng = random.Random(seed * 7919 + 13)
    components = ["kube-apiserver"] * apiserver + ["etcd"] * etcd
    rng.shuffle(components)
    schedule: dict[int, list[tuple[str, float]]] = {}
    for component in components:
        after = rng.randrange(1, incidents + 1)
        schedule.setdefault(after, []).append((component, rng.uniform(0.0, 1.0)))
    return schedule


def restart(cluster: Cluster, component: str, result: Result, created: int) -> None:
    """SIGKILL a component of the real control plane and start it again (etcd keeps its
    data): whatever the operator had in flight is cut, its watches end."""
    plane = cast(Any, cluster.box).plane  # a RealBox's: tests/real's ControlPlane
    before = time.time()
    seconds = plane.restart(component)
    if component == "kube-apiserver":
        result.outages.append((before, time.time()))
    if component == "etcd":
        result.etcd_restarts += 1
        number = result.etcd_restarts
    else:
        result.apiserver_restarts += 1
        number = result.apiserver_restarts
    log(f"{component} restart #{number} after {created} incidents: ready again in {seconds:.1f}s")
    down = [name for name, alive in plane.components().items() if not alive]
    if down:
        result.problems.append(f"after the {component} restart #{number}, {down} are down")


def run_peering(
    workdir: Path,
    *,
    incidents: int = 14,
    lifetime: int = 10,
    seed: int = 2,
    plane: Any = None,
) -> Result:
    """Two replicas with Kopf peering: one acts; the standby completes the work after a
    SIGKILL of the active one, within the peering lifetime."""
    rng = random.Random(seed)
    result = Result("peering" + (" (real)" if plane else ""), incidents=incidents)
    started = time.monotonic()
    with sandbox(workdir, plane) as cluster:
        cluster.install(peering=True)
        cluster.custom.create_cluster_custom_object(
            "kopf.dev",
            "v1",
            "clusterkopfpeerings",
            {
                "apiVersion": "kopf.dev/v1",
                "kind": "ClusterKopfPeering",
                "metadata": {"name": "default"},
            },
        )
        half = incidents // 2
        planned = plan_incidents(incidents, "peer", rng, p1_share=0.0)
        set_up_targets(cluster, planned, shared_policies=True)
        key_file = workdir / "approval.key"
        key_file.write_text("chaos-approval-key\n")
        users: dict[str, str] = {}
        replicas: dict[str, OperatorProcess] = {}
        for name, priority in (("active", 200), ("standby", 100)):
            user = f"system:serviceaccount:remediator-system:{name}"
            kubeconfig = cluster.box.kubeconfig_for_service_account(
                "remediator-system", name, workdir / f"{name}.kubeconfig"
            )
            users[name] = user
            replicas[name] = OperatorProcess(
                operator_args(kubeconfig, key_file, None, peering=(priority, lifetime)),
                liveness_port=free_port(),
                log_path=workdir / f"{name}.log",
            )

        def peers() -> dict[str, Any]:
            body: dict[str, Any] = cluster.custom.get_cluster_custom_object(
                "kopf.dev", "v1", "clusterkopfpeerings", "default"
            )
            return dict(body.get("status") or {})

        try:
            replicas["active"].start()
            cluster.wait_for("the active replica's peering record", lambda: len(peers()) >= 1)
            replicas["standby"].start()
            cluster.wait_for("both peering records", lambda: len(peers()) >= 2)
            for p in planned[:half]:
                cluster.incident(p)
            first = wait_terminal(cluster, planned[:half], time.monotonic() + 60, {})
            before_kill = len(cluster.box.writes())
            replicas["active"].kill()
            result.kills += 1
            killed_at = time.monotonic()
            log("SIGKILL of the active replica")
            for p in planned[half:]:
                cluster.incident(p)
            second = wait_terminal(
                cluster, planned[half:], time.monotonic() + lifetime * 3 + 30, {}
            )
            result.takeover_seconds = time.monotonic() - killed_at
            bodies = {**first, **second}
            writes = cluster.box.writes()
            count(planned, bodies, writes, set(users.values()), result)

            # who acted: before the kill only the active replica, after it only the standby
            def changes(records: list[WriteRecord], user: str) -> list[WriteRecord]:
                return [
                    w
                    for w in records
                    if w.changed and w.resource in TARGET_RESOURCES and w.user == user
                ]

            early, late = writes[:before_kill], writes[before_kill:]
            for w in changes(early, users["standby"]):
                result.duplicates += 1
                result.problems.append(f"the standby acted while the active replica lived: {w}")
            for w in changes(late, users["active"]):
                result.duplicates += 1
                result.problems.append(f"the killed replica acted after the kill: {w}")
            if not changes(early, users["active"]) or not changes(late, users["standby"]):
                result.problems.append("each replica should have acted in its turn")
        finally:
            for replica in replicas.values():
                replica.stop()
    result.seconds = time.monotonic() - started
    return result
