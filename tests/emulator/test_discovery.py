"""Discovery as kube-apiserver serves it, read through the `kubernetes` client."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

from kube_emulator import Sandbox

from .builders import GROUP, KIND, PLURAL, VERSION, widget
from .conftest import CRD_NAME, WIDGETS, api_request, expect_request_error

# group/version, resource, namespaced, kind, short names, categories, subresources
EXPECTED: list[tuple[str, str, bool, str, set[str], set[str], dict[str, tuple[str, str]]]] = [
    ("v1", "namespaces", False, "Namespace", {"ns"}, set(), {"status": ("", "Namespace")}),
    (
        "v1",
        "pods",
        True,
        "Pod",
        {"po"},
        {"all"},
        {"status": ("", "Pod"), "eviction": ("policy/v1", "Eviction"), "log": ("", "Pod")},
    ),
    ("v1", "configmaps", True, "ConfigMap", {"cm"}, set(), {}),
    ("v1", "secrets", True, "Secret", set(), set(), {}),
    ("v1", "services", True, "Service", {"svc"}, {"all"}, {"status": ("", "Service")}),
    ("v1", "events", True, "Event", {"ev"}, set(), {}),
    ("events.k8s.io/v1", "events", True, "Event", {"ev"}, set(), {}),
    (
        "apps/v1",
        "deployments",
        True,
        "Deployment",
        {"deploy"},
        {"all"},
        {"status": ("", "Deployment"), "scale": ("autoscaling/v1", "Scale")},
    ),
    (
        "apps/v1",
        "replicasets",
        True,
        "ReplicaSet",
        {"rs"},
        {"all"},
        {"status": ("", "ReplicaSet"), "scale": ("autoscaling/v1", "Scale")},
    ),
    (
        "apps/v1",
        "statefulsets",
        True,
        "StatefulSet",
        {"sts"},
        {"all"},
        {"status": ("", "StatefulSet"), "scale": ("autoscaling/v1", "Scale")},
    ),
    (
        "autoscaling/v2",
        "horizontalpodautoscalers",
        True,
        "HorizontalPodAutoscaler",
        {"hpa"},
        {"all"},
        {"status": ("", "HorizontalPodAutoscaler")},
    ),
    (
        "policy/v1",
        "poddisruptionbudgets",
        True,
        "PodDisruptionBudget",
        {"pdb"},
        set(),
        {"status": ("", "PodDisruptionBudget")},
    ),
    ("batch/v1", "cronjobs", True, "CronJob", {"cj"}, {"all"}, {"status": ("", "CronJob")}),
    ("networking.k8s.io/v1", "networkpolicies", True, "NetworkPolicy", {"netpol"}, set(), {}),
    ("coordination.k8s.io/v1", "leases", True, "Lease", set(), set(), {}),
    (
        "apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        False,
        "CustomResourceDefinition",
        {"crd", "crds"},
        {"api-extensions"},
        {"status": ("", "CustomResourceDefinition")},
    ),
    (
        "admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
        False,
        "ValidatingWebhookConfiguration",
        set(),
        {"api-extensions"},
        {},
    ),
    (
        "admissionregistration.k8s.io/v1",
        "mutatingwebhookconfigurations",
        False,
        "MutatingWebhookConfiguration",
        set(),
        {"api-extensions"},
        {},
    ),
]
ALL_VERBS = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}


def resource_list(api_client: client.ApiClient, group_version: str) -> dict[str, Any]:
    path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    body: dict[str, Any] = api_request(api_client, "GET", path)
    return body


def test_version_endpoint_reports_a_kubernetes_version(api_client: client.ApiClient) -> None:
    info = client.VersionApi(api_client).get_code()
    assert info.major == "1"
    assert int(info.minor) >= 28
    assert info.git_version.startswith("v1.")
    assert info.platform


def test_core_api_versions_lists_v1(api_client: client.ApiClient) -> None:
    versions = client.CoreApi(api_client).get_api_versions()
    assert versions.versions == ["v1"]


def test_api_groups_list_every_group_with_a_preferred_version(
    api_client: client.ApiClient,
) -> None:
    groups = {g.name: g for g in client.ApisApi(api_client).get_api_versions().groups}
    for group_version, *_ in EXPECTED:
        if "/" in group_version:
            group, version = group_version.split("/")
            assert group in groups, group
            assert version in [v.version for v in groups[group].versions]
            assert groups[group].preferred_version.group_version == f"{group}/{version}"


def test_api_group_endpoint_describes_one_group(api_client: client.ApiClient) -> None:
    group = client.AppsApi(api_client).get_api_group()
    assert group.name == "apps"
    assert group.preferred_version.group_version == "apps/v1"


@pytest.mark.parametrize(
    ("group_version", "plural", "namespaced", "kind", "short", "categories", "subresources"),
    EXPECTED,
    ids=[f"{e[0]}/{e[1]}" for e in EXPECTED],
)
def test_resource_list_describes_resource_and_subresources(
    backend: str,
    api_client: client.ApiClient,
    group_version: str,
    plural: str,
    namespaced: bool,
    kind: str,
    short: set[str],
    categories: set[str],
    subresources: dict[str, tuple[str, str]],
) -> None:
    body = resource_list(api_client, group_version)
    assert body["kind"] == "APIResourceList"
    assert body["groupVersion"] == group_version
    entries = {r["name"]: r for r in body["resources"]}
    main = entries[plural]
    assert main["kind"] == kind
    assert main["namespaced"] is namespaced
    assert set(main.get("shortNames") or []) == short
    assert set(main.get("categories") or []) == categories
    expected_verbs = ALL_VERBS - ({"deletecollection"} if plural == "namespaces" else set())
    assert set(main["verbs"]) == expected_verbs
    listed_subresources = {n.split("/", 1)[1] for n in entries if n.startswith(plural + "/")}
    # deliberate: the emulator lists only the subresources it serves (no pods/exec, log,
    # binding, ..., no namespaces/finalize, no services/proxy)
    if backend == "emulator":
        assert listed_subresources == set(subresources)
    else:
        assert set(subresources) <= listed_subresources
    for sub, (sub_gv, sub_kind) in subresources.items():
        entry = entries[f"{plural}/{sub}"]
        assert entry["kind"] == sub_kind
        assert entry["namespaced"] is namespaced
        if sub_gv:
            assert f"{entry['group']}/{entry['version']}" == sub_gv
        else:
            assert "group" not in entry or entry["group"] in ("", None)
        expected = {"eviction": {"create"}, "log": {"get"}}.get(sub, {"get", "patch", "update"})
        assert set(entry["verbs"]) == expected


def test_core_resources_are_listed_by_the_typed_client(core: client.CoreV1Api) -> None:
    names = {r.name for r in core.get_api_resources().resources}
    assert {"pods", "pods/status", "pods/eviction", "configmaps", "namespaces"} <= names


def test_dynamic_client_resolves_resources_through_discovery(
    api_client: client.ApiClient,
) -> None:
    dyn = dynamic.DynamicClient(api_client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.name == "deployments"
    assert deployments.namespaced
    assert set(deployments.subresources) == {"status", "scale"}
    assert deployments.subresources["scale"].kind == "Scale"
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    assert pods.subresources["eviction"].kind == "Eviction"


def test_unknown_group_version_is_404(api_client: client.ApiClient) -> None:
    with pytest.raises(ApiException) as info:  # outside every group: a plain-text 404
        api_request(api_client, "GET", "/apis/nope.example.com/v1")
    assert info.value.status == 404
    assert info.value.body == "404 page not found\n"
    body = expect_request_error(404, api_client, "GET", "/apis/apps/v9")
    assert body["reason"] == "NotFound"


def test_crd_posted_through_the_api_appears_in_discovery(
    api_client: client.ApiClient, widget_crd_created: dict[str, Any]
) -> None:
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert GROUP in groups
    body = resource_list(api_client, f"{GROUP}/{VERSION}")
    entries = {r["name"]: r for r in body["resources"]}
    assert entries[PLURAL]["kind"] == KIND
    assert entries[PLURAL]["namespaced"] is True
    assert entries[PLURAL]["shortNames"] == ["wd"]
    assert set(entries[PLURAL]["categories"]) == {"all", "remediator"}
    assert set(entries[PLURAL]["verbs"]) == ALL_VERBS
    assert entries[f"{PLURAL}/status"]["kind"] == KIND
    scale = entries[f"{PLURAL}/scale"]
    assert (scale["kind"], scale["group"], scale["version"]) == ("Scale", "autoscaling", "v1")


def test_crd_is_established_with_accepted_names(
    ext: client.ApiextensionsV1Api, widget_crd_created: dict[str, Any]
) -> None:
    crd = ext.read_custom_resource_definition(CRD_NAME)
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd.status.accepted_names.kind == KIND
    assert crd.status.stored_versions == [VERSION]


@pytest.mark.emulator_only(
    reason="deliberate: the emulator deletes a CRD and its objects at once; kube-apiserver's "
    "finalizer does it a moment later"
)
def test_deleted_crd_disappears_from_discovery_with_its_objects(
    sandbox: Sandbox,
    api_client: client.ApiClient,
    ext: client.ApiextensionsV1Api,
    custom: client.CustomObjectsApi,
    widget_crd_created: dict[str, Any],
) -> None:
    custom.create_namespaced_custom_object(
        *WIDGETS,
        widget(size=1),
    )
    ext.delete_custom_resource_definition(CRD_NAME)
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert GROUP not in groups
    with pytest.raises(ApiException) as gone:  # the group's gone: a plain-text 404
        resource_list(api_client, f"{GROUP}/{VERSION}")
    assert gone.value.status == 404
    with pytest.raises(ApiException) as listed:
        custom.list_namespaced_custom_object(*WIDGETS)
    assert listed.value.status == 404
    # Recreated, the resource starts empty: the old objects went with the CRD.
    api_request(
        api_client,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        body=widget_crd_created | {"metadata": {"name": CRD_NAME}, "status": {}},
    )
    assert custom.list_namespaced_custom_object(*WIDGETS)["items"] == []
