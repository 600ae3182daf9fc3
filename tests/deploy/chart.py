"""Helm for the chart's tests: the binary built from its Go module (tools/helm/build.sh,
cached outside the work tree), `helm template` of deploy/helm/remediator, and the rendering
of `kubectl kustomize` that the chart is held to."""

from __future__ import annotations

import copy
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from .shipped import render

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "remediator"
BUILD = ROOT / "tools" / "helm" / "build.sh"
NAMESPACE = "remediator-system"
NO_GO = (
    "the chart's tests need Helm, built from its Go module: install Go 1.24 or newer "
    "(https://go.dev/doc/install); `make test` then builds it once (tools/helm/build.sh)"
)
Document = dict[str, Any]


def build_helm() -> Path:
    """The cached helm binary (built first when missing). Without Go the caller's test
    skips, saying how to get it; with Go, a failed build fails it."""
    if shutil.which("go") is None:
        pytest.skip(NO_GO)
    proc = subprocess.run(
        ["bash", str(BUILD)], capture_output=True, text=True, timeout=3600, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"tools/helm/build.sh failed:\n{proc.stderr[-4000:]}", pytrace=False)
    return Path(proc.stdout.strip().splitlines()[-1])


@dataclass
class Helm:
    binary: Path
    home: Path  # Helm's cache, config and data folders: nothing written to ~

    def run(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        proc = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
        return proc

    def template(
        self,
        *values: str,
        namespace: str = NAMESPACE,
        release: str = "remediator",
        crds: bool = False,
    ) -> list[Document]:
        """`helm template` with these `--set` values (KEY=VALUE); its documents."""
        args = ["template", release, str(CHART), "--namespace", namespace]
        args += ["--include-crds"] * crds
        for value in values:
            args += ["--set", value]
        return [d for d in yaml.safe_load_all(self.run(*args).stdout) if d]


def kustomize(path: str = "deploy") -> list[Document]:
    """The documents of `kubectl kustomize PATH` (skips without kubectl), a copy of its own."""
    return copy.deepcopy(list(render(path)))


def key(doc: Document) -> tuple[str, str, str]:
    return (doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace", ""))


def find(docs: list[Document], kind: str, name: str, namespace: str = "") -> Document:
    found = [d for d in docs if key(d) == (kind, name, namespace)]
    assert len(found) == 1, f"{kind}/{name} in {namespace or 'the cluster'}: {len(found)} found"
    return found[0]
