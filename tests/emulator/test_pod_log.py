"""pods/log: a container's log as text, as the evidence capture reads it.

The API server checks the pod and the container before it asks the node's kubelet; those
answers are compared with the real server. The log text itself comes from the kubelet, which
the emulator plays with `Sandbox.set_log` (on the real cluster kwok serves it from its `Logs`
resources: tests/flows/test_evidence.py)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from kube_emulator import Sandbox

from .conftest import expect_error


def pod(name: str, *containers: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": c, "image": f"example/{c}:v1"} for c in containers]},
    }


def test_the_log_of_a_pod_that_does_not_exist_is_404(core: client.CoreV1Api) -> None:
    body = expect_error(404, core.read_namespaced_pod_log, "nobody", "default")
    assert body["reason"] == "NotFound" and body["details"]["name"] == "nobody"


def test_a_container_the_pod_does_not_have_is_400(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("web", "app"))
    body = expect_error(400, core.read_namespaced_pod_log, "web", "default", container="db")
    assert body["message"] == "container db is not valid for pod web"


def test_a_pod_of_several_containers_needs_the_container_named(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("web", "app", "proxy"))
    body = expect_error(400, core.read_namespaced_pod_log, "web", "default")
    assert body["message"] == (
        "a container name must be specified for pod web, choose one of: [app proxy]"
    )


@pytest.mark.emulator_only(reason="the kubelet's part: the emulator runs no node")
def test_the_log_is_cut_to_its_last_lines_then_to_the_byte_limit(
    sandbox: Sandbox, core: client.CoreV1Api
) -> None:
    core.create_namespaced_pod("default", pod("web", "app"))
    sandbox.set_log("default", "web", "app", "".join(f"line {i}\n" for i in range(10)))
    assert core.read_namespaced_pod_log("web", "default", tail_lines=2) == "line 8\nline 9\n"
    assert core.read_namespaced_pod_log("web", "default", tail_lines=2, limit_bytes=4) == "line"
    assert core.read_namespaced_pod_log("web", "default").count("\n") == 10


@pytest.mark.emulator_only(reason="the kubelet's part: the emulator runs no node")
def test_the_previous_container_has_its_own_log_or_a_400(
    sandbox: Sandbox, core: client.CoreV1Api
) -> None:
    core.create_namespaced_pod("default", pod("web", "app"))
    body = expect_error(400, core.read_namespaced_pod_log, "web", "default", previous=True)
    assert body["message"] == 'previous terminated container "app" in pod "web" not found'
    sandbox.set_log("default", "web", "app", "out of memory\n", previous=True)
    assert core.read_namespaced_pod_log("web", "default", previous=True) == "out of memory\n"
