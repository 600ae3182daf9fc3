"""The operator's CRDs, generated into crds/, installed as `make` would."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client

CRDS = Path(__file__).resolve().parents[2] / "crds"


def install_crds(api: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api)
    for path in sorted(CRDS.glob("*.yaml")):
        ext.create_custom_resource_definition(yaml.safe_load(path.read_text()))
