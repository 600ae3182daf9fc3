"""The objects the conformance tests create: one builder per kind, for every test file."""

from __future__ import annotations

from typing import Any

# the test CRD's (`widget_crd` in conftest)
GROUP = "test.remediator.dev"
VERSION = "v1"
PLURAL = "widgets"
KIND = "Widget"


def deployment(
    name: str = "web", replicas: int = 1, image: str = "nginx:1.25", **pod_spec: Any
) -> dict[str, Any]:
    """A Deployment of one container `app` (or `pod_spec`'s), its pods labelled app=<name>."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}], **pod_spec},
            },
        },
    }


def widget(name: str = "w", status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    """A custom object of the test CRD (`widget_crd` in conftest)."""
    body: dict[str, Any] = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name},
        "spec": spec,
    }
    if status is not None:
        body["status"] = status
    return body
