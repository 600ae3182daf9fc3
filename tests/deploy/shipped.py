"""Objects that `deploy/` ships besides RBAC, created as `kubectl apply -k deploy/` would."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client

ROOT = Path(__file__).resolve().parents[2]


def create_shipped_configmaps(core: client.CoreV1Api) -> None:
    """The ConfigMaps of deploy/base/config.yaml (the pause switch, the guard ledger): the
    operator's role may read and patch them but not create them."""
    for doc in yaml.safe_load_all((ROOT / "deploy" / "base" / "config.yaml").read_text()):
        if doc and doc["kind"] == "ConfigMap":
            core.create_namespaced_config_map(doc["metadata"]["namespace"], doc)
