"""The real control plane for the tests: one cluster per test session, a clean slate per test.

`ControlPlane` starts the cluster once (controlplane/cluster.py: kube-apiserver, etcd,
kube-controller-manager, kube-scheduler and kwok's fake nodes, built from their Go modules),
installs the CRDs, and after each test deletes what the test left (the namespaces' contents,
and cluster-scoped objects that were not there before). `RealBox` stands where the flow tests
use the emulator's `Sandbox`: `settle()` waits for the real controllers, `writes()` reads the
API server's audit log, `kubeconfig_for()` makes a client certificate signed by the cluster's
CA (a real identity the API server authenticates).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import yaml
from kubernetes import client, config

from kube_emulator import WriteRecord

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "controlplane" / "cluster.py"
HOW_TO_GET = (
    "the real-cluster tests need Go (1.24 or newer) and the Go module proxy: install Go "
    "(https://go.dev/doc/install), then `make cluster` builds and starts the control plane once "
    "(about 7 minutes cold on 2 cores, cached after), and `make test` runs them"
)
# namespaces every flow test may use; kept between tests, emptied after each
STANDARD_NAMESPACES = ("shop", "remediator-system", "other")
# writes made by the cluster's own components (they authenticate with the same admin
# certificate as the tests, so the user agent tells them apart): the emulator's fixture
# controllers' writes are not in its write log either
COMPONENT_AGENTS = ("kube-controller-manager", "kube-scheduler", "kwok", "kube-apiserver")
WORKLOADS = ("deployments", "replicasets", "statefulsets", "daemonsets", "cronjobs", "jobs")
# in the namespaces the cluster came with (kube-system, default, ...) the cleanup deletes
# only objects of these kinds that were not there at the start (never events, leases,
# endpoints: the cluster's own components keep those)
SYSTEM_NAMESPACE_KINDS = {
    ("remediator.dev", "incidents"),
    ("remediator.dev", "remediationpolicies"),
    ("remediator.dev", "approvals"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("", "pods"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "serviceaccounts"),
    ("", "services"),
    ("policy", "poddisruptionbudgets"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("batch", "cronjobs"),
    ("batch", "jobs"),
    ("networking.k8s.io", "networkpolicies"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
}
KEEP = {
    ("", "configmaps"): {"kube-root-ca.crt"},
    ("", "serviceaccounts"): {"default"},
}


class ControlPlaneUnavailableError(RuntimeError):
    """Go is missing: the real cluster cannot be built here (the tests skip, saying how)."""


def go_available() -> bool:
    from shutil import which

    return which("go") is not None


@dataclass
class Resource:
    group: str
    version: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


@dataclass
class ControlPlane:
    name: str
    kubeconfig: Path
    info: dict[str, Any]
    api: client.ApiClient
    resources: list[Resource] = field(default_factory=list)
    cluster_scoped_before: dict[str, set[str]] = field(default_factory=dict)
    # (namespace, group, plural) -> names, in the namespaces the cluster came with
    system_objects_before: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    _audit_cache: tuple[int, list[dict[str, Any]]] = (0, [])

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def start(cls, name: str | None = None, own_ports: bool = False) -> ControlPlane:
        """`own_ports` for a cluster whose components are restarted (`cluster.py up
        --own-ports`): a port they free for a moment is not one kwokctl would give another."""
        if not go_available():
            raise ControlPlaneUnavailableError(HOW_TO_GET)
        name = name or f"pytest-{os.getpid()}"
        _stop_stale_sessions()
        # beside the cluster's own files, not in pytest's temporary folder: another pytest
        # session started meanwhile removes all but the newest three of those
        kubeconfig = _kwok_workdir() / f"{name}.kubeconfig"
        started = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                str(LAUNCHER),
                "up",
                "--name",
                name,
                "--kubeconfig",
                str(kubeconfig),
                "--json",
                *(["--own-ports"] if own_ports else []),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"the real control plane did not start (controlplane/cluster.py up, exit "
                f"{proc.returncode}):\n{proc.stderr[-6000:]}"
            )
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        info["session_start_seconds"] = round(time.monotonic() - started, 1)
        api = config.new_client_from_config(config_file=str(kubeconfig))
        plane = cls(name, kubeconfig, info, api)
        try:
            plane.install_crds()
            plane.discover()
            for namespace in STANDARD_NAMESPACES:
                client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
            plane.cluster_scoped_before = plane.cluster_scoped()
            plane.system_objects_before = plane.system_objects()
        except BaseException:
            plane.stop()
            raise
        return plane

    def stop(self) -> None:
        self.api.close()
        subprocess.run(
            [sys.executable, str(LAUNCHER), "down", "--name", self.name],
            capture_output=True,
            timeout=120,
            check=False,
        )
        self.kubeconfig.unlink(missing_ok=True)

    @property
    def bin(self) -> Path:
        return Path(self.info["bin"])

    @property
    def kubectl(self) -> Path:
        return self.bin / "kubectl"

    @property
    def pki(self) -> Path:
        return Path(self.info["pki"])

    @property
    def audit_log(self) -> Path:
        return Path(self.info["audit_log"])

    # ------------------------------------------------------------------ raw API
    def raw(
        self,
        method: str,
        path: str,
        query: Iterable[tuple[str, Any]] = (),
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """One request with the admin's client; the answer's JSON (ApiException if not 2xx)."""
        url = self.api.configuration.host + path
        if query:
            url += "?" + urlencode(list(query))
        response = self.api.call_api(
            method,
            url,
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            _request_timeout=30,
        )
        data = response.read()
        if not 200 <= response.status < 300:
            raise client.ApiException(status=response.status, reason=response.reason, body=data)
        return json.loads(data) if data else None

    def install_crds(self) -> None:
        ext = client.ApiextensionsV1Api(self.api)
        names = []
        for path in sorted((ROOT / "crds").glob("*.yaml")):
            body = yaml.safe_load(path.read_text())
            ext.create_custom_resource_definition(body)
            names.append(body["metadata"]["name"])
        deadline = time.monotonic() + 30
        for crd in names:
            while True:
                conditions = ext.read_custom_resource_definition(crd).status.conditions or []
                if any(c.type == "Established" and c.status == "True" for c in conditions):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRD {crd} was not established in 30 s")
                time.sleep(0.1)

    def discover(self) -> None:
        """Every listable, deletable resource (preferred versions), for the cleanup."""
        found: list[Resource] = []
        groups: list[tuple[str, str]] = [("", "v1")]
        for group in self.raw("GET", "/apis")["groups"]:
            groups.append((group["name"], group["preferredVersion"]["version"]))
        for group, version in groups:
            path = f"/api/{version}" if not group else f"/apis/{group}/{version}"
            try:
                listed = self.raw("GET", path)["resources"]
            except client.ApiException as e:
                if e.status == 404:  # a CRD's group, gone between the two reads
                    continue
                raise
            for r in listed:
                if "/" in r["name"]:
                    continue
                verbs = frozenset(r.get("verbs") or ())
                if {"list", "delete"} <= verbs:
                    found.append(Resource(group, version, r["name"], r["namespaced"], verbs))
        self.resources = found

    # ------------------------------------------------------------------ cleanup
    def cluster_scoped(self) -> dict[str, set[str]]:
        skip = {
            "nodes",
            "namespaces",
            "componentstatuses",
            "apiservices",
            "flowschemas",
            "prioritylevelconfigurations",
            "csinodes",
            "volumeattachments",
        }
        seen: dict[str, set[str]] = {}
        for r in self.resources:
            if r.namespaced or r.plural in skip:
                continue
            items = self.raw("GET", r.path())["items"]
            seen[f"{r.group}/{r.plural}"] = {i["metadata"]["name"] for i in items}
        seen["/namespaces"] = {
            i["metadata"]["name"] for i in self.raw("GET", "/api/v1/namespaces")["items"]
        }
        return seen

    def clean(self) -> None:
        """Back to the state after start: the namespaces emptied, cluster-scoped newcomers
        (webhook configurations, roles, extra namespaces, CRDs) deleted."""
        extra_namespaces = sorted(
            {i["metadata"]["name"] for i in self.raw("GET", "/api/v1/namespaces")["items"]}
            - self.cluster_scoped_before["/namespaces"]
        )
        by_key = {f"{r.group}/{r.plural}": r for r in self.resources}
        for key, before in self.cluster_scoped_before.items():
            r = by_key.get(key)
            if r is None:
                continue
            for item in self.raw("GET", r.path())["items"]:
                name = item["metadata"]["name"]
                if name not in before:
                    self._delete(r.path(name=name), item)
        namespaces = [*STANDARD_NAMESPACES, *extra_namespaces]
        deadline = time.monotonic() + 60
        while True:
            left = self._empty_namespaces(namespaces)
            if not left:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cleanup after the test left: {left[:10]}")
            time.sleep(0.2)
        for namespace in extra_namespaces:
            self._delete(f"/api/v1/namespaces/{namespace}", None)
        while extra_namespaces:
            present = {
                i["metadata"]["name"] for i in self.raw("GET", "/api/v1/namespaces")["items"]
            }
            extra_namespaces = [n for n in extra_namespaces if n in present]
            if extra_namespaces and time.monotonic() > deadline:
                raise TimeoutError(f"namespaces {extra_namespaces} were not deleted in time")
            time.sleep(0.2)
        # a CRD a test added: the resources list was discovered before it existed
        # (and one that was deleted is gone from the list): rediscover when they changed
        if self._crds() != self._crds_at_start():
            self.discover()

    def _crds(self) -> set[str]:
        items = self.raw("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        return {i["metadata"]["name"] for i in items["items"]}

    def _crds_at_start(self) -> set[str]:
        return self.cluster_scoped_before.get(
            "apiextensions.k8s.io/customresourcedefinitions", set()
        )

    def system_namespaces(self) -> list[str]:
        return sorted(self.cluster_scoped_before["/namespaces"] - set(STANDARD_NAMESPACES))

    def system_objects(self) -> dict[tuple[str, str, str], set[str]]:
        found: dict[tuple[str, str, str], set[str]] = {}
        for namespace in self.system_namespaces():
            for r in self.resources:
                if r.namespaced and (r.group, r.plural) in SYSTEM_NAMESPACE_KINDS:
                    items = self.raw("GET", r.path(namespace))["items"]
                    found[(namespace, r.group, r.plural)] = {i["metadata"]["name"] for i in items}
        return found

    def _empty_namespaces(self, namespaces: list[str]) -> list[str]:
        """One pass of deletes; the names of what is still there. In the namespaces the
        cluster came with, only what tests may have added (`SYSTEM_NAMESPACE_KINDS`)."""
        left: list[str] = []
        order = sorted(
            (r for r in self.resources if r.namespaced),
            key=lambda r: (r.plural not in WORKLOADS, r.plural == "pods"),
        )
        system = set(self.system_namespaces())
        for namespace in [*namespaces, *sorted(system)]:
            for r in order:
                if r.plural == "events" and r.group == "events.k8s.io":
                    continue  # the same objects as core/v1 events
                if namespace in system and (r.group, r.plural) not in SYSTEM_NAMESPACE_KINDS:
                    continue
                try:
                    items = self.raw("GET", r.path(namespace))["items"]
                except client.ApiException as e:
                    if e.status in (404, 405):
                        continue
                    raise
                keep = KEEP.get((r.group, r.plural), set())
                if namespace in system:
                    keep = keep | self.system_objects_before.get(
                        (namespace, r.group, r.plural), set()
                    )
                items = [i for i in items if i["metadata"]["name"] not in keep]
                if not items:
                    continue
                left.extend(f"{r.plural}/{namespace}/{i['metadata']['name']}" for i in items)
                if namespace in system or "deletecollection" not in r.verbs or len(items) == 1:
                    for item in items:
                        self._delete(r.path(namespace, item["metadata"]["name"]), item)
                    continue
                for item in items:
                    if item["metadata"].get("finalizers"):
                        self._delete(r.path(namespace, item["metadata"]["name"]), item)
                query = [("gracePeriodSeconds", 0), ("propagationPolicy", "Background")]
                if keep:
                    query.append(("fieldSelector", ",".join(f"metadata.name!={n}" for n in keep)))
                try:
                    self.raw("DELETE", r.path(namespace), query=query)
                except client.ApiException as e:
                    if e.status not in (404, 405):
                        raise
        return left

    def _delete(self, path: str, item: dict[str, Any] | None) -> None:
        meta = (item or {}).get("metadata") or {}
        try:
            if meta.get("finalizers"):
                self.raw(
                    "PATCH",
                    path,
                    body={"metadata": {"finalizers": None}},
                    content_type="application/merge-patch+json",
                )
            if meta.get("deletionTimestamp") and "/pods/" not in path:
                return  # on its way (a pod's is forced: grace 0)
            self.raw(
                "DELETE",
                path,
                query=[("gracePeriodSeconds", 0), ("propagationPolicy", "Background")],
            )
        except client.ApiException as e:
            if e.status not in (404, 409):
                raise

    # ------------------------------------------------------------------ audit log
    # Offsets count bytes of the whole log as kube-apiserver wrote it: its rotated backups
    # (lumberjack's audit-<time>.log, oldest first: it rotates at 100 MB) and then the live
    # file, which a restarted API server appends to.
    def _audit_files(self) -> list[Path]:
        log = self.audit_log
        return [*sorted(log.parent.glob(f"{log.stem}-*{log.suffix}")), log]

    def audit_size(self) -> int:
        total = 0
        for path in self._audit_files():
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def read_audit(self, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """The audit log's entries that start at or after byte `since`, and the offset after
        the last whole line (a line being written is read next time)."""
        chunks, skip = [], since
        for path in self._audit_files():
            try:
                with path.open("rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    if skip >= size:
                        skip -= size
                        continue
                    f.seek(skip)
                    chunks.append(f.read())
                    skip = 0
            except FileNotFoundError:  # rotated away between the listing and the read
                continue
        data = b"".join(chunks)
        end = data.rfind(b"\n") + 1
        return [e for line in data[:end].splitlines() if (e := _audit_entry(line))], since + end

    def audit_events(self, since: int = 0) -> list[dict[str, Any]]:
        """The audit log's entries that start at or after byte `since`."""
        return self.read_audit(since)[0]

    # ------------------------------------------------------------------ restarts
    def restart(self, component: str) -> float:
        """SIGKILL kube-apiserver, etcd (its data dir kept) or another component, start it
        again as kwokctl did, and wait until it is ready: the seconds it was away."""
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(LAUNCHER), "restart", "--name", self.name, component],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"restarting {component} failed:\n{proc.stderr[-3000:]}")
        return time.monotonic() - started

    def components(self) -> dict[str, bool]:
        """Each component of the cluster, and whether it is running (kube-controller-manager
        and kube-scheduler exit when they cannot renew their leases for 10 s)."""
        proc = subprocess.run(
            [sys.executable, str(LAUNCHER), "info", "--name", self.name],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        components: dict[str, bool] = json.loads(proc.stdout)["components"]
        return components

    # ------------------------------------------------------------------ identities
    def client_certificate(
        self, user: str, groups: Iterable[str] = (), days: int = 1
    ) -> tuple[bytes, bytes]:
        """A client certificate for `user` in `groups`, signed by the cluster's CA: the API
        server authenticates it as exactly that user (CN) and groups (O)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        with warnings.catch_warnings():  # kwokctl's CA has a serial number of 0 (RFC 5280)
            warnings.simplefilter("ignore")
            ca_cert = x509.load_pem_x509_certificate((self.pki / "ca.crt").read_bytes())
        ca_key = serialization.load_pem_private_key((self.pki / "ca.key").read_bytes(), None)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
            + [x509.NameAttribute(NameOID.COMMON_NAME, user)]
        )
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        return (
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )

    def write_kubeconfig(
        self, path: Path, user_name: str, user: dict[str, str], namespace: str = "default"
    ) -> Path:
        admin = yaml.safe_load(self.kubeconfig.read_text())
        cluster = admin["clusters"][0]
        body = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [cluster],
            "users": [{"name": user_name, "user": user}],
            "contexts": [
                {
                    "name": "real",
                    "context": {
                        "cluster": cluster["name"],
                        "user": user_name,
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "real",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(body, sort_keys=False))
        path.chmod(0o600)
        return path

    def user_kubeconfig(self, user: str, path: Path, groups: Iterable[str] = ()) -> Path:
        cert, key = self.client_certificate(user, groups)
        return self.write_kubeconfig(
            path,
            user,
            {
                "client-certificate-data": base64.b64encode(cert).decode(),
                "client-key-data": base64.b64encode(key).decode(),
            },
        )

    def service_account_token(self, namespace: str, name: str) -> str:
        """A TokenRequest token of the ServiceAccount (created if missing)."""
        core = client.CoreV1Api(self.api)
        try:
            core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
        except client.ApiException as e:
            if e.status != 409:
                raise
        token: str = core.create_namespaced_service_account_token(
            name, namespace, {"spec": {"expirationSeconds": 3600}}
        ).status.token
        return token

    def service_account_kubeconfig(self, namespace: str, name: str, path: Path) -> Path:
        """A kubeconfig with a TokenRequest token of the ServiceAccount (created if missing)."""
        token = self.service_account_token(namespace, name)
        return self.write_kubeconfig(
            path, f"system:serviceaccount:{namespace}:{name}", {"token": token}, namespace
        )

    def bind(self, subject: dict[str, str], role: str = "cluster-admin") -> None:
        """A ClusterRoleBinding of `subject` to `role` (deleted by the cleanup)."""
        slug = re.sub(r"[^a-z0-9.-]+", "-", f"{subject['kind']}-{subject['name']}".lower())
        body = {
            "metadata": {"name": f"tests-{slug}-{role}"[:250]},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [subject],
        }
        try:
            client.RbacAuthorizationV1Api(self.api).create_cluster_role_binding(body)
        except client.ApiException as e:
            if e.status != 409:
                raise


AUDIT_EVENT_START = b'{"kind":"Event"'


def _audit_entry(line: bytes) -> dict[str, Any] | None:
    """One line of the audit log. A SIGKILLed API server can leave its last line cut short;
    the restarted one appends to it, so the entry that follows the stump is read alone."""
    if not line.strip():
        return None
    try:
        entry: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError:
        start = line.rfind(AUDIT_EVENT_START)
        if start <= 0:
            return None
        entry = json.loads(line[start:])
    return entry


def _stop_stale_sessions() -> None:
    """Clusters of test sessions that ended without their cleanup (killed): stop them."""
    base = _kwok_workdir() / "clusters"
    for folder in base.glob("pytest-*") if base.is_dir() else []:
        try:  # pytest-<pid>, or pytest-<purpose>-<pid> (a test's cluster of its own)
            pid = int(folder.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        subprocess.run(
            [sys.executable, str(LAUNCHER), "down", "--name", folder.name],
            capture_output=True,
            timeout=120,
            check=False,
        )
        (base.parent / f"{folder.name}.kubeconfig").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kwok_workdir() -> Path:
    if os.environ.get("REMEDIATOR_CACHE"):
        return Path(os.environ["REMEDIATOR_CACHE"]) / "kwok"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "remediator" / "kwok"


class RealBox:
    """What the flow tests use of the emulator's `Sandbox`, on the real cluster."""

    real = True

    def __init__(
        self,
        plane: ControlPlane,
        workdir: Path,
        namespaces: Iterable[str] = STANDARD_NAMESPACES,
    ) -> None:
        self.plane = plane
        self.workdir = workdir
        self.namespaces = tuple(namespaces)  # where settle() looks
        # the test's own copy: helpers write user kubeconfigs beside it (in the test's tmp_path)
        self.kubeconfig = workdir / "admin.kubeconfig"
        self.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        self.kubeconfig.write_bytes(plane.kubeconfig.read_bytes())
        self.kubeconfig.chmod(0o600)
        self.audit_start = plane.audit_size()
        self._rvs: dict[tuple[str, str, str, str], set[str]] = {}
        self._records: list[WriteRecord] = []
        self._requests: dict[tuple[str, str, str], int] = {}
        self._answers: dict[tuple[str, int], int] = {}
        self._offset = self.audit_start

    # --------------------------------------------------------------- controllers
    def settle(self, timeout: float = 30, namespaces: Iterable[str] | None = None) -> None:
        """Until the real controllers are done: every Deployment rolled out (its ReplicaSets
        scaled, its pods Ready, none terminating) and every PodDisruptionBudget observed."""
        apps = client.AppsV1Api(self.plane.api)
        core = client.CoreV1Api(self.plane.api)
        policy = client.PolicyV1Api(self.plane.api)
        deadline = time.monotonic() + timeout
        waiting = ""
        while time.monotonic() < deadline:
            waiting = ""
            for ns in self.namespaces if namespaces is None else namespaces:
                for d in apps.list_namespaced_deployment(ns).items:
                    s, want = d.status, d.spec.replicas or 0
                    if (
                        (s.observed_generation or 0) < d.metadata.generation
                        or (s.replicas or 0) != want
                        or (s.updated_replicas or 0) != want
                        or (s.ready_replicas or 0) != want
                        or (s.available_replicas or 0) != want
                    ):
                        waiting = f"Deployment {ns}/{d.metadata.name}"
                        break
                for rs in apps.list_namespaced_replica_set(ns).items:
                    if (rs.status.observed_generation or 0) < rs.metadata.generation or (
                        rs.status.replicas or 0
                    ) != (rs.spec.replicas or 0):
                        waiting = waiting or f"ReplicaSet {ns}/{rs.metadata.name}"
                for p in core.list_namespaced_pod(ns).items:
                    if p.metadata.deletion_timestamp is not None:
                        waiting = waiting or f"Pod {ns}/{p.metadata.name} terminating"
                for pdb in policy.list_namespaced_pod_disruption_budget(ns).items:
                    if (pdb.status.observed_generation or 0) < pdb.metadata.generation:
                        waiting = waiting or f"PodDisruptionBudget {ns}/{pdb.metadata.name}"
                if waiting:
                    break
            if not waiting:
                return
            time.sleep(0.1)
        raise TimeoutError(f"the cluster did not settle in {timeout} s: waiting for {waiting}")

    # --------------------------------------------------------------- audit log
    def writes(self) -> list[WriteRecord]:
        """The accepted writes since this test began, from the API server's audit log (the
        cluster's own controllers' left out, as the emulator's write log leaves them out)."""
        events, self._offset = self.plane.read_audit(self._offset)
        for event in events:
            self._count(event)
            record = self._record(event)
            if record is not None:
                self._records.append(record)
        return list(self._records)

    def _count(self, event: dict[str, Any]) -> None:
        if str(event.get("userAgent", "")).startswith(COMPONENT_AGENTS):
            return
        ref = event.get("objectRef") or {}
        verb = "evict" if ref.get("subresource") == "eviction" else event.get("verb", "")
        key = (verb, ref.get("apiGroup", ""), ref.get("resource", ""))
        self._requests[key] = self._requests.get(key, 0) + 1
        user = str((event.get("user") or {}).get("username", ""))
        answer = (user, int((event.get("responseStatus") or {}).get("code", 0)))
        self._answers[answer] = self._answers.get(answer, 0) + 1

    def _record(self, event: dict[str, Any]) -> WriteRecord | None:
        ref = event.get("objectRef") or {}
        status = (event.get("responseStatus") or {}).get("code", 0)
        response = event.get("responseObject") or {}
        meta = response.get("metadata") or {}
        group, resource = ref.get("apiGroup", ""), ref.get("resource", "")
        namespace = ref.get("namespace", "")
        name = ref.get("name") or meta.get("name", "")
        key = (group, resource, namespace, name)
        query = parse_qs(urlsplit(event.get("requestURI", "")).query)
        dry_run = "All" in query.get("dryRun", [])
        rv = meta.get("resourceVersion") if response.get("kind") != "Status" else None
        # a write that changes nothing answers with a resourceVersion an earlier write of
        # the object made (every write is in the log, in whatever order they completed)
        seen = self._rvs.setdefault(key, set())
        known = rv in seen
        if rv and not dry_run:
            seen.add(str(rv))
        if not 200 <= status < 300:
            return None
        agent = str(event.get("userAgent", ""))
        if agent.startswith(COMPONENT_AGENTS):
            return None
        verb = event.get("verb", "")
        subresource = ref.get("subresource", "")
        if subresource == "eviction":
            verb, subresource = "evict", ""
        if dry_run:
            changed = False
        elif verb in ("update", "patch"):
            changed = rv is None or not known
        else:
            changed = True
        stamp = event.get("stageTimestamp") or event.get("requestReceivedTimestamp") or ""
        try:
            when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            when = time.time()
        return WriteRecord(
            seq=len(self._records) + 1,
            time=when,
            verb=verb,
            group=group,
            resource=resource,
            subresource=subresource,
            namespace=namespace,
            name=name,
            user=str((event.get("user") or {}).get("username", "")),
            dry_run=dry_run,
            changed=changed,
        )

    def request_counts(self) -> dict[tuple[str, str, str], int]:
        """Write requests by (verb, group, resource), answered with any status (a 409 too),
        since this test began: the audit log has no reads."""
        self.writes()
        return dict(self._requests)

    def answers(self, user: str) -> dict[int, int]:
        """How many of `user`'s write requests were answered with each status code since
        this test began (a 403 refused by the authorizer is in the audit log too)."""
        self.writes()
        return {code: n for (who, code), n in sorted(self._answers.items()) if who == user}

    # --------------------------------------------------------------- identities
    def add_user(self, name: str, groups: tuple[str, ...] = ()) -> None:
        """The emulator's users may do anything (its flows run without RBAC); here a user
        gets that through a binding to cluster-admin."""
        self.plane.bind({"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"})

    def kubeconfig_for(self, name: str, path: Path | str, groups: tuple[str, ...] = ()) -> Path:
        self.add_user(name, groups)
        return self.plane.user_kubeconfig(name, Path(path), groups)

    def kubeconfig_for_service_account(self, namespace: str, name: str, path: Path | str) -> Path:
        self.plane.bind({"kind": "ServiceAccount", "name": name, "namespace": namespace})
        return self.plane.service_account_kubeconfig(namespace, name, Path(path))
