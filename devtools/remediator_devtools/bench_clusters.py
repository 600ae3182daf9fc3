"""The two clusters the bench measures on, behind one narrow interface.

The bench needs of a cluster only: a kubeconfig, the time of every `PATCH …/scale` (the
moment a remediation acts), the API requests made since a mark (the subjects' only: the
bench's own seeding and observing are left out) and the phases of a namespace's Incidents.
`EmulatorCluster` reads them from the emulator's store, in this process;
`RealCluster` starts a control plane of its own (controlplane/cluster.py, under its own
name and a free port, so the test suites' clusters are never touched) and reads its API
server's audit log, with a policy of its own that logs every request (reads too) at the
Metadata level. Its kube-controller-manager runs without the Deployment and ReplicaSet
controllers: the bench's thousands of target Deployments stay API objects with a `/scale`
and never become ReplicaSets and pods, whose churn would fall on all three subjects alike
but would cost minutes of the two cores for nothing the subjects do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from kube_emulator import Sandbox

ROOT = Path(__file__).resolve().parents[2]
# requests that are not the subjects': the cluster's own components and the bench itself
# (its seeding and observing; its creating of the bare operator's Incidents counts)
NOT_SUBJECTS = (
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "kube-apiserver",
    "remediator-bench/seed",
    "remediator-bench/observer",
)
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted"],
    "rules": [
        {
            "level": "None",
            "resources": [
                {"group": "coordination.k8s.io", "resources": ["leases"]},
                {"group": "", "resources": ["nodes", "nodes/status"]},
            ],
        },
        {"level": "None", "nonResourceURLs": ["/*"]},
        {"level": "Metadata"},
    ],
}
CONTROLLERS = "*,-deployment-controller,-replicaset-controller"

RequestKey = tuple[str, str]  # (verb, resource[/subresource])


class ClusterUnavailableError(RuntimeError):
    """No Go here: the real control plane cannot be built (the bench says so and goes on)."""


class BenchCluster(Protocol):
    name: str
    kubeconfig: Path

    def scale_writes(self) -> dict[tuple[str, str], float]:
        """(namespace, Deployment) -> the time of its latest `PATCH …/scale` (wall clock)."""
        ...

    def requests(self) -> Counter[RequestKey]:
        """The subjects' API requests so far (any answer), by verb and resource."""
        ...

    def phases(self, namespace: str) -> Counter[str]: ...

    def create_incidents(self, items: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Incidents (body, status) as fast as the cluster takes them; not counted."""
        ...

    def stop(self) -> None: ...


class EmulatorCluster:
    name = "emulator"

    def __init__(self, workdir: Path) -> None:
        # no fixture controllers: Deployments stay objects, as on the bench's real cluster
        self.box = Sandbox(kubeconfig=workdir / "emulator.kubeconfig", controllers=False)
        self.box.__enter__()
        assert self.box.kubeconfig is not None
        self.kubeconfig = Path(self.box.kubeconfig)
        self._seen = 0
        self._scales: dict[tuple[str, str], float] = {}

    def scale_writes(self) -> dict[tuple[str, str], float]:
        store = self.box.api.store
        new = self.box.call(lambda: store.writes[self._seen :], timeout=120)
        self._seen += len(new)
        for w in new:
            if w.verb == "patch" and w.resource == "deployments" and w.subresource == "scale":
                self._scales[(w.namespace, w.name)] = w.time
        return self._scales

    def requests(self) -> Counter[RequestKey]:
        # the emulator counts by resource, not subresource; the bench reads its store directly
        return Counter({(v, r): n for (v, _, r), n in self.box.request_counts().items()})

    def phases(self, namespace: str) -> Counter[str]:
        store = self.box.api.store

        def run() -> Counter[str]:
            return Counter(
                (o.get("status") or {}).get("phase") or "Pending"
                for o in store.iter(("remediator.dev", "incidents"), namespace)
            )

        return self.box.call(run, timeout=120)

    def create_incidents(self, items: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        api = self.box.api

        def run(chunk: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
            for body, status in chunk:
                created = api.internal_create("remediator.dev", "incidents", body)
                created["status"] = status
                api.internal_update("remediator.dev", "incidents", created, "status")

        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            self.box.call(lambda c=chunk: run(c), timeout=300)  # type: ignore[misc]

    def stop(self) -> None:
        self.box.__exit__(None, None, None)


def _launcher() -> ModuleType:
    """controlplane/cluster.py (a script, not a package), loaded by its path."""
    spec = importlib.util.spec_from_file_location(
        "_bench_cluster", ROOT / "controlplane/cluster.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _bench_configuration(launcher: ModuleType, policy: Path) -> Iterator[None]:
    """cluster.py's kwokctl configuration with the bench's audit policy and controllers."""
    original = getattr(launcher, "kwokctl_config")  # noqa: B009 - a module loaded by path

    def configured(*args: Any, **kwargs: Any) -> str:
        config: dict[str, Any] = json.loads(original(*args, **kwargs))
        config["options"]["kubeAuditPolicy"] = str(policy)
        config["componentsPatches"] = [
            {
                "name": "kube-controller-manager",
                "extraArgs": [{"key": "controllers", "value": CONTROLLERS}],
            }
        ]
        return json.dumps(config, indent=2)

    setattr(launcher, "kwokctl_config", configured)  # noqa: B010
    try:
        yield
    finally:
        setattr(launcher, "kwokctl_config", original)  # noqa: B010


class RealCluster:
    name = "real"

    def __init__(self, workdir: Path) -> None:
        self.launcher = _launcher()
        self.cluster = f"bench-{os.getpid()}"
        policy = workdir / "audit-policy.json"
        policy.write_text(json.dumps(AUDIT_POLICY))
        self.kubeconfig = workdir / "real.kubeconfig"
        with _bench_configuration(self.launcher, policy):
            try:
                info = self.launcher.up(self.cluster, self.kubeconfig, 0, 1)
            except self.launcher.ClusterError as e:
                if "go is not installed" in str(e):
                    raise ClusterUnavailableError(str(e)) from None
                raise
        self.info: dict[str, Any] = info
        self.audit_log = Path(info["audit_log"])
        self._offset = 0
        self._scales: dict[tuple[str, str], float] = {}
        self._requests: Counter[RequestKey] = Counter()

    def _read(self) -> None:
        """The audit log's new whole lines (one file: at the Metadata level the bench's
        ~200,000 requests stay well under the 100 MB where it would rotate)."""
        try:
            with self.audit_log.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1
        self._offset += end
        for line in data[:end].splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            agent = str(entry.get("userAgent", ""))
            if agent.startswith(NOT_SUBJECTS):
                continue
            ref = entry.get("objectRef") or {}
            resource = ref.get("resource", "")
            if ref.get("subresource"):
                resource += "/" + ref["subresource"]
            verb = entry.get("verb", "")
            self._requests[(verb, resource)] += 1
            code = (entry.get("responseStatus") or {}).get("code", 0)
            if verb == "patch" and resource == "deployments/scale" and 200 <= code < 300:
                stamp = entry["requestReceivedTimestamp"].replace("Z", "+00:00")
                when = dt.datetime.fromisoformat(stamp).timestamp()
                self._scales[(ref.get("namespace", ""), ref.get("name", ""))] = when

    def scale_writes(self) -> dict[tuple[str, str], float]:
        self._read()
        return self._scales

    def requests(self) -> Counter[RequestKey]:
        self._read()
        return Counter(self._requests)

    def phases(self, namespace: str) -> Counter[str]:
        import asyncio

        from .kubeapi import KubeClient, namespaced

        async def run() -> Counter[str]:
            api = KubeClient(self.kubeconfig, "observer")
            try:
                items = await api.list_all(
                    namespaced("remediator.dev", "v1alpha1", namespace, "incidents")
                )
            finally:
                await api.close()
            return Counter((o.get("status") or {}).get("phase") or "Pending" for o in items)

        return asyncio.run(run())

    def create_incidents(self, items: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        import asyncio

        from .kubeapi import MERGE_PATCH, KubeClient, namespaced

        async def run() -> None:
            api = KubeClient(self.kubeconfig, "seed", connections=64)
            gate = asyncio.Semaphore(64)

            async def one(body: dict[str, Any], status: dict[str, Any]) -> None:
                meta = body["metadata"]
                path = namespaced("remediator.dev", "v1alpha1", meta["namespace"], "incidents")
                async with gate:
                    await api.create(path, body)
                    await api.request(
                        "PATCH", f"{path}/{meta['name']}/status", {"status": status}, MERGE_PATCH
                    )

            try:
                await asyncio.gather(*(one(b, s) for b, s in items))
            finally:
                await api.close()

        asyncio.run(run())

    def stop(self) -> None:
        self.launcher.down(self.cluster, quiet=True)


def start(kind: str, workdir: Path) -> BenchCluster:
    started = time.monotonic()
    cluster: BenchCluster = EmulatorCluster(workdir) if kind == "emulator" else RealCluster(workdir)
    print(f"[{kind}] cluster up in {time.monotonic() - started:.1f} s", flush=True)
    return cluster
