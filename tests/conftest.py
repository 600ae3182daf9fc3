"""Shared fixtures: a fresh API emulator per test, and the real clients pointed at it; the
real control plane (one per session) for the tests that run on both (`--cluster`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from kube_emulator import Sandbox
from real.backend import HOW_TO_GET, ControlPlane, ControlPlaneUnavailableError, go_available

BACKENDS = ("emulator", "real")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cluster",
        choices=("emulator", "real", "both"),
        default="both",
        help="which API server the flow tests run on: the embedded emulator, the real control "
        "plane (built from Go modules, started once per session), or both (the default; "
        "without Go the real runs are skipped, saying how to get them)",
    )
    parser.addoption(
        "--only-real",
        action="store_true",
        help="run only the tests on the real control plane (with --cluster=real)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--only-real`: keep the tests that run on the real control plane (the Makefile runs
    them beside an `--cluster=emulator` run of everything else)."""
    if not config.getoption("--only-real"):
        return
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_real = callspec is not None and callspec.params.get("backend") == "real"
        uses_plane = "control_plane" in getattr(item, "fixturenames", ())
        (kept if on_real or uses_plane else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "emulator_only(reason): only meaningful on the emulator (faults injected inside the "
        "server, its internals); not run on the real cluster",
    )
    config.addinivalue_line("markers", "real_only(reason): needs the real control plane")


def selected_backends(config: pytest.Config) -> tuple[str, ...]:
    choice = config.getoption("--cluster")
    return BACKENDS if choice == "both" else (choice,)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that use `backend` (the flows' `cluster` fixture) run once per selected API
    server; an `emulator_only` test is shown skipped on the real one, with its reason."""
    if "backend" not in metafunc.fixturenames:
        return
    emulator_only = metafunc.definition.get_closest_marker("emulator_only")
    real_only = metafunc.definition.get_closest_marker("real_only")
    params = []
    for backend in selected_backends(metafunc.config):
        marks: list[pytest.MarkDecorator] = []
        if backend == "real" and emulator_only is not None:
            reason = emulator_only.kwargs.get("reason") or (emulator_only.args or [""])[0]
            marks.append(pytest.mark.skip(reason=f"emulator only: {reason}"))
        if backend == "emulator" and real_only is not None:
            reason = real_only.kwargs.get("reason") or (real_only.args or [""])[0]
            marks.append(pytest.mark.skip(reason=f"real cluster only: {reason}"))
        params.append(pytest.param(backend, id=backend, marks=marks))
    metafunc.parametrize("backend", params)


@pytest.fixture(scope="session")
def control_plane(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    """The real control plane, started once per session (built first where it is not in the
    cache). Without Go the tests that need it skip; with Go, a failure to build or start
    it fails them."""
    if "real" not in selected_backends(request.config):
        pytest.skip("--cluster=emulator: not on the real control plane")
    if not go_available():
        pytest.skip(HOW_TO_GET)
    try:
        plane = ControlPlane.start()
    except ControlPlaneUnavailableError as e:
        pytest.skip(str(e))
    except Exception as e:
        pytest.fail(f"the real control plane could not be started: {e}", pytrace=False)
    yield plane
    plane.stop()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(kubeconfig=tmp_path / "kubeconfig", bookmark_interval=0.2) as box:
        yield box


@pytest.fixture
def api_client(sandbox: Sandbox) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(sandbox.kubeconfig))
    yield api
    api.close()


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@dataclass
class Kubectl:
    """The real kubectl, pointed at the emulator, with its own discovery cache."""

    kubeconfig: Path
    cache_dir: Path
    binary: str = "kubectl"  # the real cluster's own (1.34) kubectl there: one minor of skew

    def run(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [
                self.binary,
                f"--kubeconfig={self.kubeconfig}",
                f"--cache-dir={self.cache_dir}",
                *args,
            ],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)


@pytest.fixture
def kubectl(sandbox: Sandbox, tmp_path: Path) -> Kubectl:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed on this machine")
    assert sandbox.kubeconfig is not None
    return Kubectl(sandbox.kubeconfig, tmp_path / "kubectl-cache")
