"""`remediator demo`: a tour of the embedded Kubernetes API emulator with the real kubectl.

It starts the emulator with its fixture Deployment controller, then drives it with kubectl
the way a person would: a CRD and a custom resource with printer columns, an Event shown by
`kubectl describe`, a stale update refused with 409, a Deployment rolled out, restarted and
rolled back through ReplicaSet revisions, and an eviction refused by a PodDisruptionBudget.
Each step checks its outcome; the command exits non-zero if any does not hold.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from .sandbox import Sandbox

WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.demo.remediator.dev}
spec:
  group: demo.remediator.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 0}
              color: {type: string, enum: [red, blue]}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""
WIDGET = """
apiVersion: demo.remediator.dev/v1
kind: Widget
metadata: {name: gizmo, namespace: default}
spec: {size: 3, color: red}
"""
BAD_WIDGET = WIDGET.replace("color: red", "color: green")
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers: [{name: app, image: "registry.example/checkout:IMAGE"}]
"""
PDB = """
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: checkout, namespace: default}
spec: {minAvailable: 2, selector: {matchLabels: {app: checkout}}}
"""


class Tour:
    def __init__(self, box: Sandbox, cache: Path) -> None:
        self.box = box
        self.cache = cache
        self.failures: list[str] = []

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        click.secho(f"$ kubectl {' '.join(args)}", fg="cyan")
        proc = subprocess.run(
            ["kubectl", f"--kubeconfig={self.box.kubeconfig}", f"--cache-dir={self.cache}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = (proc.stdout + proc.stderr).rstrip()
        if output:
            click.echo(output)
        return proc

    def expect(self, what: str, ok: bool) -> None:
        click.secho(f"  {'✔' if ok else '✘'} {what}", fg="green" if ok else "red")
        if not ok:
            self.failures.append(what)

    def step(self, title: str, body: Callable[[], None]) -> None:
        click.secho(f"\n== {title}", bold=True)
        body()


def run_tour(box: Sandbox, cache: Path) -> list[str]:
    t = Tour(box, cache)

    def custom_resources() -> None:
        t.expect("CRD accepted", t.kubectl("apply", "-f", "-", stdin=WIDGET_CRD).returncode == 0)
        t.expect(
            "custom resource created", t.kubectl("apply", "-f", "-", stdin=WIDGET).returncode == 0
        )
        got = t.kubectl("get", "wd")
        t.expect("printer columns shown", "SIZE" in got.stdout and "red" in got.stdout)
        bad = t.kubectl("apply", "-f", "-", stdin=BAD_WIDGET)
        t.expect(
            "invalid value refused with the field named",
            bad.returncode != 0 and "spec.color" in bad.stderr,
        )

    def events() -> None:
        uid = t.kubectl("get", "widget", "gizmo", "-o", "jsonpath={.metadata.uid}").stdout
        event = (
            "apiVersion: v1\nkind: Event\nmetadata: {name: gizmo.demo, namespace: default}\n"
            f"involvedObject: {{apiVersion: demo.remediator.dev/v1, kind: Widget, name: gizmo,"
            f" namespace: default, uid: {uid}}}\nreason: Inspected\ntype: Normal\n"
            "message: the demo looked at this widget\nsource: {component: remediator-demo}\n"
            "count: 1\nfirstTimestamp: '2026-01-01T00:00:00Z'\n"
            "lastTimestamp: '2026-01-01T00:00:00Z'\n"
        )
        t.kubectl("apply", "-f", "-", stdin=event)
        described = t.kubectl("describe", "widget", "gizmo")
        t.expect("describe shows the Event", "Inspected" in described.stdout)

    def conflicts() -> None:
        stale = t.kubectl("get", "widget", "gizmo", "-o", "yaml").stdout
        t.kubectl("annotate", "widget", "gizmo", "demo/touched=yes")
        replaced = t.kubectl("replace", "-f", "-", stdin=stale.replace("size: 3", "size: 4"))
        t.expect(
            "stale update refused with 409",
            replaced.returncode != 0 and "the object has been modified" in replaced.stderr,
        )

    def deployments() -> None:
        t.kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("IMAGE", "v1"))
        box.settle()
        t.kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("IMAGE", "v2"))
        box.settle()
        t.kubectl("get", "deploy,rs,pods")
        t.kubectl("rollout", "undo", "deployment/checkout")
        box.settle()
        image = t.kubectl(
            "get", "deploy", "checkout", "-o", "jsonpath={.spec.template.spec.containers[0].image}"
        ).stdout
        t.expect("rollout undo restored the previous image", image.endswith(":v1"))
        t.kubectl("get", "rs")

    def evictions() -> None:
        t.kubectl("apply", "-f", "-", stdin=PDB)
        pod = t.kubectl(
            "get", "pods", "-l", "app=checkout", "-o", "jsonpath={.items[0].metadata.name}"
        ).stdout
        evicted = t.kubectl(
            "create",
            "--raw",
            f"/api/v1/namespaces/default/pods/{pod}/eviction",
            "-f",
            "-",
            stdin='{"apiVersion":"policy/v1","kind":"Eviction",'
            f'"metadata":{{"name":"{pod}","namespace":"default"}}}}',
        )
        t.expect(
            "eviction refused by the PodDisruptionBudget (429)",
            evicted.returncode != 0 and "disruption budget" in evicted.stderr,
        )

    t.step("Custom resources: CRD, printer columns, schema validation", custom_resources)
    t.step("Events in kubectl describe", events)
    t.step("Optimistic concurrency", conflicts)
    t.step("Deployments with the fixture controller: rollout and rollback", deployments)
    t.step("Eviction honours PodDisruptionBudgets", evictions)
    return t.failures


@click.command()
def demo() -> None:
    """Start the API emulator and show kubectl working against it."""
    if shutil.which("kubectl") is None:
        raise click.ClickException("kubectl is not installed; the demo drives the real kubectl")
    with (
        tempfile.TemporaryDirectory(prefix="remediator-demo-") as tmp,
        Sandbox(kubeconfig=Path(tmp) / "kubeconfig") as box,
    ):
        click.echo(f"Kubernetes API emulator on {box.url}")
        failures = run_tour(box, Path(tmp) / "cache")
        writes = box.writes()
    click.secho(f"\n{len(writes)} writes recorded by the emulator's audit log.", bold=True)
    if failures:
        click.secho(f"{len(failures)} step(s) did not end as expected: {failures}", fg="red")
        sys.exit(1)
    click.secho("All steps ended as expected.", fg="green", bold=True)
