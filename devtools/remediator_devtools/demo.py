"""`remediator demo`: the playbook's scenarios, run by the real operator on a cluster.

By default it starts the embedded Kubernetes API emulator (with its fixture Deployment
controller): seconds, Python only. With `--kubeconfig FILE` it plays on that cluster instead,
in a namespace of its own that it deletes after (`demo_targets.GivenCluster`). Either way it
installs the CRDs (where missing) and the policies in `remediations/`, seeds the workloads
the scenarios act on, starts the real operator (Kopf, its admission webhooks, the
reconciler), and plays: a failed deployment rolled back, a memory leak restarted, a queue
backlog scaled through its HPA, a carrier rate limit answered with a circuit breaker that
closes again by itself, a P0 that waits for a human and is approved with `remediator
approve`, a false alarm that resolves before anyone approves, and a second rollback refused
by the cooldown guard. Every scenario checks its outcome in the cluster, through the public
API only; the command exits non-zero if one fails.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from remediator.core.models import API_VERSION, GROUP
from remediator.reconcile import OperatorConfig

from .demo_targets import MERGE, Emulated, GivenCluster, admission_in_path, free_port
from .pod_states import oom_killed
from .testing import OperatorThread

MANAGED = {"remediator.dev/managed": "true"}
LEAK_LOG = (
    "heap at 91%\nheap at 99%\n"
    "java.lang.OutOfMemoryError: Java heap space\n\tat com.example.payments.Cache.put\n"
)
POLICIES = Path(__file__).resolve().parents[2] / "remediations"
WORKLOADS = (
    ("checkout", 3),
    ("payments", 2),
    ("worker", 2),
    ("shipping", 2),
    ("api", 3),
    ("search", 2),
)

Target = Emulated | GivenCluster


@dataclass
class Scenario:
    title: str
    incident: str
    expected: str
    check: Callable[[], str | None]  # None when the world looks right, else what is wrong


class Demo:
    def __init__(self, target: Target, workdir: Path) -> None:
        self.target = target
        self.ns = target.namespace
        self.workdir = workdir
        self.failures: list[str] = []
        self.rest = target.rest

    # ---------------------------------------------------------------- plumbing
    def get(self, plural: str, name: str) -> dict[str, Any]:
        """An object of the demo's namespace, as the API serves it."""
        return self.rest.get(plural, name, self.ns)

    def create(self, plural: str, body: dict[str, Any], namespace: str | None = None) -> None:
        self.rest.create(plural, body, namespace or self.ns)

    def kubectl(self, *args: str) -> str:
        proc = subprocess.run(
            [
                "kubectl",
                f"--kubeconfig={self.target.kubeconfig}",
                f"--cache-dir={self.workdir / 'cache'}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return (proc.stdout + proc.stderr).rstrip()

    def incident(self, name: str, alertname: str, severity: str, **labels: str) -> None:
        self.create(
            "incidents",
            {
                "apiVersion": API_VERSION,
                "kind": "Incident",
                "metadata": {"name": name, "namespace": self.ns},
                "spec": {
                    "source": "manual",
                    "alertname": alertname,
                    "severity": severity,
                    "summary": f"{alertname} on {labels.get('deployment', '?')}",
                    "labels": labels,
                },
            },
        )

    def phase(self, name: str) -> str:
        return str((self.get("incidents", name).get("status") or {}).get("phase", "Pending"))

    def wait(self, name: str, *phases: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (phase := self.phase(name)) in phases:
                return phase
            time.sleep(0.1)
        return self.phase(name)

    def report(self, scenario: Scenario, phase: str) -> None:
        problem = (
            None if phase == scenario.expected else (f"ended {phase}, expected {scenario.expected}")
        )
        problem = problem or scenario.check()
        status = self.get("incidents", scenario.incident).get("status") or {}
        results = "; ".join(
            a.get("result", "") for a in status.get("actions") or [] if a.get("result")
        ) or status.get("message", "")
        mark = click.style("✔", fg="green") if problem is None else click.style("✘", fg="red")
        click.echo(f"{mark} {scenario.title:<46} {phase:<16} {results}")
        if problem is not None:
            click.secho(f"    {problem}", fg="red")
            self.failures.append(f"{scenario.title}: {problem}")

    # ------------------------------------------------------------------ seeding
    def seed(self) -> None:
        self.target.prepare()
        self.create(
            "configmaps",
            {"metadata": {"name": "remediator-config"}, "data": {"paused": "false"}},
            self.target.system_namespace,
        )
        for name, replicas in WORKLOADS:
            self.deployment(name, "v1", replicas)
        self.target.settle()  # revision 1 of each rolled out
        self.deployment("checkout", "v2", 3)  # the bad release: two revisions to roll between
        self.create(
            "horizontalpodautoscalers",
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "worker"},
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "worker",
                    },
                    "minReplicas": 2,
                    "maxReplicas": 6,
                },
            },
        )
        self.create(
            "poddisruptionbudgets",
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "api"},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "api"}}},
            },
        )
        self.create(
            "configmaps", {"metadata": {"name": "shipping-flags"}, "data": {"carrier-a": "closed"}}
        )
        self.target.settle()  # checkout's revision 2 rolled out, the budget observed

    def deployment(self, name: str, image: str, replicas: int) -> None:
        """Create (or re-template) a Deployment the playbook's policies may act on."""
        spec = {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": name, "image": f"registry.example/{name}:{image}"}]
                },
            },
        }
        if self.rest.find("deployments", name, self.ns) is not None:
            self.rest.patch("deployments", name, {"spec": spec}, self.ns)
            return
        self.create(
            "deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                # opted in: the playbook's policies act only on workloads labelled so
                "metadata": {"name": name, "labels": MANAGED},
                "spec": spec,
            },
        )

    def policies(self) -> None:
        for path in sorted(POLICIES.glob("*.yaml")):
            body = yaml.safe_load(path.read_text())
            if body.get("kind") != "RemediationPolicy":
                continue
            body["metadata"]["namespace"] = self.ns
            if body["metadata"]["name"] == "carrier-rate-limit-breaker":
                body["spec"]["steps"][0]["revertAfter"] = "3s"  # so the demo sees it close
            self.create("remediationpolicies", body)

    # --------------------------------------------------------------- scenarios
    def image(self, name: str) -> str:
        return str(
            self.get("deployments", name)["spec"]["template"]["spec"]["containers"][0]["image"]
        )

    def approve_with_cli(self, incident: str, user: str, reason: str) -> str:
        """`remediator approve` as `user` (on a given cluster: the approver's kubeconfig);
        the identity the admission webhook will stamp."""
        kubeconfig, identity = self.target.approver(user)
        self.wait(incident, "AwaitingApproval")
        click.echo(f"  {incident} waits for a human; {identity} approves with the CLI:")
        approve = subprocess.run(
            [
                sys.executable,
                "-m",
                "remediator",
                "approve",
                incident,
                "-n",
                self.ns,
                "--kubeconfig",
                str(kubeconfig),
                "--reason",
                reason,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        click.echo(
            f"  $ remediator approve {incident} -n {self.ns} --reason '{reason}'\n  "
            + (approve.stdout + approve.stderr).strip()
        )
        return identity

    def approved_by(self, incident: str, user: str) -> Callable[[], str | None]:
        def check() -> str | None:
            status = self.get("incidents", incident)["status"]
            approvers = [a["approver"] for a in status.get("approvals", []) if a.get("counted")]
            return None if approvers == [user] else f"approvers recorded: {approvers}"

        return check

    def played(
        self, title: str, incident: str, check: Callable[[], str | None], timeout: float = 20
    ) -> None:
        """Report a scenario that must end Remediated, once it has ended."""
        ended = self.wait(incident, "Remediated", "Failed", "Blocked", timeout=timeout)
        self.report(Scenario(title, incident, "Remediated", check), ended)

    def evidence(self, incident: str) -> str:
        """What `remediator evidence` prints for the incident (the same code, in-process)."""
        import asyncio

        from remediator.adapters.kube import KubeClient, load_configuration
        from remediator.core.evidence import render
        from remediator.executor.evidence import EvidenceCapture

        status = self.get("incidents", incident).get("status") or {}
        secret = (status.get("evidence") or {}).get("secret")
        if not secret:
            return f"(no evidence kept for {incident})"

        async def read() -> dict[str, Any] | None:
            kube = KubeClient(load_configuration(str(self.target.kubeconfig)))
            try:
                return await EvidenceCapture(kube, None).read(self.ns, secret)
            finally:
                await kube.close()

        document = asyncio.run(read())
        return render(document) if document else f"(Secret {secret} holds no evidence)"

    def leak(self, app: str) -> list[str]:
        """The pods of `app` as a memory leak leaves them: OOMKilled three times, the leak in
        the previous container's log (where the cluster lets the demo set logs). The
        memory-leak policy's restart replaces them; its evidence keeps this."""
        pods = [
            p
            for p in self.rest.list("pods", self.ns)
            if (p["metadata"].get("labels") or {}).get("app") == app
            and not p["metadata"].get("deletionTimestamp")
        ]
        for pod in pods:
            name, container = pod["metadata"]["name"], pod["spec"]["containers"][0]
            self.rest.request(
                "PATCH",
                self.rest.path("pods", name, self.ns) + "/status",
                oom_killed(container["name"], container["image"]),
                content_type=MERGE,
            )
            self.target.set_log(name, container["name"], "heap at 97%\nstarted again\n")
            self.target.set_log(name, container["name"], LEAK_LOG, previous=True)
        return [p["metadata"]["name"] for p in pods]

    def play(self) -> str:
        # a real API server's eviction path (a pod deleted, replaced, scheduled, made Ready,
        # the budget recounted) takes seconds per pod, the emulator's milliseconds
        slow = 60 if self.target.real else 20
        self.incident(
            "checkout-unavailable", "DeploymentReplicasUnavailable", "P1", deployment="checkout"
        )
        alice = self.approve_with_cli(
            "checkout-unavailable", "alice", "v2 fails its readiness probe"
        )

        def rolled_back() -> str | None:
            image = self.image("checkout")
            wrong = None if image.endswith(":v1") else f"checkout still runs {image}"
            return wrong or self.approved_by("checkout-unavailable", alice)()

        self.played(
            "failed deployment (P1) → approved → rollback", "checkout-unavailable", rolled_back
        )

        def restarted() -> str | None:
            template = self.get("deployments", "payments")["spec"]["template"]
            annotations = template["metadata"].get("annotations") or {}
            return (
                None
                if "kubectl.kubernetes.io/restartedAt" in annotations
                else ("no restartedAt annotation on payments")
            )

        leaking = self.leak("payments")
        self.incident("payments-memory", "ContainerMemoryLeak", "P2", deployment="payments")

        def restarted_with_evidence() -> str | None:
            evidence = self.get("incidents", "payments-memory")["status"].get("evidence") or {}
            oom = [
                p for p in evidence.get("pods") or [] if "OOMKilled" in p.get("lastTermination", "")
            ]
            if len(oom) != len(leaking):
                return f"evidence shows {len(oom)} OOMKilled pod(s) of {len(leaking)}"
            return restarted()

        self.played(
            "memory leak → evidence → rolling restart", "payments-memory", restarted_with_evidence
        )

        def scaled() -> str | None:
            hpa = self.get("horizontalpodautoscalers", "worker")
            replicas = self.get("deployments", "worker")["spec"]["replicas"]
            # the operator raises the HPA's minimum and leaves the replicas to it: no HPA
            # controller in the emulator (2 stays); a real one scales to 4 at its next sync
            allowed = (2, 4) if self.target.real else (2,)
            ok = hpa["spec"]["minReplicas"] == 4 and replicas in allowed
            return None if ok else f"HPA min {hpa['spec']['minReplicas']}, replicas {replicas}"

        self.incident("worker-backlog", "QueueBacklogHigh", "P2", deployment="worker")
        self.report(
            Scenario(
                "queue backlog → scale workers (via HPA)", "worker-backlog", "Remediated", scaled
            ),
            self.wait("worker-backlog", "Remediated", "Failed", "Blocked"),
        )

        def breaker_closed_again() -> str | None:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if self.get("configmaps", "shipping-flags")["data"].get("carrier-a") == "closed":
                    return None
                time.sleep(0.2)
            return "carrier-a was not restored to closed"

        self.incident(
            "carrier-a-429", "CarrierRateLimited", "P2", deployment="shipping", carrier="carrier-a"
        )
        phase = self.wait("carrier-a-429", "Remediated", "Failed", "Blocked")
        opened = self.get("configmaps", "shipping-flags")["data"].get("carrier-a")
        click.echo(f"  carrier-a breaker is {opened!r}; it closes again after revertAfter")
        self.report(
            Scenario(
                "carrier rate limit → circuit breaker, reverted",
                "carrier-a-429",
                "Remediated",
                breaker_closed_again,
            ),
            phase,
        )

        self.incident("api-down", "ServiceDown", "P0", deployment="api")
        bob = self.approve_with_cli("api-down", "bob", "pods crashlooping since 10:02")
        evicted = self.approved_by("api-down", bob)
        self.played("P0 service down → approved → evict pods", "api-down", evicted, 2 * slow)

        self.incident("search-false-alarm", "ContainerMemoryLeak", "P1", deployment="search")
        self.wait("search-false-alarm", "AwaitingApproval")

        def search_spec() -> tuple[Any, Any]:
            found = self.get("deployments", "search")
            return found["metadata"].get("generation"), found["spec"]

        before = search_spec()
        # only spec.alertStatus may change once planned (the operator's admission webhook)
        self.rest.patch(
            "incidents", "search-false-alarm", {"spec": {"alertStatus": "resolved"}}, self.ns
        )

        def untouched() -> str | None:
            return None if search_spec() == before else "search was changed"

        self.report(
            Scenario(
                "false alarm resolved before approval", "search-false-alarm", "Resolved", untouched
            ),
            self.wait("search-false-alarm", "Resolved", "Remediating", "Remediated"),
        )

        self.incident(
            "checkout-unavailable-again",
            "DeploymentReplicasUnavailable",
            "P2",
            deployment="checkout",
        )

        def still_v1() -> str | None:
            return rolled_back()

        self.report(
            Scenario(
                "second rollback refused by the cooldown guard",
                "checkout-unavailable-again",
                "Blocked",
                still_v1,
            ),
            self.wait("checkout-unavailable-again", "Blocked", "Remediated", "Failed"),
        )
        return "checkout-unavailable"


def run_operator(show: Demo, target: Target) -> None:
    """The real operator, in-process, while the scenarios play (and kubectl shows them)."""
    port = free_port()
    config = OperatorConfig(
        namespace=target.system_namespace,
        tick_seconds=0.2,
        retry_seconds=0.5,
        approval_key=secrets.token_bytes(32),
        webhook_managed=True,
        # kube-apiserver calls webhooks over HTTPS only: with no certificate given, the
        # operator serves a self-signed one on 127.0.0.1 and registers it as the CA bundle
        # (the API server must run on this machine); the emulator takes plain HTTP
        webhook_insecure=not target.real,
        webhook_port=port,
        identity="remediator-demo",
    )
    logging.getLogger("kopf").setLevel(logging.ERROR)
    with OperatorThread(str(target.kubeconfig), config, target.operator_namespaces()):
        admission_in_path(target.rest, port, target.namespace)
        click.secho("\nScenarios (playbook → policy → outcome)", bold=True)
        story = show.play()
        if shutil.which("kubectl"):
            click.secho(f"\n$ kubectl get incidents -n {show.ns}", bold=True)
            click.echo(show.kubectl("get", "incidents", "-n", show.ns))
            for shown in (story, "payments-memory"):
                click.secho(f"\n$ kubectl describe incident {shown} -n {show.ns}", bold=True)
                click.echo(show.kubectl("describe", "incident", shown, "-n", show.ns))
        click.secho(f"\n$ remediator evidence payments-memory -n {show.ns}", bold=True)
        click.echo(show.evidence("payments-memory"))


@click.command()
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Play on this cluster instead of the embedded emulator, in a namespace of its own "
    "(deleted after). The operator runs here, so its webhook server (HTTPS on 127.0.0.1) must "
    "be reachable by the API server: a control plane on this machine (`make cluster`).",
)
@click.option(
    "--approver-kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="With --kubeconfig: approve as this identity (granted what `remediator approve` "
    "needs in the demo's namespace). Default: the --kubeconfig identity.",
)
def demo(kubeconfig: Path | None, approver_kubeconfig: Path | None) -> None:
    """Run the playbook's scenarios with the real operator, on the embedded API emulator or
    (--kubeconfig) on a cluster."""
    if approver_kubeconfig is not None and kubeconfig is None:
        raise click.UsageError("--approver-kubeconfig needs --kubeconfig")
    started = time.monotonic()
    left: list[str] = []
    with tempfile.TemporaryDirectory(prefix="remediator-demo-") as tmp:
        workdir = Path(tmp)
        target: Target = (
            Emulated(workdir)
            if kubeconfig is None
            else GivenCluster(kubeconfig, workdir, approver_kubeconfig)
        )
        target.start()
        played = False
        try:
            click.secho(target.banner(), bold=True)
            show = Demo(target, workdir)
            show.seed()
            show.policies()
            run_operator(show, target)
            writes = target.writes()
            played = True
        finally:
            if isinstance(target, GivenCluster):
                try:
                    left = target.cleanup()
                except Exception as e:  # the error that stopped the demo matters more
                    left = [f"what the demo made in namespace {target.namespace} ({e})"]
                if left and not played:
                    click.secho(f"Left behind: {', '.join(left)}.", fg="red", err=True)
            target.close()
    elapsed = time.monotonic() - started
    click.echo(f"\n{writes}; demo took {elapsed:.1f} s.")
    if isinstance(target, GivenCluster):
        made = [f"namespace {target.namespace}"]
        made += [f"CRD {c}" for c in target.created_crds]
        made += [f"{kind} {GROUP}" for kind in target.created_webhook_kinds]
        click.echo(
            f"Deleted what the demo made: {', '.join(made)}."
            if not left
            else f"Left behind: {', '.join(left)}."
        )
    if show.failures:
        click.secho(f"{len(show.failures)} scenario(s) did not end as expected:", fg="red")
        for failure in show.failures:
            click.secho(f"  - {failure}", fg="red")
        sys.exit(1)
    click.secho("Every scenario ended as expected.", fg="green", bold=True)
