"""What evidence capture costs a remediation: the same rolling restarts with `capture: never`
and `capture: always`, on the emulator, side by side in one run.

Per remediation: the capture's own time (`status.evidence.tookMs`: what it delays the
action by), the run's time per remediation, and the API requests the operator made (the
emulator's count). Each workload has 2 pods whose logs (and previous containers'
logs) hold 100 lines, as a crash-looping service's would.

    python -m remediator_devtools.bench_evidence [--incidents 20]
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from kubernetes import client
from kubernetes import config as kube_config

from kube_emulator import Sandbox
from remediator.core.crds import all_crds
from remediator.reconcile import OperatorConfig

from .bench import deployment
from .testing import OperatorThread

NS = "shop"
GROUP, VERSION = "remediator.dev", "v1alpha1"
ENDED = ("Remediated", "Blocked", "Failed")
LOG = "".join(
    f"2026-12-07T00:00:{i % 60:02d}Z GET /cart 500 upstream timed out\n" for i in range(100)
)


def _workload(name: str) -> dict[str, Any]:
    body = deployment(NS, name)
    body["spec"]["replicas"] = 2
    return body


def run(capture: str, incidents: int, workdir: Path) -> dict[str, Any]:
    """`incidents` rolling restarts, each of its own Deployment, with `capture`."""
    with Sandbox(kubeconfig=workdir / f"{capture}.kubeconfig") as box:
        api = kube_config.new_client_from_config(str(box.kubeconfig))  # type: ignore[no-untyped-call]
        # plain dicts in and out: the typed models add nothing to a benchmark's set-up
        ext: Any = client.ApiextensionsV1Api(api)
        core: Any = client.CoreV1Api(api)
        apps: Any = client.AppsV1Api(api)
        custom: Any = client.CustomObjectsApi(api)
        for crd in all_crds():
            ext.create_custom_resource_definition(crd)
        for namespace in (NS, "remediator-system"):
            core.create_namespace({"metadata": {"name": namespace}})
        for i in range(incidents):
            apps.create_namespaced_deployment(NS, _workload(f"web-{i}"))
        box.settle()
        for pod in core.list_namespaced_pod(NS).items:
            box.set_log(NS, pod.metadata.name, "app", LOG)
            box.set_log(NS, pod.metadata.name, "app", LOG, previous=True)
        policy = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "RemediationPolicy",
            "metadata": {"name": "restart"},
            "spec": {
                "match": {"alertnames": ["ContainerMemoryLeak"]},
                "target": {"kind": "Deployment", "nameFromLabel": "deployment"},
                "steps": [{"action": "restartPods"}],
                "evidence": {"capture": capture},
                # one restart per Deployment: the policy's hourly limit is not what is measured
                "guards": {"maxActionsPerPolicyPerHour": 1000},
            },
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, NS, "remediationpolicies", policy)
        config = OperatorConfig(tick_seconds=0.2, identity="bench-evidence")
        with OperatorThread(str(box.kubeconfig), config):
            before = box.request_counts()
            started = time.monotonic()
            for i in range(incidents):
                incident = {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Incident",
                    "metadata": {"name": f"inc-{i}"},
                    "spec": {
                        "alertname": "ContainerMemoryLeak",
                        "severity": "P2",
                        "labels": {"deployment": f"web-{i}"},
                    },
                }
                custom.create_namespaced_custom_object(GROUP, VERSION, NS, "incidents", incident)
            bodies: list[dict[str, Any]] = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                bodies = custom.list_namespaced_custom_object(GROUP, VERSION, NS, "incidents")[
                    "items"
                ]
                phases = [(b.get("status") or {}).get("phase") for b in bodies]
                if all(phase in ENDED for phase in phases):
                    break
                time.sleep(0.1)
            elapsed = time.monotonic() - started
            after = box.request_counts()
        api.close()
    done = [b for b in bodies if (b.get("status") or {}).get("phase") == "Remediated"]
    requests = sum(after.values()) - sum(before.values())
    took = [b["status"]["evidence"]["tookMs"] for b in done if b["status"].get("evidence")]
    return {
        "incidents": incidents,
        "remediated": len(done),
        "seconds": round(elapsed, 2),
        "ms_per_remediation": round(1000 * elapsed / max(len(done), 1), 1),
        "requests_per_remediation": round(requests / max(len(done), 1), 1),
        "capture_ms_p50": statistics.median(took) if took else None,
        "capture_ms_max": max(took) if took else None,
        "evidence_bytes_p50": statistics.median(
            [b["status"]["evidence"]["bytes"] for b in done if b["status"].get("evidence")]
        )
        if took
        else None,
    }


def measure(incidents: int = 20) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as tmp:
        results = {mode: run(mode, incidents, Path(tmp)) for mode in ("never", "always")}
    never, always = results["never"], results["always"]
    results["extra_requests_per_remediation"] = round(
        always["requests_per_remediation"] - never["requests_per_remediation"], 1
    )
    # what the capture adds to a remediation's path is its own time (`capture_ms_*`): the
    # whole runs' times differ more by the first run's warm-up than by the capture
    return results


@click.command()
@click.option("--incidents", type=click.IntRange(min=1), default=20, show_default=True)
def main(incidents: int) -> None:
    """Print what evidence capture costs a rolling restart, as JSON."""
    click.echo(json.dumps(measure(incidents), indent=2))


if __name__ == "__main__":
    main()
