"""Reading policy and object files (YAML and JSON, kustomize folders) for the offline
commands."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..core.lint import Document, Finding, parse
from ..core.models import RemediationPolicy

YAML_SUFFIXES = (".yaml", ".yml")
KUSTOMIZATION = ("kustomization.yaml", "kustomization.yml", "Kustomization")


# -------------------------------------------------------------------------- files
def policy_files(paths: Iterable[Path]) -> list[Path]:
    """The YAML files under the paths (directories recursively, sorted), kustomizations
    skipped."""
    return [p for p in data_files(paths, YAML_SUFFIXES) if p.name not in KUSTOMIZATION]


def read_documents(files: Iterable[Path]) -> tuple[list[Document], list[Finding]]:
    """Every YAML document of the files; a file that does not parse is a finding."""
    documents: list[Document] = []
    problems: list[Finding] = []
    for path in files:
        try:
            bodies = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as e:
            problems.append(Finding("error", "unreadable", str(path), "file", "", str(e)))
            continue
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else "file"
            problems.append(Finding("error", "yaml", str(path), where, "", f"not valid YAML: {e}"))
            continue
        documents += [Document(str(path), i, body) for i, body in enumerate(bodies)]
    return documents, problems


def read_data(path: Path) -> list[Any]:
    """A JSON file (one document) or a YAML file (all its documents)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return [json.loads(text)]
    return [d for d in yaml.safe_load_all(text) if d is not None]


def data_files(paths: Iterable[Path], suffixes: Sequence[str]) -> list[Path]:
    """The files given, and those under the directories given (recursively, sorted) whose
    suffix is one of `suffixes`."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in suffixes)
        else:
            found.append(path)
    return found


def load_policies(paths: Iterable[Path]) -> tuple[list[RemediationPolicy], list[Finding]]:
    documents, problems = read_documents(policy_files(paths))
    result = parse(documents)
    return [p.policy for p in result.policies], problems + result.findings


def load_objects(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Kubernetes objects from YAML/JSON files; `kind: List` (kubectl get -o yaml) unpacked."""
    objects: list[dict[str, Any]] = []
    for path in data_files(paths, (".yaml", ".yml", ".json")):
        for body in read_data(path):
            if not isinstance(body, dict):
                continue
            if body.get("kind", "").endswith("List") and isinstance(body.get("items"), list):
                objects += [i for i in body["items"] if isinstance(i, dict)]
            else:
                objects.append(body)
    return objects
