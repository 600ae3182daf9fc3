"""Lists: kinds, resourceVersion, label and field selectors, pagination, all namespaces."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from .conftest import api_request, expect_error


@pytest.fixture
def labelled(core: client.CoreV1Api) -> None:
    for name, labels in [
        ("a", {"app": "web", "tier": "front"}),
        ("b", {"app": "web", "tier": "back"}),
        ("c", {"app": "db"}),
        ("d", {}),
    ]:
        core.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": labels}})


ROOT_CA = "kube-root-ca.crt"


def names(items: list[Any]) -> list[str]:
    """The names, but the CA bundle the real cluster's root-CA publisher puts in every
    namespace (deliberate: the emulator has no such controller)."""
    return sorted(i.metadata.name for i in items if i.metadata.name != ROOT_CA)


def test_list_has_kind_api_version_and_resource_version(
    core: client.CoreV1Api, api_client: client.ApiClient
) -> None:
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    raw = api_request(api_client, "GET", "/api/v1/namespaces/default/configmaps")
    assert raw["kind"] == "ConfigMapList"
    assert raw["apiVersion"] == "v1"
    assert int(raw["metadata"]["resourceVersion"]) >= int(created.metadata.resource_version)
    assert [i["metadata"]["name"] for i in raw["items"] if i["metadata"]["name"] != ROOT_CA] == [
        "a"
    ]


def test_list_of_a_grouped_resource(apps: client.AppsV1Api, api_client: client.ApiClient) -> None:
    raw = api_request(api_client, "GET", "/apis/apps/v1/namespaces/default/deployments")
    assert (raw["kind"], raw["apiVersion"], raw["items"]) == ("DeploymentList", "apps/v1", [])


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["a", "b"]),
        ("app==web", ["a", "b"]),
        ("app!=web", ["c", "d"]),
        ("app in (web,db)", ["a", "b", "c"]),
        ("app notin (web)", ["c", "d"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c", "d"]),
        ("app=web,tier=back", ["b"]),
    ],
)
def test_label_selector(
    core: client.CoreV1Api, labelled: None, selector: str, expected: list[str]
) -> None:
    listed = core.list_namespaced_config_map("default", label_selector=selector)
    assert names(listed.items) == expected


def test_invalid_label_selector_is_400(core: client.CoreV1Api) -> None:
    body = expect_error(
        400, core.list_namespaced_config_map, "default", label_selector="app in web"
    )
    assert body["reason"] == "BadRequest"


def test_field_selector_on_name_and_namespace(core: client.CoreV1Api, labelled: None) -> None:
    core.create_namespace({"metadata": {"name": "lists-a"}})
    core.create_namespaced_config_map("lists-a", {"metadata": {"name": "a"}})
    by_name = core.list_config_map_for_all_namespaces(field_selector="metadata.name=a")
    assert sorted(i.metadata.namespace for i in by_name.items) == ["default", "lists-a"]
    by_ns = core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=lists-a")
    assert names(by_ns.items) == ["a"]
    negated = core.list_namespaced_config_map("default", field_selector="metadata.name!=a")
    assert names(negated.items) == ["b", "c", "d"]


def test_field_selector_on_event_involved_object(core: client.CoreV1Api) -> None:
    for name, kind, obj, uid in [
        ("e1", "Pod", "web-1", "u1"),
        ("e2", "Pod", "web-2", "u2"),
        ("e3", "Deployment", "web-1", "u3"),
    ]:
        core.create_namespaced_event(
            "default",
            {
                "metadata": {"name": name},
                "involvedObject": {"kind": kind, "name": obj, "namespace": "default", "uid": uid},
                "reason": "Test",
                "message": "m",
                "type": "Normal",
            },
        )
    assert names(
        core.list_namespaced_event("default", field_selector="involvedObject.name=web-1").items
    ) == ["e1", "e3"]
    assert names(
        core.list_namespaced_event(
            "default", field_selector="involvedObject.kind=Pod,involvedObject.name=web-1"
        ).items
    ) == ["e1"]
    assert names(
        core.list_namespaced_event("default", field_selector="involvedObject.uid=u2").items
    ) == ["e2"]


def test_unsupported_field_selector_is_400(core: client.CoreV1Api) -> None:
    body = expect_error(400, core.list_namespaced_config_map, "default", field_selector="data.k=v")
    assert body["reason"] == "BadRequest"
    assert body["message"] == (
        '"data.k" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def test_pod_field_selector_on_phase(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "p"},
            # bound to no node that exists: Pending on the real cluster too (kwok runs pods)
            "spec": {"nodeName": "nowhere", "containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    assert names(
        core.list_namespaced_pod("default", field_selector="status.phase=Pending").items
    ) == ["p"]
    assert core.list_namespaced_pod("default", field_selector="status.phase=Running").items == []


def test_limit_and_continue_paginate(core: client.CoreV1Api) -> None:
    # secrets: `default` has none of its own on the real cluster (configmaps: the CA bundle)
    for i in range(5):
        core.create_namespaced_secret("default", {"metadata": {"name": f"cm-{i}"}})
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = core.list_namespaced_secret("default", limit=2, _continue=token)
        pages += 1
        seen.extend(i.metadata.name for i in page.items)
        assert len(page.items) <= 2
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 5 - len(seen)
    assert pages == 3
    assert seen == [f"cm-{i}" for i in range(5)]


def test_invalid_continue_token_is_400(core: client.CoreV1Api) -> None:
    expect_error(400, core.list_namespaced_config_map, "default", _continue="garbage!")


def test_list_across_all_namespaces(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "lists-b"}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    core.create_namespaced_config_map("lists-b", {"metadata": {"name": "y"}})
    listed = core.list_config_map_for_all_namespaces()
    found = {(i.metadata.namespace, i.metadata.name) for i in listed.items}
    assert {("default", "x"), ("lists-b", "y")} <= found
    assert names(core.list_namespaced_config_map("lists-b").items) == ["y"]


def test_cluster_scoped_list(core: client.CoreV1Api) -> None:
    namespaces = names(core.list_namespace().items)
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= set(namespaces)
    selected = core.list_namespace(label_selector="kubernetes.io/metadata.name=default")
    assert names(selected.items) == ["default"]


def test_delete_collection_honours_the_selector(core: client.CoreV1Api, labelled: None) -> None:
    core.delete_collection_namespaced_config_map("default", label_selector="app=web")
    assert names(core.list_namespaced_config_map("default").items) == ["c", "d"]


def test_list_of_custom_resources(custom: client.CustomObjectsApi, make_widget: Any) -> None:
    make_widget("w1")
    make_widget("w2")
    listed = custom.list_namespaced_custom_object(
        "test.remediator.dev", "v1", "default", "widgets", limit=1
    )
    assert listed["kind"] == "WidgetList"
    assert listed["apiVersion"] == "test.remediator.dev/v1"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    assert listed["items"][0]["kind"] == "Widget"
    assert listed["metadata"]["continue"]
