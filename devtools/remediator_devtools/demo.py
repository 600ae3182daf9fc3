"""`remediator demo`: the playbook's scenarios, run by the real operator on the API emulator.

It starts the embedded Kubernetes API emulator (with its fixture Deployment controller),
installs the CRDs and the policies in `remediations/`, seeds the workloads the scenarios
act on, starts the real operator (Kopf, its admission webhooks, the reconciler), and plays:
a failed deployment rolled back, a memory leak restarted, a queue backlog scaled through
its HPA, a carrier rate limit answered with a circuit breaker that closes again by itself,
a P0 that waits for a human and is approved with `remediator approve`, a false alarm that
resolves before anyone approves, and a second rollback refused by the cooldown guard.
Every scenario checks its outcome in the cluster; the command exits non-zero if one fails.
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

from kube_emulator import Sandbox
from remediator.core.crds import all_crds
from remediator.core.models import API_VERSION
from remediator.reconcile import OperatorConfig

from .testing import OperatorThread

NS = "shop"
MANAGED = {"remediator.dev/managed": "true"}
POLICIES = Path(__file__).resolve().parents[2] / "remediations"


@dataclass
class Scenario:
    title: str
    incident: str
    expected: str
    check: Callable[[], str | None]  # None when the world looks right, else what is wrong


class Demo:
    def __init__(self, box: Sandbox, workdir: Path) -> None:
        self.box = box
        self.workdir = workdir
        self.failures: list[str] = []

    # ---------------------------------------------------------------- plumbing
    def api(self, method: str, group: str, plural: str, obj: dict[str, Any]) -> None:
        handler = getattr(self.box.api, f"internal_{method}")
        self.box.call(lambda: handler(group, plural, obj))

    def get(self, group: str, plural: str, name: str, namespace: str = NS) -> dict[str, Any]:
        found = self.box.call(lambda: self.box.api.internal_get(group, plural, namespace, name))
        assert found is not None, f"{plural}/{name} not found"
        return found

    def kubectl(self, *args: str) -> str:
        proc = subprocess.run(
            [
                "kubectl",
                f"--kubeconfig={self.box.kubeconfig}",
                f"--cache-dir={self.workdir / 'cache'}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return (proc.stdout + proc.stderr).rstrip()

    def incident(self, name: str, alertname: str, severity: str, **labels: str) -> None:
        self.api(
            "create",
            "remediator.dev",
            "incidents",
            {
                "apiVersion": API_VERSION,
                "kind": "Incident",
                "metadata": {"name": name, "namespace": NS},
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
        return str(
            (self.get("remediator.dev", "incidents", name).get("status") or {}).get(
                "phase", "Pending"
            )
        )

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
        status = self.get("remediator.dev", "incidents", scenario.incident).get("status") or {}
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
        for crd in all_crds():
            self.api("create", "apiextensions.k8s.io", "customresourcedefinitions", crd)
        for ns in (NS, "remediator-system"):
            self.api("create", "", "namespaces", {"metadata": {"name": ns}})
        self.api(
            "create",
            "",
            "configmaps",
            {
                "metadata": {"name": "remediator-config", "namespace": "remediator-system"},
                "data": {"paused": "false"},
            },
        )
        for name, replicas in (
            ("checkout", 3),
            ("payments", 2),
            ("worker", 2),
            ("shipping", 2),
            ("api", 3),
            ("search", 2),
        ):
            self.deployment(name, "v1", replicas)
        self.deployment("checkout", "v2", 3)  # the bad release: two revisions to roll between
        self.box.settle()
        self.api(
            "create",
            "autoscaling",
            "horizontalpodautoscalers",
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "worker", "namespace": NS},
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
        self.api(
            "create",
            "policy",
            "poddisruptionbudgets",
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "api", "namespace": NS},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "api"}}},
            },
        )
        self.api(
            "create",
            "",
            "configmaps",
            {
                "metadata": {"name": "shipping-flags", "namespace": NS},
                "data": {"carrier-a": "closed"},
            },
        )

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
        existing = self.box.call(lambda: self.box.api.internal_get("apps", "deployments", NS, name))
        if existing is None:
            self.api(
                "create",
                "apps",
                "deployments",
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    # opted in: the playbook's policies act only on workloads labelled so
                    "metadata": {"name": name, "namespace": NS, "labels": MANAGED},
                    "spec": spec,
                },
            )
        else:
            self.api("update", "apps", "deployments", {**existing, "spec": spec})
        self.box.settle()

    def policies(self) -> None:
        for path in sorted(POLICIES.glob("*.yaml")):
            body = yaml.safe_load(path.read_text())
            if body.get("kind") != "RemediationPolicy":
                continue
            body["metadata"]["namespace"] = NS
            if body["metadata"]["name"] == "carrier-rate-limit-breaker":
                body["spec"]["steps"][0]["revertAfter"] = "3s"  # so the demo sees it close
            self.api("create", "remediator.dev", "remediationpolicies", body)

    # --------------------------------------------------------------- scenarios
    def image(self, name: str) -> str:
        return str(
            self.get("apps", "deployments", name)["spec"]["template"]["spec"]["containers"][0][
                "image"
            ]
        )

    def approve_with_cli(self, incident: str, user: str, reason: str) -> None:
        kubeconfig = self.box.kubeconfig_for(user, self.workdir / f"{user}.kubeconfig", ("sre",))
        self.wait(incident, "AwaitingApproval")
        click.echo(f"  {incident} waits for a human; {user} approves with the CLI:")
        approve = subprocess.run(
            [
                sys.executable,
                "-m",
                "remediator",
                "approve",
                incident,
                "-n",
                NS,
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
            f"  $ remediator approve {incident} -n {NS} --reason '{reason}'\n  "
            + (approve.stdout + approve.stderr).strip()
        )

    def approved_by(self, incident: str, user: str) -> Callable[[], str | None]:
        def check() -> str | None:
            status = self.get("remediator.dev", "incidents", incident)["status"]
            approvers = [a["approver"] for a in status.get("approvals", []) if a.get("counted")]
            return None if approvers == [user] else f"approvers recorded: {approvers}"

        return check

    def play(self) -> str:
        def rolled_back() -> str | None:
            image = self.image("checkout")
            wrong = None if image.endswith(":v1") else f"checkout still runs {image}"
            return wrong or self.approved_by("checkout-unavailable", "alice")()

        self.incident(
            "checkout-unavailable", "DeploymentReplicasUnavailable", "P1", deployment="checkout"
        )
        self.approve_with_cli("checkout-unavailable", "alice", "v2 fails its readiness probe")
        self.report(
            Scenario(
                "failed deployment (P1) → approved → rollback",
                "checkout-unavailable",
                "Remediated",
                rolled_back,
            ),
            self.wait("checkout-unavailable", "Remediated", "Failed", "Blocked"),
        )

        def restarted() -> str | None:
            annotations = (
                self.get("apps", "deployments", "payments")["spec"]["template"]["metadata"].get(
                    "annotations"
                )
                or {}
            )
            return (
                None
                if "kubectl.kubernetes.io/restartedAt" in annotations
                else ("no restartedAt annotation on payments")
            )

        self.incident("payments-memory", "ContainerMemoryLeak", "P2", deployment="payments")
        self.report(
            Scenario("memory leak → rolling restart", "payments-memory", "Remediated", restarted),
            self.wait("payments-memory", "Remediated", "Failed", "Blocked"),
        )

        def scaled() -> str | None:
            hpa = self.get("autoscaling", "horizontalpodautoscalers", "worker")
            replicas = self.get("apps", "deployments", "worker")["spec"]["replicas"]
            ok = hpa["spec"]["minReplicas"] == 4 and replicas == 2
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
                flags = self.get("", "configmaps", "shipping-flags")["data"]
                if flags.get("carrier-a") == "closed":
                    return None
                time.sleep(0.2)
            return "carrier-a was not restored to closed"

        self.incident(
            "carrier-a-429", "CarrierRateLimited", "P2", deployment="shipping", carrier="carrier-a"
        )
        phase = self.wait("carrier-a-429", "Remediated", "Failed", "Blocked")
        opened = self.get("", "configmaps", "shipping-flags")["data"].get("carrier-a")
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
        self.approve_with_cli("api-down", "bob", "pods crashlooping since 10:02")
        self.report(
            Scenario(
                "P0 service down → approved → evict pods",
                "api-down",
                "Remediated",
                self.approved_by("api-down", "bob"),
            ),
            self.wait("api-down", "Remediated", "Failed", "Blocked", timeout=40),
        )

        self.incident("search-false-alarm", "ContainerMemoryLeak", "P1", deployment="search")
        self.wait("search-false-alarm", "AwaitingApproval")
        before = self.get("apps", "deployments", "search")["metadata"]["resourceVersion"]
        self.api(
            "update",
            "remediator.dev",
            "incidents",
            {
                **self.get("remediator.dev", "incidents", "search-false-alarm"),
                "spec": {
                    **self.get("remediator.dev", "incidents", "search-false-alarm")["spec"],
                    "alertStatus": "resolved",
                },
            },
        )

        def untouched() -> str | None:
            after = self.get("apps", "deployments", "search")["metadata"]["resourceVersion"]
            return None if after == before else "search was changed"

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


@click.command()
def demo() -> None:
    """Run the playbook's scenarios with the real operator on the embedded API emulator."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="remediator-demo-") as tmp:
        workdir = Path(tmp)
        with Sandbox(kubeconfig=workdir / "kubeconfig") as box:
            click.secho(f"Kubernetes API emulator on {box.url}", bold=True)
            show = Demo(box, workdir)
            show.seed()
            show.policies()
            config = OperatorConfig(
                tick_seconds=0.2,
                retry_seconds=0.5,
                approval_key=secrets.token_bytes(32),
                webhook_managed=True,
                webhook_insecure=True,
                identity="remediator-demo",
            )
            logging.getLogger("kopf").setLevel(logging.ERROR)
            with OperatorThread(str(box.kubeconfig), config):
                click.secho("\nScenarios (playbook → policy → outcome)", bold=True)
                story = show.play()
                if shutil.which("kubectl"):
                    click.secho(f"\n$ kubectl get incidents -n {NS}", bold=True)
                    click.echo(show.kubectl("get", "incidents", "-n", NS))
                    click.secho(f"\n$ kubectl describe incident {story} -n {NS}", bold=True)
                    click.echo(show.kubectl("describe", "incident", story, "-n", NS))
            writes = [w for w in box.writes() if w.changed and w.user == "sandbox-admin"]
    elapsed = time.monotonic() - started
    click.echo(
        f"\n{len(writes)} writes by the operator (targets, status, Events) in the emulator's "
        f"audit log; demo took {elapsed:.1f} s."
    )
    if show.failures:
        click.secho(f"{len(show.failures)} scenario(s) did not end as expected:", fg="red")
        for failure in show.failures:
            click.secho(f"  - {failure}", fg="red")
        sys.exit(1)
    click.secho("Every scenario ended as expected.", fg="green", bold=True)
