"""`kubectl remediator`: the executable kubectl-remediator that the package installs, found
by the real kubectl (the control plane's own, 1.34) on a PATH holding the virtualenv's bin,
and run against the real control plane with kubectl's `--kubeconfig`, `--context` and `-n`.
Also click's shell completion, as the README documents it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from real.backend import ControlPlane

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
APPROVALS = "/apis/remediator.dev/v1alpha1/namespaces/{}/approvals"
PLAN_HASH = "0123456789abcdef"


@dataclass
class Plugin:
    plane: ControlPlane
    kubeconfig: Path
    namespace: str
    home: Path

    def kubectl(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The real kubectl, which runs kubectl-remediator for `kubectl remediator ...`."""
        return subprocess.run(
            [str(self.plane.kubectl), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={
                "PATH": f"{VENV_BIN}:{self.plane.bin}:/usr/bin:/bin",
                "HOME": str(self.home),  # no ~/.kube/config to fall back on
                **(env or {}),
            },
        )

    def remediator(self, words: str, *more: str) -> subprocess.CompletedProcess[str]:
        """`kubectl remediator WORDS... MORE... --kubeconfig <the test's kubeconfig>`."""
        return self.kubectl(
            "remediator", *words.split(), *more, "--kubeconfig", str(self.kubeconfig)
        )

    def approvals(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.plane.raw("GET", APPROVALS.format(self.namespace))[
            "items"
        ]
        return items


@pytest.fixture
def plugin(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Plugin]:
    """An Incident awaiting approval of plan PLAN_HASH in a namespace of this test's own,
    and a kubeconfig with two contexts: `real` (that namespace) and the current one,
    `elsewhere`, whose API server does not exist: only a command that honours `--context`
    reaches the incident."""
    plane = control_plane
    namespace = f"plugin-{os.getpid()}"
    plane.raw("POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    incidents = f"/apis/remediator.dev/v1alpha1/namespaces/{namespace}/incidents"
    plane.raw(
        "POST",
        incidents,
        body={
            "apiVersion": "remediator.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": "checkout-down"},
            "spec": {"alertname": "DeploymentReplicasUnavailable", "severity": "P1"},
        },
    )
    plane.raw(
        "PATCH",
        f"{incidents}/checkout-down/status",
        body={"status": {"phase": "AwaitingApproval", "plan": {"hash": PLAN_HASH}}},
        content_type="application/merge-patch+json",
    )
    admin = yaml.safe_load(plane.kubeconfig.read_text())
    [cluster], [user] = admin["clusters"], admin["users"]
    kubeconfig = tmp_path / "two-contexts.kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    cluster,
                    {"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}},
                ],
                "users": [user],
                "contexts": [
                    {
                        "name": "real",
                        "context": {
                            "cluster": cluster["name"],
                            "user": user["name"],
                            "namespace": namespace,
                        },
                    },
                    {"name": "elsewhere", "context": {"cluster": "nowhere", "user": user["name"]}},
                ],
                "current-context": "elsewhere",
            }
        )
    )
    home = tmp_path / "home"
    home.mkdir()
    yield Plugin(plane, kubeconfig, namespace, home)
    plane.clean()  # the namespace, with the incident and the approvals


def test_kubectl_finds_the_plugin_installed_with_the_package(plugin: Plugin) -> None:
    proc = plugin.kubectl("plugin", "list")
    assert str(VENV_BIN / "kubectl-remediator") in proc.stdout, proc.stdout + proc.stderr
    proc = plugin.kubectl("remediator", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Usage: kubectl remediator [OPTIONS] COMMAND" in proc.stdout
    for command in ("approve", "reject", "report", "simulate", "validate"):
        assert f"\n  {command} " in proc.stdout


def test_approve_through_kubectl_honours_kubeconfig_context_and_namespace(plugin: Plugin) -> None:
    proc = plugin.remediator(
        "approve checkout-down --context real -n",
        plugin.namespace,
        *("--reason", "v2 fails its readiness probe"),
    )
    assert proc.returncode == 0, proc.stderr
    assert f"approve plan {PLAN_HASH} of incident {plugin.namespace}/checkout-down" in proc.stdout
    [approval] = plugin.approvals()
    assert approval["spec"]["planHash"] == PLAN_HASH
    assert approval["spec"]["decision"] == "approve"
    assert approval["spec"]["reason"] == "v2 fails its readiness probe"
    assert approval["metadata"]["name"] in proc.stdout


def test_without_context_the_current_context_is_used(plugin: Plugin) -> None:
    """The kubeconfig's current context points nowhere: the same command without
    `--context` fails there and creates nothing (so the test above proved `--context`)."""
    proc = plugin.remediator("approve checkout-down -n", plugin.namespace)
    assert proc.returncode != 0
    assert proc.stderr.startswith("Error: cannot reach the Kubernetes API server: "), proc.stderr
    assert "127.0.0.1:1" in proc.stderr
    assert plugin.approvals() == []


def test_the_namespace_defaults_to_the_contexts_and_kubeconfig_to_the_environment(
    plugin: Plugin,
) -> None:
    """No -n: the namespace of context `real`, as kubectl takes it; no --kubeconfig: the
    file $KUBECONFIG names."""
    proc = plugin.kubectl(
        "remediator",
        "reject",
        "checkout-down",
        "--context=real",
        env={"KUBECONFIG": str(plugin.kubeconfig)},
    )
    assert proc.returncode == 0, proc.stderr
    assert f"of incident {plugin.namespace}/checkout-down" in proc.stdout
    [approval] = plugin.approvals()
    assert approval["spec"]["decision"] == "reject"


def test_an_unknown_context_is_refused_by_name(plugin: Plugin) -> None:
    proc = plugin.remediator("report checkout-down --context prod")
    assert proc.returncode != 0
    assert "no context 'prod' in the kubeconfig" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_report_simulate_and_validate_through_kubectl(plugin: Plugin) -> None:
    report = plugin.remediator("report checkout-down --context real")
    assert report.returncode == 0, report.stderr
    assert "checkout-down" in report.stdout and "DeploymentReplicasUnavailable" in report.stdout
    validate = plugin.kubectl("remediator", "validate", str(ROOT / "remediations"))
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert " 0 error(s)" in validate.stdout
    simulate = plugin.kubectl(
        "remediator",
        "simulate",
        "--alert",
        str(ROOT / "tests" / "golden" / "alerts" / "memory-leak.json"),
        "--policies",
        str(ROOT / "remediations"),
    )
    assert simulate.returncode == 0, simulate.stderr
    assert "policy:    memory-leak-restart" in simulate.stdout


# ----------------------------------------------------------------------- shell completion
def complete(program: str, variable: str, words: str) -> list[str]:
    """What click's bash completion offers for the last of `words` (as bash would ask)."""
    proc = subprocess.run(
        [str(VENV_BIN / program)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={
            **os.environ,
            variable: "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        },
    )
    return [line.split(",", 1)[1] for line in proc.stdout.splitlines()]


def test_shell_completion_as_the_readme_documents_it() -> None:
    source = subprocess.run(
        [str(VENV_BIN / "remediator")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**os.environ, "_REMEDIATOR_COMPLETE": "bash_source"},
    ).stdout
    assert "complete -o nosort -F _remediator_completion remediator" in source
    assert complete("remediator", "_REMEDIATOR_COMPLETE", "remediator appr") == ["approve"]
    assert complete("remediator", "_REMEDIATOR_COMPLETE", "remediator approve --con") == [
        "--context"
    ]
    assert complete("kubectl-remediator", "_KUBECTL_REMEDIATOR_COMPLETE", "x re") == [
        "reject",
        "report",
    ]


def test_kubectl_completes_the_plugin_through_kubectl_complete_remediator(
    control_plane: ControlPlane,
) -> None:
    """kubectl (1.26+) completes `kubectl remediator …` by running the executable
    kubectl_complete-remediator, also installed with the package."""

    def kubectl_complete(*words: str) -> list[str]:
        proc = subprocess.run(
            [str(control_plane.kubectl), "__complete", "remediator", *words],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env={"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": "/nonexistent"},
        )
        return proc.stdout.splitlines()

    assert kubectl_complete("ap") == ["approve", ":4"]
    assert kubectl_complete("approve", "--con") == ["--context", ":4"]
    assert kubectl_complete("re") == ["reject", "report", ":4"]
