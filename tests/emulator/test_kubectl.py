"""The real kubectl against the emulator: what an engineer types must work as on a cluster.

kubectl exercises the parts of kube-apiserver that the Python clients do not: discovery
(short names, categories), server-side Table output for `get` and `get -w`, OpenAPI v3 for
`apply` and `explain`, three-way merges of `apply`, field selectors of `describe`, the scale
subresource, and watches that wait for a deletion or a rollout.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from kube_emulator import Sandbox
from kube_emulator import fixtures as sandbox_fixtures

if TYPE_CHECKING:
    from conftest import Kubectl

pytestmark = pytest.mark.kubectl

GROUP = "kubectl.remediator.dev"

CRD = f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gizmos.{GROUP}
spec:
  group: {GROUP}
  scope: Namespaced
  names:
    plural: gizmos
    singular: gizmo
    kind: Gizmo
    listKind: GizmoList
    shortNames: [gzm]
    categories: [gadgets]
  versions:
    - name: v1
      served: true
      storage: true
      subresources:
        status: {{}}
      additionalPrinterColumns:
        - name: Size
          type: integer
          jsonPath: .spec.size
        - name: Color
          type: string
          jsonPath: .spec.color
        - name: Phase
          type: string
          jsonPath: .status.phase
        - name: Age
          type: date
          jsonPath: .metadata.creationTimestamp
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size:
                  type: integer
                  minimum: 1
                  description: How big the gizmo is.
                color:
                  type: string
                  enum: [red, green, blue]
            status:
              type: object
              properties:
                phase:
                  type: string
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.25
"""


def gizmo(name: str = "g1", *, size: int = 3, color: str = "red", **extra: Any) -> str:
    body: dict[str, Any] = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gizmo",
        "metadata": {"name": name, **extra.pop("metadata", {})},
        "spec": {"size": size, "color": color, **extra},
    }
    return yaml.safe_dump(body)


def rows(output: str) -> list[list[str]]:
    """kubectl's table output, split into cells (no cell here contains a space)."""
    return [line.split() for line in output.strip().splitlines()]


@pytest.fixture
def crd(kubectl: Kubectl) -> Kubectl:
    out = kubectl.run("apply", "-f", "-", input=CRD).stdout
    assert out.strip() == f"customresourcedefinition.apiextensions.k8s.io/gizmos.{GROUP} created"
    return kubectl


@pytest.fixture
def g1(crd: Kubectl) -> dict[str, Any]:
    out = crd.run("apply", "-f", "-", input=gizmo()).stdout
    assert out.strip() == f"gizmo.{GROUP}/g1 created"
    obj: dict[str, Any] = crd.json("get", "gizmo", "g1")
    return obj


class LineReader:
    """The lines of a long-running kubectl, read on a thread so waits can time out."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, predicate: Any, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            self.seen.append(line)
            if predicate(line):
                return line
        stderr = ""
        if self.proc.poll() is not None and self.proc.stderr is not None:
            stderr = self.proc.stderr.read()
        raise AssertionError(f"no matching line; got {self.seen!r}; stderr: {stderr}")


@pytest.fixture
def background(kubectl: Kubectl) -> Iterator[Any]:
    """Start kubectl commands that run until stopped (`get -w`, `delete --wait`)."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> LineReader:
        proc = subprocess.Popen(
            [
                "kubectl",
                f"--kubeconfig={kubectl.kubeconfig}",
                f"--cache-dir={kubectl.cache_dir}",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return LineReader(proc)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------- custom resources
def test_get_prints_the_crd_printer_columns_by_name_short_name_and_category(
    crd: Kubectl, g1: dict[str, Any]
) -> None:
    crd.run("apply", "-f", "-", input=gizmo("g2", size=12, color="blue"))
    for resource in ("gizmos", "gizmo", "gzm", f"gizmos.{GROUP}", f"gizmos.v1.{GROUP}"):
        table = rows(crd.run("get", resource).stdout)
        assert table[0] == ["NAME", "SIZE", "COLOR", "PHASE", "AGE"], resource
        assert [r[:3] for r in table[1:]] == [["g1", "3", "red"], ["g2", "12", "blue"]]
        assert all(r[3].endswith("s") for r in table[1:])  # an age such as "0s", no phase
    by_category = crd.run("get", "gadgets").stdout
    assert "NAME" in by_category
    assert "g1" in by_category
    assert "g2" in by_category
    single = rows(crd.run("get", "gzm", "g2", "--no-headers").stdout)
    assert single[0][:3] == ["g2", "12", "blue"]


def test_get_json_and_yaml_return_the_stored_object(crd: Kubectl, g1: dict[str, Any]) -> None:
    assert g1["apiVersion"] == f"{GROUP}/v1"
    assert g1["kind"] == "Gizmo"
    assert g1["spec"] == {"size": 3, "color": "red"}
    meta = g1["metadata"]
    assert meta["namespace"] == "default"
    assert meta["generation"] == 1
    assert meta["uid"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in meta["annotations"]
    as_yaml = yaml.safe_load(crd.run("get", "gizmo", "g1", "-o", "yaml").stdout)
    assert as_yaml == g1
    listed = crd.json("get", "gizmos")
    assert listed["kind"] == "List"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["g1"]
    jsonpath = crd.run("get", "gzm", "g1", "-o", "jsonpath={.spec.color}/{.metadata.uid}")
    assert jsonpath.stdout == f"red/{meta['uid']}"


def test_apply_twice_is_unchanged_and_a_changed_apply_is_configured(
    crd: Kubectl, g1: dict[str, Any]
) -> None:
    again = crd.run("apply", "-f", "-", input=gizmo())
    assert again.stdout.strip() == f"gizmo.{GROUP}/g1 unchanged"
    assert (
        crd.json("get", "gizmo", "g1")["metadata"]["resourceVersion"]
        == (g1["metadata"]["resourceVersion"])
    )
    changed = crd.run("apply", "-f", "-", input=gizmo(size=4))
    assert changed.stdout.strip() == f"gizmo.{GROUP}/g1 configured"
    after = crd.json("get", "gizmo", "g1")
    assert after["spec"]["size"] == 4
    assert after["metadata"]["generation"] == 2
    # A field dropped from the configuration is removed (three-way merge).
    crd.run(
        "apply",
        "-f",
        "-",
        input=yaml.safe_dump(
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": "Gizmo",
                "metadata": {"name": "g1"},
                "spec": {"size": 4},
            }
        ),
    )
    assert crd.json("get", "gizmo", "g1")["spec"] == {"size": 4}


def test_status_subresource_through_kubectl(crd: Kubectl, g1: dict[str, Any]) -> None:
    def merge_patch(patch: str, *flags: str) -> str:
        return crd.run("patch", "gizmo", "g1", *flags, "--type=merge", "-p", patch).stdout

    out = merge_patch('{"status": {"phase": "Ready"}}', "--subresource=status")
    assert out.strip() == f"gizmo.{GROUP}/g1 patched"
    assert rows(crd.run("get", "gzm", "--no-headers").stdout)[0][:4] == ["g1", "3", "red", "Ready"]
    # The main resource ignores status; the status subresource ignores spec.
    merge_patch('{"status": {"phase": "Lost"}}')
    merge_patch('{"spec": {"size": 9}}', "--subresource=status")
    obj = crd.json("get", "gizmo", "g1")
    assert obj["status"] == {"phase": "Ready"}
    assert obj["spec"]["size"] == 3
    assert obj["metadata"]["generation"] == 1


def test_describe_shows_the_events_of_the_object(
    crd: Kubectl, g1: dict[str, Any], sandbox: Sandbox
) -> None:
    def event(name: str, uid: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {
                "apiVersion": f"{GROUP}/v1",
                "kind": "Gizmo",
                "name": "g1",
                "namespace": "default",
                "uid": uid,
            },
            "reason": reason,
            "message": message,
            "type": "Normal",
            "source": {"component": "remediator"},
            "firstTimestamp": g1["metadata"]["creationTimestamp"],
            "lastTimestamp": g1["metadata"]["creationTimestamp"],
            "count": 1,
        }

    events = [
        event("g1.1", g1["metadata"]["uid"], "Frobbed", "the gizmo was frobbed"),
        # Same name, another uid: an earlier object of that name, not this one.
        event("g1.2", "00000000-0000-0000-0000-000000000000", "Stale", "of a former g1"),
    ]
    # Two YAML documents, not a `kind: List`: kubectl validates a List client-side against
    # OpenAPI v2 (protobuf only), which the emulator does not serve.
    out = crd.run("apply", "-f", "-", input=yaml.safe_dump_all(events)).stdout
    assert out.split("\n")[:2] == ["event/g1.1 created", "event/g1.2 created"]
    described = crd.run("describe", "gizmo", "g1").stdout
    assert "Name:         g1" in described
    assert "Size:   3" in described
    assert "Events:" in described
    section = described.split("Events:", 1)[1]
    assert "Frobbed" in section
    assert "remediator" in section
    assert "the gizmo was frobbed" in section
    assert "Stale" not in section
    listed = rows(crd.run("get", "events", "--field-selector", "reason=Frobbed").stdout)
    assert listed[0] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert listed[1][1:4] == ["Normal", "Frobbed", "gizmo/g1"]


def test_annotate_label_and_patch(crd: Kubectl, g1: dict[str, Any]) -> None:
    assert crd.run("annotate", "gizmo", "g1", "example.dev/note=hello").stdout.strip() == (
        f"gizmo.{GROUP}/g1 annotated"
    )
    assert crd.run("label", "gizmo", "g1", "tier=gold").stdout.strip() == (
        f"gizmo.{GROUP}/g1 labeled"
    )
    assert (
        crd.run(
            "patch", "gizmo", "g1", "--type=merge", "-p", '{"spec": {"size": 5}}'
        ).stdout.strip()
        == f"gizmo.{GROUP}/g1 patched"
    )
    crd.run(
        "patch",
        "gizmo",
        "g1",
        "--type=json",
        "-p",
        '[{"op": "test", "path": "/spec/color", "value": "red"},'
        ' {"op": "replace", "path": "/spec/color", "value": "green"}]',
    )
    obj = crd.json("get", "gizmo", "g1")
    assert obj["metadata"]["annotations"]["example.dev/note"] == "hello"
    assert obj["metadata"]["labels"] == {"tier": "gold"}
    assert obj["spec"] == {"size": 5, "color": "green"}
    assert obj["metadata"]["generation"] == 3  # metadata changes do not bump it
    assert rows(crd.run("get", "gzm", "-l", "tier=gold", "--no-headers").stdout)[0][:3] == [
        "g1",
        "5",
        "green",
    ]
    assert crd.run("get", "gzm", "-l", "tier=silver").stderr.strip() == (
        "No resources found in default namespace."
    )
    # A failed JSON-patch test is a 422, and changes nothing.
    failed = crd.run(
        "patch",
        "gizmo",
        "g1",
        "--type=json",
        "-p",
        '[{"op": "test", "path": "/spec/color", "value": "red"}]',
        check=False,
    )
    assert failed.returncode == 1
    assert "The request is invalid" in failed.stderr
    assert "the server rejected our request due to an error in our request" in failed.stderr
    assert crd.json("get", "gizmo", "g1")["spec"]["color"] == "green"
    # Overwriting needs --overwrite, as on a cluster (a client-side check).
    refused = crd.run("annotate", "gizmo", "g1", "example.dev/note=bye", check=False)
    assert refused.returncode == 1
    assert "--overwrite is false" in refused.stderr
    crd.run("annotate", "gizmo", "g1", "example.dev/note-")
    crd.run("label", "gizmo", "g1", "tier-")
    obj = crd.json("get", "gizmo", "g1")
    assert "example.dev/note" not in obj["metadata"].get("annotations", {})
    assert not obj["metadata"].get("labels")


def test_replace_with_a_stale_resource_version_is_a_clear_conflict(
    crd: Kubectl, g1: dict[str, Any]
) -> None:
    stale = json.dumps(crd.json("get", "gizmo", "g1") | {"spec": {"size": 8}})
    crd.run("annotate", "gizmo", "g1", "moved=on")
    failed = crd.run("replace", "-f", "-", input=stale, check=False)
    assert failed.returncode == 1
    assert "Error from server (Conflict)" in failed.stderr
    assert (
        f'Operation cannot be fulfilled on gizmos.{GROUP} "g1": the object has been modified; '
        "please apply your changes to the latest version and try again"
    ) in failed.stderr
    # With the current resourceVersion, replace goes through.
    fresh = crd.json("get", "gizmo", "g1")
    fresh["spec"]["size"] = 8
    assert crd.run("replace", "-f", "-", input=json.dumps(fresh)).stdout.strip() == (
        f"gizmo.{GROUP}/g1 replaced"
    )
    assert crd.json("get", "gizmo", "g1")["spec"]["size"] == 8


def test_apply_of_an_invalid_resource_names_the_fields(crd: Kubectl) -> None:
    failed = crd.run("apply", "-f", "-", input=gizmo("bad", size=0, color="purple"), check=False)
    assert failed.returncode == 1
    assert 'The Gizmo "bad" is invalid' in failed.stderr
    assert 'spec.color: Unsupported value: "purple": supported values: "red", "green", "blue"' in (
        failed.stderr
    )
    assert (
        "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"
        in (failed.stderr)
    )
    missing = crd.run(
        "apply",
        "-f",
        "-",
        check=False,
        input=yaml.safe_dump(
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": "Gizmo",
                "metadata": {"name": "bad"},
                "spec": {"color": "red"},
            }
        ),
    )
    assert missing.returncode == 1
    assert "spec.size: Required value" in missing.stderr
    # kubectl asks for strict field validation (the OpenAPI v3 of the group says it may).
    unknown = crd.run("apply", "-f", "-", input=gizmo("bad", bogus=1), check=False)
    assert unknown.returncode == 1
    assert "Error from server (BadRequest)" in unknown.stderr
    assert (
        'Gizmo in version "v1" cannot be handled as a Gizmo: strict decoding error: '
        'unknown field "spec.bogus"'
    ) in unknown.stderr
    assert crd.run("get", "gizmos", "bad", check=False).returncode == 1


def test_delete_waits_until_the_object_is_gone(
    crd: Kubectl, g1: dict[str, Any], background: Any
) -> None:
    crd.run("apply", "-f", "-", input=gizmo("held", metadata={"finalizers": ["example.dev/x"]}))
    waiting = background("delete", "gizmo", "held", "--wait", "--timeout=20s")
    waiting.wait_for(lambda line: line == f'gizmo.{GROUP} "held" deleted')
    time.sleep(0.3)
    assert waiting.proc.poll() is None, "kubectl must still wait for the finalizer"
    held = crd.json("get", "gizmo", "held")
    assert held["metadata"]["deletionTimestamp"]
    crd.run(
        "patch",
        "gizmo",
        "held",
        "--type=json",
        "-p",
        '[{"op": "remove", "path": "/metadata/finalizers"}]',
    )
    assert waiting.proc.wait(timeout=10) == 0
    gone = crd.run("get", "gizmo", "held", check=False)
    assert gone.returncode == 1
    assert f'gizmos.{GROUP} "held" not found' in gone.stderr
    # Without finalizers the deletion is immediate.
    out = crd.run("delete", "gizmo", "g1", "--wait", "--timeout=10s").stdout
    # kubectl 1.34 adds " from default namespace"
    assert out.strip().startswith(f'gizmo.{GROUP} "g1" deleted')
    assert crd.run("get", "gizmos").stderr.strip() == "No resources found in default namespace."


def test_get_watch_prints_later_changes_as_table_rows(
    crd: Kubectl, g1: dict[str, Any], background: Any
) -> None:
    watch = background("get", "gizmos", "-w")
    assert watch.wait_for(lambda line: line.startswith("NAME")).split() == [
        "NAME",
        "SIZE",
        "COLOR",
        "PHASE",
        "AGE",
    ]
    assert watch.wait_for(lambda line: line.startswith("g1")).split()[:3] == ["g1", "3", "red"]
    crd.run("patch", "gizmo", "g1", "--type=merge", "-p", '{"spec": {"size": 6}}')
    assert watch.wait_for(lambda line: line.startswith("g1")).split()[:3] == ["g1", "6", "red"]
    crd.run("apply", "-f", "-", input=gizmo("g2", color="blue"))
    assert watch.wait_for(lambda line: line.startswith("g2")).split()[:3] == ["g2", "3", "blue"]
    assert watch.proc.poll() is None
    assert not any(line.startswith("NAME") for line in watch.seen[1:])  # one header only
    # --output-watch-events names the event types.
    events = background("get", "gizmos", "-w", "--output-watch-events", "--no-headers")
    events.wait_for(lambda line: line.split()[:2] == ["ADDED", "g2"])
    crd.run("delete", "gizmo", "g2")
    events.wait_for(lambda line: line.split()[:2] == ["DELETED", "g2"])


# --------------------------------------------------------------------------- built-ins
@pytest.mark.emulator_only(
    reason="deliberate: the emulator speaks no protobuf (kube-apiserver does)"
)
def test_typed_generators_get_a_clear_415_and_apply_works_for_builtins(kubectl: Kubectl) -> None:
    # kubectl's typed generators send protobuf; the emulator (like an apiserver without
    # protobuf) refuses it with a message naming what it accepts.
    failed = kubectl.run("create", "configmap", "cm1", "--from-literal=a=b", check=False)
    if failed.returncode == 0:
        pytest.fail("kubectl sent JSON after all: the known limit no longer applies")
    assert (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml" in failed.stderr
    )
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm1"},
        "data": {"a": "b"},
    }
    assert kubectl.run("apply", "-f", "-", input=json.dumps(config)).stdout.strip() == (
        "configmap/cm1 created"
    )
    table = rows(kubectl.run("get", "cm", "cm1").stdout)
    assert table[0] == ["NAME", "DATA", "AGE"]
    assert table[1][:2] == ["cm1", "1"]


def apply_deployment(kubectl: Kubectl, sandbox: Sandbox) -> dict[str, Any]:
    assert kubectl.run("apply", "-f", "-", input=DEPLOYMENT).stdout.strip() == (
        "deployment.apps/web created"
    )
    sandbox.settle()
    dep: dict[str, Any] = kubectl.json("get", "deployment", "web")
    return dep


def test_builtin_columns_of_deployments_replicasets_and_pods(
    kubectl: Kubectl, sandbox: Sandbox
) -> None:
    apply_deployment(kubectl, sandbox)
    out = kubectl.run("get", "deploy,rs,pods").stdout
    blocks = [rows(block) for block in out.strip().split("\n\n")]
    deploy, rs, pods = blocks
    assert deploy[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploy[1][:4] == ["deployment.apps/web", "2/2", "2", "2"]
    assert rs[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert rs[1][0].startswith("replicaset.apps/web-")
    assert rs[1][1:4] == ["2", "2", "2"]
    assert pods[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(pods) == 3
    assert all(p[0].startswith(rs[1][0].replace("replicaset.apps/", "pod/")) for p in pods[1:])
    assert all(p[1:4] == ["1/1", "Running", "0"] for p in pods[1:])
    wide = rows(kubectl.run("get", "deploy", "-o", "wide").stdout)
    assert wide[0] == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert wide[1][5:] == ["web", "nginx:1.25", "app=web"]
    # Apply is idempotent for built-ins too (three-way merge against server defaults).
    assert kubectl.run("apply", "-f", "-", input=DEPLOYMENT).stdout.strip() == (
        "deployment.apps/web unchanged"
    )


def test_scale_uses_the_scale_subresource(kubectl: Kubectl, sandbox: Sandbox) -> None:
    apply_deployment(kubectl, sandbox)
    assert kubectl.run("scale", "deployment", "web", "--replicas=3").stdout.strip() == (
        "deployment.apps/web scaled"
    )
    assert sandbox.request_counts().get(("patch", "apps", "deployments"), 0) >= 1
    sandbox.settle()
    assert kubectl.json("get", "deployment", "web")["spec"]["replicas"] == 3
    assert len(kubectl.json("get", "pods", "-l", "app=web")["items"]) == 3
    # --current-replicas is a precondition checked against the Scale.
    refused = kubectl.run(
        "scale", "deployment", "web", "--current-replicas=5", "--replicas=1", check=False
    )
    assert refused.returncode == 1
    assert "Expected replicas to be 5, was 3" in refused.stderr
    status = kubectl.run("rollout", "status", "deployment", "web", "--timeout=10s")
    assert 'deployment "web" successfully rolled out' in status.stdout


def test_rollout_restart_sets_restarted_at_and_rolls_a_new_replicaset(
    kubectl: Kubectl, sandbox: Sandbox
) -> None:
    apply_deployment(kubectl, sandbox)
    assert kubectl.run("rollout", "restart", "deployment", "web").stdout.strip() == (
        "deployment.apps/web restarted"
    )
    dep = kubectl.json("get", "deployment", "web")
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kubectl.kubernetes.io/restartedAt"]
    assert dep["metadata"]["generation"] == 2
    sandbox.settle()
    sets = kubectl.json("get", "rs", "-l", "app=web")["items"]
    assert len(sets) == 2
    by_revision = {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs for rs in sets
    }
    assert by_revision["2"]["spec"]["replicas"] == 2
    assert by_revision["1"]["spec"]["replicas"] == 0
    status = kubectl.run("rollout", "status", "deployment", "web", "--timeout=10s")
    assert 'deployment "web" successfully rolled out' in status.stdout


@pytest.mark.skipif(
    not hasattr(sandbox_fixtures, "DeploymentController"),
    reason="the fixture Deployment controller (kube_emulator.fixtures) is not ready yet",
)
def test_rollout_undo_returns_to_the_previous_replicaset(
    kubectl: Kubectl, sandbox: Sandbox
) -> None:
    apply_deployment(kubectl, sandbox)
    first = kubectl.json("get", "rs", "-l", "app=web")["items"][0]["metadata"]["name"]
    kubectl.run("set", "image", "deployment/web", "web=nginx:1.26")
    sandbox.settle()
    history = kubectl.run("rollout", "history", "deployment", "web").stdout
    assert rows(history)[1:] == [["REVISION", "CHANGE-CAUSE"], ["1", "<none>"], ["2", "<none>"]]
    assert kubectl.run("rollout", "undo", "deployment", "web").stdout.strip() == (
        "deployment.apps/web rolled back"
    )
    sandbox.settle()
    dep = kubectl.json("get", "deployment", "web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    sets = {rs["metadata"]["name"]: rs for rs in kubectl.json("get", "rs")["items"]}
    assert len(sets) == 2, "the old ReplicaSet is reused, not a new one created"
    assert sets[first]["spec"]["replicas"] == 2
    assert sets[first]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    images = {
        p["spec"]["containers"][0]["image"]
        for p in kubectl.json("get", "pods", "-l", "app=web")["items"]
    }
    assert images == {"nginx:1.25"}


# --------------------------------------------------------------------------- discovery
@pytest.mark.emulator_only(
    reason="deliberate: the emulator says it is kube 1.32; the real control plane is 1.34"
)
def test_get_raw_version(kubectl: Kubectl) -> None:
    version = json.loads(kubectl.run("get", "--raw", "/version").stdout)
    assert version["major"] == "1"
    assert version["gitVersion"].startswith("v1.32.")
    server = json.loads(kubectl.run("version", "-o", "json").stdout)["serverVersion"]
    assert server["minor"] == "32"


def test_api_resources_lists_the_crd_and_builtins(crd: Kubectl) -> None:
    table = rows(crd.run("api-resources", "-o", "wide").stdout)
    header = table[0]
    assert header[:5] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert any(
        r[0] == "gizmos" and "gzm" in r and f"{GROUP}/v1" in r and "Gizmo" in r and "gadgets" in r
        for r in table[1:]
    ), table
    for name, api_version in (
        ("pods", "v1"),
        ("deployments", "apps/v1"),
        ("events", "v1"),
        ("customresourcedefinitions", "apiextensions.k8s.io/v1"),
    ):
        assert any(r[0] == name and api_version in r for r in table[1:]), name
    namespaced = crd.run("api-resources", "--namespaced=false", "-o", "name").stdout.split()
    assert "namespaces" in namespaced
    assert "gizmos." + GROUP not in namespaced
    in_group = crd.run("api-resources", f"--api-group={GROUP}", "-o", "name").stdout.split()
    assert in_group == [f"gizmos.{GROUP}"]


def test_explain_reads_the_crd_schema(crd: Kubectl) -> None:
    # the real server publishes a new CRD's OpenAPI schema a moment later
    deadline = time.monotonic() + 20
    while (explained := crd.run("explain", "gizmo.spec", check=False)).returncode != 0:
        assert time.monotonic() < deadline, explained.stderr
        time.sleep(0.5)
    out = explained.stdout
    assert "KIND:       Gizmo" in out
    assert "size\t<integer> -required-" in out
    assert "How big the gizmo is." in out
    assert "enum: red, green, blue" in out
