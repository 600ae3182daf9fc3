"""Fault injection: error answers, slowness, lost answers and broken watches, on demand.

A rule picks requests (verb, group, resource, namespace, name, user), fires at a seeded
rate or a limited number of times, and answers before the verb runs: nothing is stored and
nothing enters the write log, except for `apply_then_drop`, which applies the write and
loses only its answer (the write log flags it).
"""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import pytest
import urllib3
from kubernetes import client, watch

from kube_emulator import Sandbox
from support.waiting import wait_for

from .conftest import api_request, expect_error
from .test_kopf import GROUP as KOPF_GROUP
from .test_kopf import PLURAL as KOPF_PLURAL
from .test_kopf import Operator
from .test_kopf import operator as operator  # the fixture, re-exported

pytestmark = pytest.mark.emulator_only(
    reason="the emulator's internals: faults injected inside the server (on the real "
    "cluster: the chaos proxy)"
)


@pytest.fixture
def cm(core: client.CoreV1Api) -> client.V1ConfigMap:
    created: client.V1ConfigMap = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "cm"}, "data": {"k": "v"}}
    )
    return created


def unchanged(sandbox: Sandbox, core: client.CoreV1Api, before: client.V1ConfigMap) -> None:
    now = core.read_namespaced_config_map("cm", "default")
    assert now.data == before.data
    assert now.metadata.resource_version == before.metadata.resource_version
    assert [w for w in sandbox.writes() if w.resource == "configmaps" and w.verb != "create"] == []


# ------------------------------------------------------------- error answers
@pytest.mark.parametrize(
    ("status", "reason"),
    [(500, "InternalError"), (503, "ServiceUnavailable"), (409, "Conflict")],
)
def test_an_error_status_answers_instead_of_the_verb(
    sandbox: Sandbox, core: client.CoreV1Api, cm: client.V1ConfigMap, status: int, reason: str
) -> None:
    sandbox.faults.add(verb="patch", resource="configmaps", status=status)
    body = expect_error(
        status, core.patch_namespaced_config_map, "cm", "default", {"data": {"k": "x"}}
    )
    assert body["reason"] == reason
    if status == 409:
        assert body["message"] == (
            'Operation cannot be fulfilled on configmaps "cm": the object has been modified; '
            "please apply your changes to the latest version and try again"
        )
        assert body["details"] == {"name": "cm", "kind": "configmaps"}
    unchanged(sandbox, core, cm)
    assert sandbox.faults.injected() == {str(status): 1}
    # other verbs and resources are not touched
    assert core.read_namespaced_config_map("cm", "default").data == {"k": "v"}
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}})


def test_429_carries_retry_after_which_the_client_honours(
    sandbox: Sandbox, core: client.CoreV1Api, cm: client.V1ConfigMap
) -> None:
    # urllib3 (under the `kubernetes` client) retries a 429 after its Retry-After
    sandbox.faults.add(verb="get", resource="configmaps", status=429, count=1, retry_after=1)
    started = time.monotonic()
    assert core.read_namespaced_config_map("cm", "default").data == {"k": "v"}
    assert time.monotonic() - started >= 1.0
    assert sandbox.faults.injected() == {"429": 1}
    # persistently throttled, the error surfaces with kube's body and header
    sandbox.faults.add(verb="patch", resource="configmaps", status=429, retry_after=0)
    with pytest.raises(client.ApiException) as info:
        core.patch_namespaced_config_map("cm", "default", {"data": {"k": "x"}})
    assert info.value.status == 429
    assert info.value.headers["Retry-After"] == "0"
    body = json.loads(info.value.body)
    assert body["reason"] == "TooManyRequests"
    assert body["message"] == "Too many requests, please try again later."
    assert body["details"] == {"retryAfterSeconds": 0}
    unchanged(sandbox, core, cm)


def test_a_seeded_rate_fires_repeatably(sandbox: Sandbox, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}})

    def run() -> list[bool]:
        outcomes = []
        for _ in range(60):
            try:
                core.read_namespaced_config_map("cm", "default")
                outcomes.append(False)
            except client.ApiException as e:
                outcomes.append(e.status == 500)
        return outcomes

    rule = sandbox.faults.add(verb="get", resource="configmaps", status=500, rate=0.3, seed=42)
    first = run()
    rng = random.Random(42)
    assert first == [rng.random() < 0.3 for _ in range(60)]
    assert 8 <= sum(first) <= 30
    assert rule.fired == sum(first)
    sandbox.faults.clear()
    sandbox.faults.add(verb="get", resource="configmaps", status=500, rate=0.3, seed=42)
    assert run() == first
    assert sandbox.faults.injected() == {"500": 2 * sum(first)}


def test_count_limits_a_rule_and_clear_removes_all(
    sandbox: Sandbox, core: client.CoreV1Api, cm: client.V1ConfigMap
) -> None:
    sandbox.faults.add(verb=["get", "list"], resource="configmaps", status=503, count=2)
    expect_error(503, core.read_namespaced_config_map, "cm", "default")
    expect_error(503, core.list_namespaced_config_map, "default")
    assert core.read_namespaced_config_map("cm", "default").data == {"k": "v"}
    sandbox.faults.add(status=500)  # everything
    expect_error(500, core.list_namespace)
    sandbox.faults.clear()
    core.list_namespace()
    assert sandbox.faults.injected() == {"503": 2, "500": 1}


def test_rules_select_by_namespace_name_user_and_subresource(
    sandbox: Sandbox, core: client.CoreV1Api, apps: client.AppsV1Api, api_client: client.ApiClient
) -> None:
    core.create_namespace({"metadata": {"name": "shop"}})
    for ns in ("default", "shop"):
        for name in ("a", "b"):
            core.create_namespaced_config_map(ns, {"metadata": {"name": name}})
    sandbox.faults.add(namespace="shop", name="a", status=500)
    expect_error(500, core.read_namespaced_config_map, "a", "shop")
    core.read_namespaced_config_map("b", "shop")
    core.read_namespaced_config_map("a", "default")
    sandbox.faults.clear()

    sandbox.faults.add(user="bob", status=503)
    core.read_namespaced_config_map("a", "default")  # the admin is not bob
    sandbox.faults.clear()

    apps.create_namespaced_deployment(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    sandbox.faults.add(verb="patch", resource="deployments/scale", status=500)
    expect_error(
        500, apps.patch_namespaced_deployment_scale, "web", "default", {"spec": {"replicas": 3}}
    )
    apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"x": "y"}}})
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 1
    sandbox.faults.clear()
    # subresource="": the main resource only
    sandbox.faults.add(
        verb="patch", group="apps", resource="deployments", subresource="", status=500
    )
    expect_error(500, apps.patch_namespaced_deployment, "web", "default", {"spec": {}})
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 2}})


def test_a_rule_has_one_effect() -> None:
    box = Sandbox()
    with pytest.raises(ValueError, match="one effect"):
        box.faults.add(status=500, timeout=True)
    with pytest.raises(ValueError, match="needs an effect"):
        box.faults.add(verb="get")
    with pytest.raises(ValueError, match="rate"):
        box.faults.add(status=500, rate=1.5)


# ------------------------------------------------------------ slow and lost
def test_a_delay_slows_only_the_matching_requests(
    sandbox: Sandbox, core: client.CoreV1Api, cm: client.V1ConfigMap
) -> None:
    sandbox.faults.add(verb="get", resource="configmaps", delay=0.4)
    started = time.monotonic()
    slow = threading.Thread(target=core.read_namespaced_config_map, args=("cm", "default"))
    slow.start()
    time.sleep(0.05)
    fast_started = time.monotonic()
    core.list_namespaced_config_map("default")  # served meanwhile: the server is not blocked
    assert time.monotonic() - fast_started < 0.3
    slow.join()
    assert time.monotonic() - started >= 0.4
    # a delay before an error
    sandbox.faults.clear()
    sandbox.faults.add(verb="delete", resource="configmaps", delay=0.2, status=503, count=1)
    started = time.monotonic()
    expect_error(503, core.delete_namespaced_config_map, "cm", "default")
    assert time.monotonic() - started >= 0.2
    assert sandbox.faults.injected() == {"delay": 1, "503": 1}


def test_a_timeout_answers_nothing_and_changes_nothing(
    sandbox: Sandbox, core: client.CoreV1Api, cm: client.V1ConfigMap
) -> None:
    sandbox.faults.add(verb="patch", resource="configmaps", timeout=True, count=1)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        core.patch_namespaced_config_map(
            "cm", "default", {"data": {"k": "x"}}, _request_timeout=0.4
        )
    assert time.monotonic() - started < 2
    unchanged(sandbox, core, cm)
    # a client without a timeout sees the connection closed after `hang` seconds
    sandbox.faults.add(verb="patch", resource="configmaps", timeout=True, hang=0.3, count=1)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        core.patch_namespaced_config_map("cm", "default", {"data": {"k": "x"}})
    unchanged(sandbox, core, cm)
    assert sandbox.faults.injected() == {"timeout": 2}
    core.patch_namespaced_config_map("cm", "default", {"data": {"k": "x"}})  # count spent


def test_apply_then_drop_writes_and_loses_the_answer(
    sandbox: Sandbox, core: client.CoreV1Api, cm: client.V1ConfigMap
) -> None:
    sandbox.faults.add(verb="patch", resource="configmaps", apply_then_drop=True, count=1)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        core.patch_namespaced_config_map(
            "cm", "default", {"data": {"k": "x"}}, _request_timeout=0.4
        )
    assert core.read_namespaced_config_map("cm", "default").data == {"k": "x"}
    last = sandbox.writes()[-1]
    assert (last.verb, last.name, last.changed, last.response_dropped) == (
        "patch",
        "cm",
        True,
        True,
    )
    assert sandbox.faults.injected() == {"apply_then_drop": 1}
    core.patch_namespaced_config_map("cm", "default", {"data": {"k": "y"}})
    assert sandbox.writes()[-1].response_dropped is False


# ------------------------------------------------------------------ watches
def test_a_dropped_watch_ends_the_clients_stream(
    sandbox: Sandbox, core: client.CoreV1Api, cm: client.V1ConfigMap
) -> None:
    sandbox.faults.add(verb="watch", resource="configmaps", drop_watch_after=0.5, count=1)
    seen: list[str] = []
    started = time.monotonic()
    for event in watch.Watch().stream(
        core.list_namespaced_config_map, "default", timeout_seconds=30
    ):
        seen.append(f"{event['type']} {event['object'].metadata.name}")
        if len(seen) == 1:
            core.create_namespaced_config_map("default", {"metadata": {"name": "during"}})
    assert time.monotonic() - started < 5  # ended by the drop, not by timeoutSeconds
    assert seen == ["ADDED cm", "ADDED during"]
    assert sandbox.faults.injected() == {"drop_watch": 1}


def test_an_abrupt_drop_breaks_the_stream_mid_way(
    sandbox: Sandbox, core: client.CoreV1Api, cm: client.V1ConfigMap
) -> None:
    sandbox.faults.add(verb="watch", resource="configmaps", drop_watch_after=0.3, abrupt=True)
    seen: list[str] = []

    def consume() -> None:
        stream = watch.Watch().stream(
            core.list_namespaced_config_map, "default", timeout_seconds=30
        )
        seen.extend(event["type"] for event in stream)

    with pytest.raises(urllib3.exceptions.ProtocolError):
        consume()
    assert seen == ["ADDED"]
    assert sandbox.faults.injected() == {"drop_watch": 1}


def test_gone_on_rewatch_answers_410_then_watches_resume(
    sandbox: Sandbox, api_client: client.ApiClient, core: client.CoreV1Api
) -> None:
    sandbox.faults.add(resource="configmaps", gone_on_rewatch=True, count=1)
    path = "/api/v1/namespaces/default/configmaps"
    # a fresh watch (no resourceVersion) is not a re-watch
    fresh = api_request(api_client, "GET", path, query=[("watch", "true"), ("timeoutSeconds", "1")])
    assert fresh is None
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": "after"}})
    query: list[tuple[str, Any]] = [
        ("watch", "true"),
        ("resourceVersion", rv),
        ("timeoutSeconds", "1"),
    ]
    gone = api_request(api_client, "GET", path, query=query)
    assert gone["type"] == "ERROR"
    assert gone["object"]["code"] == 410
    assert gone["object"]["reason"] == "Expired"
    assert gone["object"]["message"].startswith(f"too old resource version: {rv} (")
    resumed = api_request(api_client, "GET", path, query=query)
    assert (resumed["type"], resumed["object"]["metadata"]["name"]) == ("ADDED", "after")
    assert sandbox.faults.injected() == {"gone": 1}


# ------------------------------------------------------------------- Kopf
def test_kopf_recovers_from_dropped_watches_and_410_by_relisting(
    operator: Operator,
    sandbox: Sandbox,
) -> None:
    operator.create("before", size=1)
    wait_for(
        "the first gizmo handled",
        lambda: (o := operator.get("before")) and (o.get("status") or {}).get("phase") == "Ready",
    )
    lists_before = sandbox.request_counts().get(("list", KOPF_GROUP, KOPF_PLURAL), 0)
    sandbox.faults.add(
        verb="watch", resource=KOPF_PLURAL, drop_watch_after=0.2, abrupt=True, count=2
    )
    sandbox.faults.add(verb="watch", resource=KOPF_PLURAL, gone_on_rewatch=True, count=2)
    wait_for(
        "the faults to fire",
        lambda: (
            sandbox.faults.injected().get("gone", 0) == 2
            and sandbox.faults.injected().get("drop_watch", 0) == 2
        ),
    )
    # Kopf listed again after each 410 (and resumed after each drop)
    wait_for(
        "Kopf to list again",
        lambda: (
            sandbox.request_counts().get(("list", KOPF_GROUP, KOPF_PLURAL), 0) >= lists_before + 2
        ),
    )
    operator.create("after", size=2)
    wait_for(
        "the gizmo created after the faults handled",
        lambda: (o := operator.get("after")) and (o.get("status") or {}).get("phase") == "Ready",
    )
    operator.custom.patch_namespaced_custom_object(
        KOPF_GROUP, "v1", "default", KOPF_PLURAL, "before", {"spec": {"size": 4}}
    )
    wait_for(
        "the update after the faults handled",
        lambda: (
            (o := operator.get("before")) and (o.get("status") or {}).get("phase") == "Resized-4"
        ),
    )
    # each handler ran as often as without faults: nothing was handled twice
    names = operator.seen.names()
    assert names.count("update") == 1
    assert names.count("create") == 4  # two gizmos: the failed try and the retry each
