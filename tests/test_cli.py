"""The `remediator` command, run for real as a subprocess against the API emulator."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from kubernetes import client, config

from kube_emulator import Sandbox
from remediator import __version__
from remediator_devtools.testing import OperatorThread
from support.crds import install_crds
from support.kopf_registry import remediator_registry  # noqa: F401  (autouse)
from support.operator_settings import operator_config
from support.policies import (
    GROUP,
    RESTART,
    VERSION,
    approvals,
    incident_spec,
    policy_spec,
    resource,
)
from support.ports import free_port
from support.waiting import wait_for
from support.workloads import apply_deployment, deployment

ROOT = Path(__file__).resolve().parents[1]
NS = "shop"
_SCRIPT = Path(sys.executable).with_name("remediator")
REMEDIATOR = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "remediator"]


# ---------------------------------------------------------------- helpers


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def remediator(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REMEDIATOR, *args], capture_output=True, text=True, timeout=timeout, env=_env()
    )


@dataclass
class Background:
    """A `remediator` process in the background, its output in files (no pipe to fill up)."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    def output(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def stop(self, sig: signal.Signals, timeout: float = 10) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"remediator did not stop within {timeout} s of {sig.name}:\n{self.output()}"
            ) from None


@pytest.fixture
def background(tmp_path: Path) -> Iterator[Callable[..., Background]]:
    started: list[Background] = []

    def start(*args: str) -> Background:
        n = len(started)
        out, err = tmp_path / f"proc-{n}.out", tmp_path / f"proc-{n}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen([*REMEDIATOR, *args], stdout=stdout, stderr=stderr, env=_env())
        started.append(Background(proc, out, err))
        return started[-1]

    yield start
    for bg in started:
        if bg.proc.poll() is None:
            bg.proc.kill()
            bg.proc.wait(10)


@dataclass
class World:
    """A sandbox with the CRDs, the namespaces, a Deployment `web` and a restart policy."""

    box: Sandbox
    api: client.ApiClient

    @property
    def kubeconfig(self) -> Path:
        assert self.box.kubeconfig is not None
        return self.box.kubeconfig

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def incident(self, name: str, severity: str) -> None:
        """An incident of HighErrorRate on the Deployment web."""
        self.create_incident(name, incident_spec(severity=severity))

    def create_incident(self, name: str, spec: dict[str, Any], namespace: str = NS) -> None:
        self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "incidents", resource("Incident", name, spec)
        )

    def get(self, plural: str, name: str) -> dict[str, Any]:
        body: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, NS, plural, name
        )
        return body

    def phase(self, name: str) -> str | None:
        phase: str | None = (self.get("incidents", name).get("status") or {}).get("phase")
        return phase

    def wait_phase(self, name: str, *phases: str, timeout: float = 15) -> dict[str, Any]:
        wait_for(
            f"{name} in {phases} (now {self.phase(name)})",
            lambda: self.phase(name) in phases,
            timeout,
        )
        return self.get("incidents", name)

    def approvals(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, NS, "approvals"
        )["items"]
        return items


@contextlib.contextmanager
def _world(box: Sandbox) -> Iterator[World]:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(box.kubeconfig), client_configuration=configuration)
    api = client.ApiClient(configuration)
    install_crds(api)
    core = client.CoreV1Api(api)
    for ns in (NS, "remediator-system"):
        core.create_namespace({"metadata": {"name": ns}})
    apply_deployment(api, NS, deployment("web"))
    box.settle()
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "remediationpolicies",
        resource("RemediationPolicy", "restart", policy_spec(RESTART)),
    )
    yield World(box, api)
    api.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with (
        Sandbox(kubeconfig=tmp_path / "kubeconfig", bookmark_interval=0.5) as box,
        _world(box) as world,
    ):
        yield world


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[World]:
    """As `world`, anonymous refused, with the operator (and its webhooks) running in-process."""
    with (
        Sandbox(
            kubeconfig=tmp_path / "kubeconfig", bookmark_interval=0.5, anonymous_is_admin=False
        ) as box,
        _world(box) as world,
        OperatorThread(world.kubeconfig, operator_config(b"cli-tests-approval-key")),
    ):
        adm = client.AdmissionregistrationV1Api(world.api)

        def registered() -> bool:
            return any(c.webhooks for c in adm.list_mutating_webhook_configuration().items)

        wait_for("the operator's webhooks", registered, timeout=15)
        yield world


# ---------------------------------------------------------------- offline commands


def test_version() -> None:
    proc = remediator("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"remediator, version {__version__}"


def test_help_lists_the_commands() -> None:
    proc = remediator("--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("run", "approve", "reject", "crds", "sandbox", "demo"):
        assert f"  {command}" in proc.stdout


def test_crds_writes_the_committed_definitions(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = remediator("crds", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.name for p in out.iterdir())
    committed = sorted(p.name for p in (ROOT / "crds").glob("*.yaml"))
    assert written == committed
    assert len(written) == 3
    for name in written:
        assert (out / name).read_text() == (ROOT / "crds" / name).read_text(), name
        assert f"wrote {out / name}" in proc.stdout


# ---------------------------------------------------------------- remediator sandbox


def test_sandbox_serves_kubectl_until_interrupted(
    tmp_path: Path, background: Callable[..., Background]
) -> None:
    kubeconfig, port = tmp_path / "sandbox.kubeconfig", free_port()
    bg = background("sandbox", "--kubeconfig", str(kubeconfig), "--port", str(port))
    wait_for(
        "the serving line",
        lambda: "serving on" in bg.output() or bg.proc.poll() is not None,
        timeout=15,
    )
    assert bg.proc.poll() is None, bg.output()
    assert f"127.0.0.1:{port}" in bg.output()
    assert f"kubectl --kubeconfig {kubeconfig} get ns" in bg.output()
    assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"].endswith(
        f":{port}"
    )
    if shutil.which("kubectl"):
        kubectl = subprocess.run(
            [
                "kubectl",
                f"--kubeconfig={kubeconfig}",
                f"--cache-dir={tmp_path / 'kubectl-cache'}",
                "get",
                "ns",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert kubectl.returncode == 0, kubectl.stderr
        assert "namespace/default" in kubectl.stdout.split()
    assert bg.stop(signal.SIGINT) == 0, bg.output()
    assert "stopped" in bg.output()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


# ---------------------------------------------------------------- remediator run


def test_run_remediates_then_stops_cleanly_on_sigterm(
    world: World, background: Callable[..., Background]
) -> None:
    world.incident("inc-1", "P2")
    bg = background(
        "run", "--kubeconfig", str(world.kubeconfig), "--namespace", NS, "--identity", "cli-test"
    )
    try:
        body = world.wait_phase("inc-1", "Remediated", "Failed", "Blocked", timeout=30)
    except AssertionError:
        raise AssertionError(f"no remediation; operator output:\n{bg.output()}") from None
    assert body["status"]["phase"] == "Remediated", body["status"]
    assert body["status"]["policy"] == "restart"
    template = client.AppsV1Api(world.api).read_namespaced_deployment("web", NS).spec.template
    assert "kubectl.kubernetes.io/restartedAt" in (template.metadata.annotations or {})
    started = time.monotonic()
    assert bg.stop(signal.SIGTERM) == 0, bg.output()
    assert time.monotonic() - started < 5


def test_run_does_not_touch_other_namespaces(
    world: World, background: Callable[..., Background]
) -> None:
    client.CoreV1Api(world.api).create_namespace({"metadata": {"name": "elsewhere"}})
    world.create_incident(
        "inc-x", {"alertname": "HighErrorRate", "severity": "P2"}, namespace="elsewhere"
    )
    world.incident("inc-1", "P2")
    bg = background("run", "--kubeconfig", str(world.kubeconfig), "--namespace", NS)
    world.wait_phase("inc-1", "Remediated", "Failed", "Blocked", timeout=30)
    other = world.custom.get_namespaced_custom_object(
        GROUP, VERSION, "elsewhere", "incidents", "inc-x"
    )
    assert not (other.get("status") or {}).get("phase")
    assert bg.stop(signal.SIGTERM) == 0, bg.output()


# ---------------------------------------------------------------- approve / reject


def _user_kubeconfig(world: World, user: str, groups: tuple[str, ...] = ()) -> Path:
    return world.box.kubeconfig_for(user, world.kubeconfig.with_name(f"{user}.kubeconfig"), groups)


def test_approve_stamps_the_user_and_remediates(gated: World) -> None:
    gated.incident("inc-1", "P1")
    body = gated.wait_phase("inc-1", "AwaitingApproval", "Remediated")
    assert body["status"]["phase"] == "AwaitingApproval"
    plan_hash = body["status"]["plan"]["hash"]
    kubeconfig = _user_kubeconfig(gated, "alice@example.com", ("sre",))
    proc = remediator(
        "approve", "inc-1", "-n", NS, "--kubeconfig", str(kubeconfig), "--reason", "runbook 4"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("approval.remediator.dev/inc-1-approve-")
    assert f"approve plan {plan_hash} of incident {NS}/inc-1" in proc.stdout
    [approval] = gated.approvals()
    assert approval["metadata"]["name"] in proc.stdout
    assert approval["spec"] == {
        "incident": "inc-1",
        "decision": "approve",
        "planHash": plan_hash,
        "reason": "runbook 4",
        "approver": "alice@example.com",
        "approverGroups": ["sre", "system:authenticated"],
    }
    body = gated.wait_phase("inc-1", "Remediated", "Failed", "Rejected")
    assert body["status"]["phase"] == "Remediated", body["status"]
    assert approvals(body) == [("alice@example.com", "approve", True)]


def test_reject_ends_the_incident(gated: World) -> None:
    gated.incident("inc-1", "P0")
    gated.wait_phase("inc-1", "AwaitingApproval")
    kubeconfig = _user_kubeconfig(gated, "bob@example.com")
    proc = remediator("reject", "inc-1", "--namespace", NS, "--kubeconfig", str(kubeconfig))
    assert proc.returncode == 0, proc.stderr
    assert "reject plan" in proc.stdout
    body = gated.wait_phase("inc-1", "Rejected", "Remediated", "Failed")
    assert body["status"]["phase"] == "Rejected"
    assert body["status"]["timeline"][-1]["actor"] == "bob@example.com"
    [approval] = gated.approvals()
    assert approval["spec"]["approver"] == "bob@example.com"
    assert approval["spec"]["decision"] == "reject"


def test_approve_an_unknown_incident_fails_clearly(gated: World) -> None:
    kubeconfig = _user_kubeconfig(gated, "alice@example.com")
    proc = remediator("approve", "nope", "-n", NS, "--kubeconfig", str(kubeconfig))
    assert proc.returncode != 0
    assert proc.stderr.strip() == f"Error: incident {NS}/nope not found"
    assert "Traceback" not in proc.stderr
    assert gated.approvals() == []


def test_approve_an_incident_without_a_plan_fails_clearly(gated: World) -> None:
    gated.create_incident("inc-2", {"alertname": "DiskFull", "severity": "P1"})
    gated.wait_phase("inc-2", "NoPolicy")
    kubeconfig = _user_kubeconfig(gated, "alice@example.com")
    proc = remediator("approve", "inc-2", "-n", NS, "--kubeconfig", str(kubeconfig))
    assert proc.returncode != 0
    assert "has no plan to approve (phase NoPolicy)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert gated.approvals() == []


@pytest.mark.parametrize(
    ("flags", "peering_name", "lifetime"),
    [
        ([], None, 60),  # standalone: no peering name, or Kopf pauses every handler
        (["--standalone"], None, 60),
        (["--peering", "--priority", "7", "--peering-lifetime", "12"], "default", 12),
    ],
)
def test_run_asks_kopf_for_peering_only_with_peering(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], peering_name: str | None, lifetime: int
) -> None:
    """A peering name makes Kopf's peering mandatory: without the kopf.dev CRDs a standalone
    operator would then pause all its handlers (and approvals would never be picked up)."""
    from click.testing import CliRunner

    from remediator import cli, logs
    from remediator.runtime import RunSettings

    seen: dict[str, Any] = {}

    async def operator(**kwargs: Any) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(kopf, "operator", operator)
    monkeypatch.setattr(logs, "configure", lambda *_: None)
    result = CliRunner().invoke(
        cli.main, ["run", "--webhook-insecure", "--tick-seconds", "0.5", *flags]
    )
    assert result.exit_code == 0, result.output
    assert seen["peering_name"] == peering_name
    assert seen["standalone"] is (peering_name is None)
    # the run settings reach the handlers in Kopf's memo, not through a module global
    settings: RunSettings = seen["memo"].run
    assert settings.peering_lifetime == lifetime
    assert settings.config.webhook_insecure is True
    assert settings.config.tick_seconds == 0.5
    if peering_name:
        assert seen["priority"] == 7
