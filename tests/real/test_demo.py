"""`remediator demo --kubeconfig FILE` on the real control plane.

The demo is given only a kubeconfig: it plays the playbook's scenarios in a namespace of its
own, with the operator's webhooks served over HTTPS (a self-signed certificate the API
server verifies), waiting for the real controllers, and deletes what it made. Run as the
command a user runs (a child process), with the cluster's own kubectl (1.34) on its PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from real.backend import ControlPlane

pytestmark = pytest.mark.real_only(reason="the demo on a cluster it is given (--kubeconfig)")

EVERY = "Every scenario ended as expected."


@pytest.fixture
def plane(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    yield control_plane
    control_plane.clean()


def _demo(
    plane: ControlPlane, tmp_path: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    admin = tmp_path / "admin.kubeconfig"
    admin.write_bytes(plane.kubeconfig.read_bytes())
    admin.chmod(0o600)
    env = {**os.environ, "PATH": f"{plane.bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "remediator", "demo", "--kubeconfig", str(admin), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    return proc, time.monotonic() - started


def _played(proc: subprocess.CompletedProcess[str]) -> str:
    out = proc.stdout
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{proc.stderr[-4000:]}"
    assert EVERY in out, out
    assert "✘" not in out, out
    assert out.count("✔") == 7, out
    return out


def test_the_demo_plays_every_scenario_on_the_real_cluster_and_cleans_up(
    plane: ControlPlane, tmp_path: Path
) -> None:
    before = plane.cluster_scoped()
    proc, seconds = _demo(plane, tmp_path)
    out = _played(proc)
    assert "Kubernetes v1." in out  # the real server, its version from /version
    # approved with the same kubeconfig: the webhook stamps the admin's certificate identity
    assert "kwok-admin approves with the CLI" in out
    assert "Deleted what the demo made: namespace remediator-demo-" in out
    # the CRDs were there (the session installed them): used, not deleted
    assert "CRD" not in out.split("Deleted what the demo made:")[1].splitlines()[0]
    assert plane.cluster_scoped() == before  # its namespace and webhook configurations gone
    assert seconds < 120, f"the demo took {seconds:.0f} s"


def test_the_demo_approves_as_a_certificate_user_it_grants_only_approvals(
    plane: ControlPlane, tmp_path: Path
) -> None:
    """`--approver-kubeconfig`: a client certificate the cluster's CA signed, with no RBAC of
    its own; the demo grants it what `remediator approve` needs in its namespace, and the
    webhook stamps the user the API server authenticated."""
    approver = plane.user_kubeconfig("alice", tmp_path / "alice.kubeconfig", ("sre",))
    proc, _ = _demo(plane, tmp_path, "--approver-kubeconfig", str(approver))
    out = _played(proc)
    assert out.count("alice approves with the CLI") == 2, out
    assert "kwok-admin approves" not in out
