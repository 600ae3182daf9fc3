"""Watch streams through `kubernetes.watch.Watch`: replay, live events, bookmarks, 410, timeouts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from kube_emulator import Sandbox

from .conftest import WIDGETS, api_request


def cm(core: client.CoreV1Api, name: str, ns: str = "default", **labels: str) -> str:
    created = core.create_namespaced_config_map(
        ns, {"metadata": {"name": name, "labels": labels}, "data": {"v": "0"}}
    )
    return str(created.metadata.resource_version)


def first_events(count: int, list_call: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
    """The first `count` events of a watch of `list_call` (at most 5 s) as (type, name) pairs."""
    stream = watch.Watch()
    seen = []
    for event in stream.stream(list_call, *args, timeout_seconds=5, **kwargs):
        name = event["raw_object"]["metadata"].get("name")
        if name == "kube-root-ca.crt":
            continue  # the real cluster's root-CA publisher's (the emulator has none)
        seen.append((event["type"], name))
        if len(seen) == count:
            stream.stop()
    return seen


def test_watch_from_resource_version_replays_later_changes_only(core: client.CoreV1Api) -> None:
    rv = cm(core, "before")
    cm(core, "after")
    core.patch_namespaced_config_map("after", "default", {"data": {"v": "1"}})
    core.delete_namespaced_config_map("before", "default")
    assert first_events(3, core.list_namespaced_config_map, "default", resource_version=rv) == [
        ("ADDED", "after"),
        ("MODIFIED", "after"),
        ("DELETED", "before"),
    ]


def test_watch_without_resource_version_starts_with_the_current_state(
    core: client.CoreV1Api,
) -> None:
    cm(core, "a")
    cm(core, "b")
    assert first_events(2, core.list_namespaced_config_map, "default") == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]


def test_watch_streams_live_added_modified_deleted(core: client.CoreV1Api) -> None:
    rv = cm(core, "seed")
    stream = watch.Watch()
    seen: list[tuple[str, str]] = []

    def write() -> None:  # while the watch is open (from rv: none of it is missed)
        time.sleep(0.3)
        cm(core, "live")
        core.patch_namespaced_config_map("live", "default", {"data": {"v": "1"}})
        core.delete_namespaced_config_map("live", "default")

    writer = threading.Thread(target=write)
    writer.start()
    for event in stream.stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=rv,
        timeout_seconds=5,
        allow_watch_bookmarks=True,
    ):
        if event["type"] == "BOOKMARK":
            continue
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 3:
            stream.stop()
    writer.join()
    assert seen == [("ADDED", "live"), ("MODIFIED", "live"), ("DELETED", "live")]


def test_deleted_event_carries_the_last_state_at_a_new_resource_version(
    core: client.CoreV1Api,
) -> None:
    rv = cm(core, "a")
    patched = core.patch_namespaced_config_map("a", "default", {"data": {"v": "1"}})
    core.delete_namespaced_config_map("a", "default")
    stream = watch.Watch()
    events = []
    for event in stream.stream(
        core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5
    ):
        events.append(event)
        if len(events) == 2:
            stream.stop()
    deleted = events[-1]
    assert deleted["type"] == "DELETED"
    assert deleted["object"].data == {"v": "1"}
    assert int(deleted["object"].metadata.resource_version) > int(patched.metadata.resource_version)


def test_bookmarks_are_sent_when_allowed(core: client.CoreV1Api) -> None:
    rv = cm(core, "a")
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=5,
    ):
        assert event["type"] == "BOOKMARK"
        raw = event["raw_object"]
        assert raw["kind"] == "ConfigMap"
        assert raw["apiVersion"] == "v1"
        assert int(raw["metadata"]["resourceVersion"]) >= int(rv)
        stream.stop()
    assert stream.resource_version is not None
    assert int(stream.resource_version) >= int(rv)


def test_no_bookmarks_unless_asked(core: client.CoreV1Api) -> None:
    rv = cm(core, "a")
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1
        )
    )
    assert events == []


@pytest.mark.emulator_only(
    reason="the emulator's internals: compaction on demand (the real server compacts every 5 min)"
)
def test_watch_from_a_compacted_resource_version_is_410_gone(
    sandbox: Sandbox, core: client.CoreV1Api
) -> None:
    rv = cm(core, "a")
    cm(core, "b")
    sandbox.compact()
    stream = watch.Watch()
    with pytest.raises(ApiException) as info:
        list(
            stream.stream(
                core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5
            )
        )
    assert info.value.status == 410
    assert "Expired" in info.value.reason


@pytest.mark.emulator_only(
    reason="the emulator's internals: compaction on demand (the real server compacts every 5 min)"
)
def test_gone_is_an_error_event_with_code_410(
    sandbox: Sandbox, core: client.CoreV1Api, api_client: client.ApiClient
) -> None:
    rv = cm(core, "a")
    cm(core, "b")
    sandbox.compact()
    event = api_request(
        api_client,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        query=[("watch", "true"), ("resourceVersion", rv)],
    )
    assert event["type"] == "ERROR"
    assert event["object"]["kind"] == "Status"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"


@pytest.mark.emulator_only(
    reason="the emulator's internals: compaction on demand (the real server compacts every 5 min)"
)
def test_watch_from_the_latest_resource_version_after_compaction_works(
    sandbox: Sandbox, core: client.CoreV1Api
) -> None:
    cm(core, "a")
    sandbox.compact()
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    cm(core, "b")
    assert first_events(1, core.list_namespaced_config_map, "default", resource_version=rv) == [
        ("ADDED", "b")
    ]


def test_timeout_seconds_ends_the_stream(core: client.CoreV1Api) -> None:
    rv = cm(core, "a")
    started = time.monotonic()
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1
        )
    )
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.8 <= elapsed < 3


def test_label_selector_watch_turns_relabel_into_deleted_and_added(
    core: client.CoreV1Api,
) -> None:
    rv = cm(core, "a", app="web")
    cm(core, "other", app="db")
    core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"app": "db"}}})
    core.patch_namespaced_config_map("other", "default", {"data": {"v": "1"}})
    core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"app": "web"}}})
    core.patch_namespaced_config_map("a", "default", {"data": {"v": "2"}})
    assert first_events(
        3, core.list_namespaced_config_map, "default", resource_version=rv, label_selector="app=web"
    ) == [("DELETED", "a"), ("ADDED", "a"), ("MODIFIED", "a")]


def test_watch_of_one_namespace_ignores_others(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "watch-a"}})
    rv = cm(core, "seed")
    cm(core, "elsewhere", ns="watch-a")
    cm(core, "here")
    assert first_events(1, core.list_namespaced_config_map, "default", resource_version=rv) == [
        ("ADDED", "here")
    ]


def test_watch_across_all_namespaces(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "watch-b"}})
    rv = cm(core, "seed")
    cm(core, "elsewhere", ns="watch-b")
    cm(core, "here")
    assert first_events(2, core.list_config_map_for_all_namespaces, resource_version=rv) == [
        ("ADDED", "elsewhere"),
        ("ADDED", "here"),
    ]


def test_field_selector_watch_of_one_object(core: client.CoreV1Api) -> None:
    rv = cm(core, "seed")
    cm(core, "x")
    cm(core, "y")
    core.patch_namespaced_config_map("x", "default", {"data": {"v": "1"}})
    assert first_events(
        2,
        core.list_namespaced_config_map,
        "default",
        resource_version=rv,
        field_selector="metadata.name=x",
    ) == [("ADDED", "x"), ("MODIFIED", "x")]


def test_watch_of_custom_resources(
    custom: client.CustomObjectsApi, make_widget: Callable[..., dict[str, Any]]
) -> None:
    rv = make_widget("w1")["metadata"]["resourceVersion"]
    make_widget("w2")
    custom.patch_namespaced_custom_object_status(*WIDGETS, "w2", {"status": {"phase": "Ready"}})
    stream = watch.Watch()
    events = stream.stream(
        custom.list_namespaced_custom_object,
        *WIDGETS,
        resource_version=rv,
        timeout_seconds=5,
    )
    seen = []
    for event in events:
        seen.append(
            (event["type"], event["object"]["metadata"]["name"], event["object"].get("status"))
        )
        if len(seen) == 2:
            stream.stop()
    assert seen == [("ADDED", "w2", None), ("MODIFIED", "w2", {"phase": "Ready"})]
