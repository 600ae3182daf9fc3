"""Server-managed metadata: uid, timestamps, generation, resourceVersion, names, finalizers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kubernetes import client

from .builders import deployment
from .conftest import WIDGETS, api_request, expect_error

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": data}


def test_create_sets_uid_and_creation_timestamp(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map(
        "default",
        {
            "metadata": {
                "name": "a",
                "uid": "client-chosen",
                "creationTimestamp": "2000-01-01T00:00:00Z",
            }
        },
    )
    assert UUID.match(created.metadata.uid)
    assert created.metadata.uid != "client-chosen"
    assert created.metadata.creation_timestamp.year > 2000
    raw = api_request(core.api_client, "GET", "/api/v1/namespaces/default/configmaps/a")
    assert RFC3339.match(raw["metadata"]["creationTimestamp"])
    assert core.read_namespaced_config_map("a", "default").metadata.uid == created.metadata.uid


def test_uid_and_creation_timestamp_survive_an_update(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", cm("a"))
    created.metadata.uid = "00000000-0000-0000-0000-000000000000"
    created.data = {"k": "v"}
    # a uid in an update is a precondition: a different one is a 409
    body = expect_error(409, core.replace_namespaced_config_map, "a", "default", created)
    assert body["reason"] == "Conflict"
    assert "Precondition failed: UID in precondition: 0000" in body["message"]
    created.metadata.uid = None
    created.metadata.creation_timestamp = None
    updated = core.replace_namespaced_config_map("a", "default", created)
    assert updated.metadata.uid != "00000000-0000-0000-0000-000000000000"
    assert updated.data == {"k": "v"}
    assert updated.metadata.creation_timestamp is not None


def test_generation_starts_at_1_and_is_bumped_by_spec_changes(apps: client.AppsV1Api) -> None:
    created = apps.create_namespaced_deployment("default", deployment())
    assert created.metadata.generation == 1
    patched = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert patched.metadata.generation == 2


def test_generation_is_not_bumped_by_metadata_changes(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment())
    patched = apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"labels": {"extra": "yes"}}}
    )
    assert patched.metadata.generation == 1
    assert patched.metadata.labels["extra"] == "yes"
    # but a Deployment's annotations count as its spec (its registry strategy's rule)
    annotated = apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"annotations": {"a": "b"}}}
    )
    assert annotated.metadata.generation == 2


def test_generation_is_not_bumped_by_status_writes(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment())
    patched = apps.patch_namespaced_deployment_status(
        "web", "default", {"status": {"observedGeneration": 1, "replicas": 7}}
    )
    assert patched.metadata.generation == 1
    assert patched.status.replicas == 7


def test_generation_of_a_custom_resource(
    custom: client.CustomObjectsApi, make_widget: Callable[..., dict[str, Any]]
) -> None:
    assert make_widget("w1")["metadata"]["generation"] == 1
    labelled = custom.patch_namespaced_custom_object(
        *WIDGETS, "w1", {"metadata": {"labels": {"x": "y"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    status = custom.patch_namespaced_custom_object_status(
        *WIDGETS, "w1", {"status": {"phase": "Ready"}}
    )
    assert status["metadata"]["generation"] == 1
    spec = custom.patch_namespaced_custom_object(*WIDGETS, "w1", {"spec": {"size": 5}})
    assert spec["metadata"]["generation"] == 2


def test_objects_without_a_generation_strategy_have_no_generation(
    core: client.CoreV1Api,
) -> None:
    """ConfigMaps, Secrets, Namespaces have no metadata.generation in kube-apiserver."""
    assert core.create_namespaced_config_map("default", cm("a")).metadata.generation is None
    assert core.create_namespace({"metadata": {"name": "gen"}}).metadata.generation is None


def test_resource_version_increases_across_all_resources(
    core: client.CoreV1Api, apps: client.AppsV1Api
) -> None:
    rvs = [
        core.create_namespaced_config_map("default", cm("a")).metadata.resource_version,
        core.create_namespaced_secret(
            "default", {"metadata": {"name": "s"}}
        ).metadata.resource_version,
        core.patch_namespaced_config_map(
            "a", "default", {"data": {"k": "v"}}
        ).metadata.resource_version,
        core.create_namespace({"metadata": {"name": "rv-order"}}).metadata.resource_version,
    ]
    numbers = [int(rv) for rv in rvs]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)


def test_list_resource_version_is_the_latest_of_the_cluster(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", cm("a"))
    secret = core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    listed = core.list_namespaced_config_map("default")
    assert int(listed.metadata.resource_version) >= int(secret.metadata.resource_version)


def test_generate_name_creates_a_unique_name(core: client.CoreV1Api) -> None:
    names = {
        core.create_namespaced_config_map(
            "default", {"metadata": {"generateName": "job-"}}
        ).metadata.name
        for _ in range(3)
    }
    assert len(names) == 3
    for name in names:
        assert re.fullmatch(r"job-[a-z0-9]{5}", name)
        assert core.read_namespaced_config_map(name, "default").metadata.generate_name == "job-"


def test_name_or_generate_name_is_required(core: client.CoreV1Api) -> None:
    body = expect_error(422, core.create_namespaced_config_map, "default", {"metadata": {}})
    assert body["reason"] == "Invalid"
    assert "name or generateName is required" in body["message"]


def test_invalid_name_is_422(core: client.CoreV1Api) -> None:
    body = expect_error(422, core.create_namespaced_config_map, "default", cm("Not_Valid"))
    assert body["details"]["causes"][0]["field"] == "metadata.name"


def test_delete_without_finalizers_removes_the_object(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", cm("a"))
    core.delete_namespaced_config_map("a", "default")
    expect_error(404, core.read_namespaced_config_map, "a", "default")


def test_finalizer_holds_deletion_until_removed(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a", "finalizers": ["example.com/hold"]}}
    )
    core.delete_namespaced_config_map("a", "default")
    held = core.read_namespaced_config_map("a", "default")
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.deletion_grace_period_seconds == 0
    assert held.metadata.finalizers == ["example.com/hold"]
    # A second delete changes nothing.
    core.delete_namespaced_config_map("a", "default")
    again = core.read_namespaced_config_map("a", "default")
    assert again.metadata.resource_version == held.metadata.resource_version
    core.patch_namespaced_config_map("a", "default", {"metadata": {"finalizers": None}})
    expect_error(404, core.read_namespaced_config_map, "a", "default")


def test_object_goes_only_after_the_last_finalizer(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a", "finalizers": ["x.io/one", "x.io/two"]}}
    )
    core.delete_namespaced_config_map("a", "default")
    core.patch_namespaced_config_map(
        "a", "default", [{"op": "remove", "path": "/metadata/finalizers/0"}]
    )
    assert core.read_namespaced_config_map("a", "default").metadata.finalizers == ["x.io/two"]
    core.patch_namespaced_config_map(
        "a", "default", [{"op": "remove", "path": "/metadata/finalizers"}]
    )
    expect_error(404, core.read_namespaced_config_map, "a", "default")


def test_deletion_bumps_generation_of_a_generational_object(
    custom: client.CustomObjectsApi, w1: dict[str, Any]
) -> None:
    custom.patch_namespaced_custom_object(*WIDGETS, "w1", {"metadata": {"finalizers": ["x.io/f"]}})
    custom.delete_namespaced_custom_object(*WIDGETS, "w1")
    held = custom.get_namespaced_custom_object(*WIDGETS, "w1")
    assert held["metadata"]["deletionTimestamp"]
    assert held["metadata"]["generation"] == 2


def test_new_finalizer_on_a_deleting_object_is_refused(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a", "finalizers": ["x.io/one"]}}
    )
    core.delete_namespaced_config_map("a", "default")
    body = expect_error(
        422,
        core.patch_namespaced_config_map,
        "a",
        "default",
        {"metadata": {"finalizers": ["x.io/one", "x.io/two"]}},
    )
    assert body["reason"] == "Invalid"
    assert "no new finalizers can be added if the object is being deleted" in body["message"]
    assert body["details"]["causes"][0]["field"] == "metadata.finalizers"


def test_deletion_timestamp_cannot_be_set_or_cleared_by_the_client(
    core: client.CoreV1Api,
) -> None:
    created = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "a", "deletionTimestamp": "2020-01-01T00:00:00Z"}}
    )
    assert created.metadata.deletion_timestamp is None
    core.patch_namespaced_config_map("a", "default", {"metadata": {"finalizers": ["x.io/f"]}})
    core.delete_namespaced_config_map("a", "default")
    core.patch_namespaced_config_map(
        "a", "default", {"metadata": {"deletionTimestamp": None, "labels": {"a": "b"}}}
    )
    assert core.read_namespaced_config_map("a", "default").metadata.deletion_timestamp


def test_dry_run_create_stores_nothing(core: client.CoreV1Api) -> None:
    result = core.create_namespaced_config_map("default", cm("a"), dry_run="All")
    assert result.metadata.name == "a"
    assert result.metadata.uid
    expect_error(404, core.read_namespaced_config_map, "a", "default")


def test_delete_precondition_on_uid(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", cm("a"))
    body = expect_error(
        409,
        core.delete_namespaced_config_map,
        "a",
        "default",
        body={"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}},
    )
    assert body["reason"] == "Conflict"
    assert core.read_namespaced_config_map("a", "default")
