"""dryRun=All: the server answers as it would, and stores nothing (no new resourceVersion,
no event, no name taken)."""

from __future__ import annotations

from typing import Any

from kubernetes import client, watch

from .builders import deployment
from .conftest import expect_error


def config_map(name: str = "a", **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": data or {"k": "v1"}}


def test_a_dry_run_create_answers_the_object_and_stores_nothing(core: client.CoreV1Api) -> None:
    result = core.create_namespaced_config_map("default", config_map(), dry_run="All")
    assert result.metadata.name == "a"
    assert result.metadata.uid
    assert result.metadata.creation_timestamp
    assert result.data == {"k": "v1"}
    expect_error(404, core.read_namespaced_config_map, "a", "default")


def test_a_dry_run_create_with_generate_name_answers_a_name(core: client.CoreV1Api) -> None:
    body = {"metadata": {"generateName": "gen-"}, "data": {"k": "v"}}
    result = core.create_namespaced_config_map("default", body, dry_run="All")
    assert result.metadata.name.startswith("gen-")
    assert len(result.metadata.name) == len("gen-") + 5
    expect_error(404, core.read_namespaced_config_map, result.metadata.name, "default")


def test_a_dry_run_update_answers_the_change_and_keeps_the_object(
    core: client.CoreV1Api,
) -> None:
    created = core.create_namespaced_config_map("default", config_map())
    created.data = {"k": "v2"}
    result = core.replace_namespaced_config_map("a", "default", created, dry_run="All")
    assert result.data == {"k": "v2"}
    stored = core.read_namespaced_config_map("a", "default")
    assert stored.data == {"k": "v1"}
    assert stored.metadata.resource_version == created.metadata.resource_version


def test_a_dry_run_patch_answers_the_change_and_keeps_the_object(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment())
    result = apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"replicas": 3}}, dry_run="All"
    )
    assert result.spec.replicas == 3
    assert result.metadata.generation == 2
    stored = apps.read_namespaced_deployment("web", "default")
    assert stored.spec.replicas == 1
    assert stored.metadata.generation == 1  # (its controller writes its status meanwhile)


def test_a_dry_run_delete_keeps_the_object(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", config_map())
    core.delete_namespaced_config_map("a", "default", dry_run="All")
    stored = core.read_namespaced_config_map("a", "default")
    assert stored.metadata.resource_version == created.metadata.resource_version
    assert stored.metadata.deletion_timestamp is None


def test_a_dry_run_delete_of_an_object_with_a_finalizer_sets_no_deletion_timestamp(
    core: client.CoreV1Api,
) -> None:
    body = {"metadata": {"name": "a", "finalizers": ["example.com/hold"]}}
    created = core.create_namespaced_config_map("default", body)
    core.delete_namespaced_config_map("a", "default", dry_run="All")
    stored = core.read_namespaced_config_map("a", "default")
    assert stored.metadata.deletion_timestamp is None
    assert stored.metadata.resource_version == created.metadata.resource_version
    core.patch_namespaced_config_map("a", "default", {"metadata": {"finalizers": None}})


def test_a_dry_run_of_an_invalid_object_is_refused_like_a_real_one(
    core: client.CoreV1Api,
) -> None:
    body = expect_error(
        422, core.create_namespaced_config_map, "default", config_map("Bad_Name"), dry_run="All"
    )
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"


def test_a_dry_run_create_of_an_existing_name_is_409(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", config_map())
    body = expect_error(
        409, core.create_namespaced_config_map, "default", config_map(), dry_run="All"
    )
    assert body["reason"] == "AlreadyExists"


def test_dry_run_writes_send_no_watch_event(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", config_map())
    rv = created.metadata.resource_version
    core.create_namespaced_config_map("default", config_map("b"), dry_run="All")
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "x"}}, dry_run="All")
    core.delete_namespaced_config_map("a", "default", dry_run="All")
    core.create_namespaced_config_map("default", config_map("c"))
    stream = watch.Watch()
    seen = []
    for event in stream.stream(
        core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5
    ):
        seen.append((event["type"], event["object"].metadata.name))
        stream.stop()
    assert seen == [("ADDED", "c")]
