"""RBAC authorization as kube-apiserver evaluates it, through the real clients.

`Sandbox(authorization="RBAC")` allows a request only when a rule of a role bound to the
caller covers it: Roles and ClusterRoles, bound by RoleBindings (in their namespace only,
also to a ClusterRole) and ClusterRoleBindings, to users, groups and ServiceAccounts.
Refusals are kube's 403 Status, word for word.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from kube_emulator import Sandbox
from kube_emulator.rbac import Attributes, rule_allows

from .builders import GROUP, PLURAL, VERSION
from .conftest import api_request, expect_error, widget_crd

RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass
class Cluster:
    box: Sandbox
    admin: client.ApiClient
    tmp: Path

    def as_user(self, name: str, groups: tuple[str, ...] = ()) -> client.ApiClient:
        path = self.box.kubeconfig_for(name, self.tmp / f"{name}.kubeconfig", groups)
        return config.new_client_from_config(config_file=str(path))

    def as_service_account(self, namespace: str, name: str) -> client.ApiClient:
        path = self.box.kubeconfig_for_service_account(
            namespace, name, self.tmp / f"sa-{namespace}-{name}.kubeconfig"
        )
        return config.new_client_from_config(config_file=str(path))

    @property
    def rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.admin)

    def role(self, namespace: str, name: str, *rules: dict[str, Any]) -> None:
        self.rbac.create_namespaced_role(
            namespace, {"metadata": {"name": name}, "rules": list(rules)}
        )

    def cluster_role(self, name: str, *rules: dict[str, Any]) -> None:
        self.rbac.create_cluster_role({"metadata": {"name": name}, "rules": list(rules)})

    def bind(
        self, namespace: str, role: str, *subjects: dict[str, Any], kind: str = "Role"
    ) -> None:
        self.rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": f"{role}-binding"},
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": role},
                "subjects": list(subjects),
            },
        )

    def cluster_bind(self, role: str, *subjects: dict[str, Any]) -> None:
        self.rbac.create_cluster_role_binding(
            {
                "metadata": {"name": f"{role}-binding"},
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
                "subjects": list(subjects),
            }
        )

    def configmap(self, namespace: str, name: str) -> None:
        client.CoreV1Api(self.admin).create_namespaced_config_map(
            namespace, {"metadata": {"name": name}, "data": {"k": "v"}}
        )


def user(name: str) -> dict[str, str]:
    return {"apiGroup": RBAC_GROUP, "kind": "User", "name": name}


def group(name: str) -> dict[str, str]:
    return {"apiGroup": RBAC_GROUP, "kind": "Group", "name": name}


def rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


def request(
    verb: str, group: str, resource: str, subresource: str = "", *, name: str = ""
) -> dict[str, Any]:
    """The Attributes of a resource request."""
    attrs = {"verb": verb, "group": group, "resource": resource, "subresource": subresource}
    return {**attrs, "name": name}


def path_request(verb: str, path: str) -> dict[str, Any]:
    """The Attributes of a non-resource request."""
    return {"verb": verb, "resource_request": False, "path": path}


def forbidden(fn: Any, *args: Any, **kwargs: Any) -> str:
    body = expect_error(403, fn, *args, **kwargs)
    assert body["reason"] == "Forbidden"
    message: str = body["message"]
    return message


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Sandbox(
        kubeconfig=tmp_path / "kubeconfig",
        bookmark_interval=0.2,
        controllers=False,
        anonymous_is_admin=False,
        authorization="RBAC",
    ) as box:
        admin = config.new_client_from_config(config_file=str(box.kubeconfig))
        core = client.CoreV1Api(admin)
        for ns in ("shop", "other"):
            core.create_namespace({"metadata": {"name": ns}})
        yield Cluster(box, admin, tmp_path)
        admin.close()


# ------------------------------------------------------------------ refusals
def test_an_unbound_user_is_refused_with_kube_apiservers_message(cluster: Cluster) -> None:
    core = client.CoreV1Api(cluster.as_user("alice"))
    assert forbidden(core.list_namespaced_pod, "shop") == (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
        'in the namespace "shop"'
    )
    body = expect_error(403, core.read_namespaced_config_map, "cm", "shop")
    assert body["message"] == (
        'configmaps "cm" is forbidden: User "alice" cannot get resource "configmaps" '
        'in API group "" in the namespace "shop"'
    )
    assert body["details"] == {"name": "cm", "kind": "configmaps"}
    assert forbidden(core.list_namespace) == (
        'namespaces is forbidden: User "alice" cannot list resource "namespaces" '
        'in API group "" at the cluster scope'
    )
    apps = client.AppsV1Api(cluster.as_user("alice"))
    body = expect_error(403, apps.patch_namespaced_deployment_scale, "web", "shop", {})
    assert body["message"] == (
        'deployments.apps "web" is forbidden: User "alice" cannot patch resource '
        '"deployments/scale" in API group "apps" in the namespace "shop"'
    )
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


def test_refused_writes_change_nothing_and_are_not_logged(cluster: Cluster) -> None:
    cluster.configmap("shop", "cm")
    cluster.role("shop", "reader", rule([""], ["configmaps"], ["get"]))
    cluster.bind("shop", "reader", user("alice"))
    before = len(cluster.box.writes())
    core = client.CoreV1Api(cluster.as_user("alice"))
    forbidden(core.patch_namespaced_config_map, "cm", "shop", {"data": {"k": "changed"}})
    forbidden(core.delete_namespaced_config_map, "cm", "shop")
    forbidden(core.create_namespaced_config_map, "shop", {"metadata": {"name": "new"}})
    assert core.read_namespaced_config_map("cm", "shop").data == {"k": "v"}
    assert len(cluster.box.writes()) == before


# --------------------------------------------------------------- rule shapes
def test_a_role_grants_its_verbs_in_its_namespace_only(cluster: Cluster) -> None:
    cluster.configmap("shop", "cm")
    cluster.configmap("other", "cm")
    cluster.role("shop", "reader", rule([""], ["configmaps"], ["get", "list"]))
    cluster.bind("shop", "reader", user("alice"))
    core = client.CoreV1Api(cluster.as_user("alice"))
    assert core.read_namespaced_config_map("cm", "shop").data == {"k": "v"}
    assert [c.metadata.name for c in core.list_namespaced_config_map("shop").items] == ["cm"]
    assert "cannot patch resource" in forbidden(
        core.patch_namespaced_config_map, "cm", "shop", {"data": {}}
    )
    assert 'in the namespace "other"' in forbidden(core.read_namespaced_config_map, "cm", "other")
    assert "at the cluster scope" in forbidden(core.list_config_map_for_all_namespaces)
    # another user gets nothing from alice's binding; the wrong group neither
    bob = client.CoreV1Api(cluster.as_user("bob"))
    forbidden(bob.read_namespaced_config_map, "cm", "shop")
    forbidden(client.AppsV1Api(cluster.as_user("alice")).list_namespaced_deployment, "shop")


def test_a_rolebinding_to_a_clusterrole_grants_only_in_the_bindings_namespace(
    cluster: Cluster,
) -> None:
    cluster.configmap("shop", "cm")
    cluster.configmap("other", "cm")
    cluster.cluster_role("configmap-reader", rule([""], ["configmaps"], ["get", "list"]))
    cluster.bind("shop", "configmap-reader", user("alice"), kind="ClusterRole")
    core = client.CoreV1Api(cluster.as_user("alice"))
    assert core.read_namespaced_config_map("cm", "shop").data == {"k": "v"}
    forbidden(core.read_namespaced_config_map, "cm", "other")
    forbidden(core.list_config_map_for_all_namespaces)


def test_a_clusterrolebinding_grants_everywhere_and_at_cluster_scope(cluster: Cluster) -> None:
    cluster.configmap("shop", "cm")
    cluster.configmap("other", "cm")
    cluster.cluster_role(
        "reader",
        rule([""], ["configmaps"], ["get", "list"]),
        rule([""], ["namespaces"], ["list"]),
    )
    cluster.cluster_bind("reader", user("alice"))
    core = client.CoreV1Api(cluster.as_user("alice"))
    assert core.read_namespaced_config_map("cm", "other").data == {"k": "v"}
    listed = core.list_config_map_for_all_namespaces().items
    assert {(c.metadata.namespace, c.metadata.name) for c in listed} >= {
        ("shop", "cm"),
        ("other", "cm"),
    }
    assert "shop" in [n.metadata.name for n in core.list_namespace().items]


def test_subresources_need_rules_of_their_own(cluster: Cluster) -> None:
    api_request(
        cluster.admin,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        body=widget_crd(),
    )
    custom_admin = client.CustomObjectsApi(cluster.admin)
    custom_admin.create_namespaced_custom_object(
        GROUP,
        VERSION,
        "shop",
        PLURAL,
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 1, "replicas": 1},
        },
    )
    cluster.role(
        "shop",
        "main-only",
        rule([GROUP], [PLURAL], ["get", "patch"]),
        rule([""], ["pods"], ["get"]),
    )
    cluster.bind("shop", "main-only", user("alice"))
    custom = client.CustomObjectsApi(cluster.as_user("alice"))
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, "shop", PLURAL, "w", {"spec": {"size": 2}}
    )
    assert forbidden(
        custom.patch_namespaced_custom_object_status,
        GROUP,
        VERSION,
        "shop",
        PLURAL,
        "w",
        {"status": {"phase": "x"}},
    ) == (
        f'{PLURAL}.{GROUP} "w" is forbidden: User "alice" cannot patch resource '
        f'"{PLURAL}/status" in API group "{GROUP}" in the namespace "shop"'
    )
    assert f'"{PLURAL}/scale"' in forbidden(
        custom.get_namespaced_custom_object_scale, GROUP, VERSION, "shop", PLURAL, "w"
    )
    core = client.CoreV1Api(cluster.as_user("alice"))
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}}
    assert forbidden(core.create_namespaced_pod_eviction, "p", "shop", eviction) == (
        'pods "p" is forbidden: User "alice" cannot create resource "pods/eviction" '
        'in API group "" in the namespace "shop"'
    )
    # the subresource rule alone grants the subresource, not the object
    cluster.role(
        "shop",
        "sub-only",
        rule([GROUP], [f"{PLURAL}/status"], ["patch"]),
        rule([GROUP], ["*/scale"], ["get"]),
        rule([""], ["pods/eviction"], ["create"]),
    )
    cluster.bind("shop", "sub-only", user("bob"))
    bob = client.CustomObjectsApi(cluster.as_user("bob"))
    patched = bob.patch_namespaced_custom_object_status(
        GROUP, VERSION, "shop", PLURAL, "w", {"status": {"phase": "x"}}
    )
    assert patched["status"]["phase"] == "x"
    assert bob.get_namespaced_custom_object_scale(GROUP, VERSION, "shop", PLURAL, "w")
    forbidden(bob.get_namespaced_custom_object, GROUP, VERSION, "shop", PLURAL, "w")
    # eviction is authorized, then answered (the pod does not exist)
    expect_error(
        404,
        client.CoreV1Api(cluster.as_user("bob")).create_namespaced_pod_eviction,
        "p",
        "shop",
        eviction,
    )


def test_resource_names_restrict_a_rule_to_named_objects(cluster: Cluster) -> None:
    cluster.configmap("shop", "allowed")
    cluster.configmap("shop", "secret-ish")
    cluster.role(
        "shop",
        "one",
        rule(
            [""],
            ["configmaps"],
            ["get", "patch", "list", "watch", "create"],
            resourceNames=["allowed"],
        ),
    )
    cluster.bind("shop", "one", user("alice"))
    alice = cluster.as_user("alice")
    core = client.CoreV1Api(alice)
    assert core.read_namespaced_config_map("allowed", "shop").data == {"k": "v"}
    core.patch_namespaced_config_map("allowed", "shop", {"data": {"k": "w"}})
    forbidden(core.read_namespaced_config_map, "secret-ish", "shop")
    # a list has no name, unless its fieldSelector picks one (kube authorizes that name)
    forbidden(core.list_namespaced_config_map, "shop")
    listed = core.list_namespaced_config_map("shop", field_selector="metadata.name=allowed")
    assert [c.metadata.name for c in listed.items] == ["allowed"]
    forbidden(core.list_namespaced_config_map, "shop", field_selector="metadata.name=secret-ish")
    watched = api_request(
        alice,
        "GET",
        "/api/v1/namespaces/shop/configmaps",
        query=[
            ("watch", "true"),
            ("fieldSelector", "metadata.name=allowed"),
            ("timeoutSeconds", "1"),
        ],
    )
    assert watched["object"]["metadata"]["name"] == "allowed"
    # a create names no object on its URL: resourceNames cannot grant it
    forbidden(core.create_namespaced_config_map, "shop", {"metadata": {"name": "allowed2"}})


def test_wildcards_grant_every_verb_resource_and_group(cluster: Cluster) -> None:
    cluster.configmap("shop", "cm")
    cluster.role("shop", "all", rule(["*"], ["*"], ["*"]))
    cluster.bind("shop", "all", user("alice"))
    cluster.role("shop", "any-verb", rule([""], ["configmaps"], ["*"]))
    cluster.bind("shop", "any-verb", user("bob"))
    alice = cluster.as_user("alice")
    client.CoreV1Api(alice).delete_namespaced_config_map("cm", "shop")
    client.AppsV1Api(alice).list_namespaced_deployment("shop")
    client.CustomObjectsApi(alice).list_namespaced_custom_object(
        "policy", "v1", "shop", "poddisruptionbudgets"
    )
    # subresources too: authorized, then answered (there is no such deployment)
    expect_error(404, client.AppsV1Api(alice).read_namespaced_deployment_scale, "web", "shop")
    bob = client.CoreV1Api(cluster.as_user("bob"))
    bob.create_namespaced_config_map("shop", {"metadata": {"name": "cm"}})
    bob.delete_namespaced_config_map("cm", "shop")
    forbidden(bob.list_namespaced_secret, "shop")
    # "*" in apiGroups with a resource list matches that resource in any group only
    cluster.cluster_role("events-anywhere", rule(["*"], ["events"], ["list"]))
    cluster.cluster_bind("events-anywhere", user("carol"))
    carol = cluster.as_user("carol")
    client.CoreV1Api(carol).list_namespaced_event("shop")
    client.EventsV1Api(carol).list_namespaced_event("shop")
    forbidden(client.CoreV1Api(carol).list_namespaced_pod, "shop")


@pytest.mark.parametrize(
    ("rule_", "attrs", "allowed"),
    [
        (rule(["apps"], ["deployments"], ["get"]), request("get", "apps", "deployments"), True),
        (rule(["apps"], ["deployments"], ["get"]), request("get", "", "deployments"), False),
        (
            rule(["apps"], ["deployments"], ["get"]),
            request("get", "apps", "deployments", "scale"),
            False,
        ),
        (
            rule(["apps"], ["deployments/scale"], ["patch"]),
            request("patch", "apps", "deployments", "scale"),
            True,
        ),
        (
            rule(["apps"], ["*/scale"], ["patch"]),
            request("patch", "apps", "statefulsets", "scale"),
            True,
        ),
        (rule(["apps"], ["*/scale"], ["patch"]), request("patch", "apps", "statefulsets"), False),
        (
            rule(["apps"], ["*"], ["patch"]),
            request("patch", "apps", "statefulsets", "status"),
            True,
        ),
        (
            rule([""], ["pods"], ["get"], resourceNames=["a"]),
            request("get", "", "pods", name="a"),
            True,
        ),
        (
            rule([""], ["pods"], ["get"], resourceNames=["a"]),
            request("get", "", "pods", name="b"),
            False,
        ),
        (rule([""], ["pods"], ["list"], resourceNames=["a"]), request("list", "", "pods"), False),
        (
            {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
            path_request("get", "/healthz"),
            True,
        ),
        (
            {"nonResourceURLs": ["/apis/*"], "verbs": ["get"]},
            path_request("get", "/apis/apps/v1"),
            True,
        ),
        (
            {"nonResourceURLs": ["/apis/*"], "verbs": ["get"]},
            path_request("post", "/apis/apps"),
            False,
        ),
        ({"nonResourceURLs": ["*"], "verbs": ["*"]}, path_request("get", "/metrics"), True),
        # a resource rule never grants a path, nor a path rule a resource
        (rule(["*"], ["*"], ["*"]), path_request("get", "/metrics"), False),
        ({"nonResourceURLs": ["*"], "verbs": ["*"]}, request("get", "", "pods"), False),
    ],
)
def test_rule_shapes(rule_: dict[str, Any], attrs: dict[str, Any], allowed: bool) -> None:
    assert rule_allows(rule_, Attributes(user="u", groups=(), **attrs)) is allowed


# ------------------------------------------------------------------ subjects
def test_group_subjects_and_system_authenticated(cluster: Cluster) -> None:
    cluster.configmap("shop", "cm")
    cluster.role("shop", "sre-reader", rule([""], ["configmaps"], ["get"]))
    cluster.bind("shop", "sre-reader", group("sre"))
    assert client.CoreV1Api(cluster.as_user("alice", ("sre",))).read_namespaced_config_map(
        "cm", "shop"
    )
    forbidden(
        client.CoreV1Api(cluster.as_user("bob", ("dev",))).read_namespaced_config_map, "cm", "shop"
    )
    cluster.role("shop", "everyone", rule([""], ["configmaps"], ["list"]))
    cluster.bind("shop", "everyone", group("system:authenticated"))
    client.CoreV1Api(cluster.as_user("bob", ("dev",))).list_namespaced_config_map("shop")
    # system:anonymous is not authenticated
    anonymous = client.ApiClient(client.Configuration(host=cluster.box.url))
    assert 'User "system:anonymous" cannot list' in forbidden(
        client.CoreV1Api(anonymous).list_namespaced_config_map, "shop"
    )


def test_service_account_subjects(cluster: Cluster) -> None:
    cluster.configmap("shop", "cm")
    cluster.role("shop", "reader", rule([""], ["configmaps"], ["get"]))
    # without a namespace, a RoleBinding's ServiceAccount subject is of its own namespace
    cluster.bind("shop", "reader", {"kind": "ServiceAccount", "name": "bot"})
    bot = client.CoreV1Api(cluster.as_service_account("shop", "bot"))
    assert bot.read_namespaced_config_map("cm", "shop").data == {"k": "v"}
    stranger = client.CoreV1Api(cluster.as_service_account("other", "bot"))
    assert 'User "system:serviceaccount:other:bot" cannot get' in forbidden(
        stranger.read_namespaced_config_map, "cm", "shop"
    )
    # a ClusterRoleBinding names the namespace; the SA groups work as subjects too
    cluster.cluster_role("lister", rule([""], ["configmaps"], ["list"]))
    cluster.cluster_bind("lister", {"kind": "ServiceAccount", "name": "bot", "namespace": "other"})
    stranger.list_config_map_for_all_namespaces()
    cluster.role("shop", "sa-group", rule([""], ["configmaps"], ["patch"]))
    cluster.bind("shop", "sa-group", group("system:serviceaccounts:shop"))
    client.CoreV1Api(cluster.as_service_account("shop", "other-bot")).patch_namespaced_config_map(
        "cm", "shop", {"data": {"k": "w"}}
    )
    forbidden(stranger.patch_namespaced_config_map, "cm", "shop", {"data": {"k": "x"}})
    # the token alone, without a kubeconfig, is the same identity
    token = cluster.box.add_service_account("shop", "bot")
    configuration = client.Configuration(host=cluster.box.url)
    configuration.api_key = {"authorization": f"Bearer {token}"}
    raw = client.CoreV1Api(client.ApiClient(configuration))
    assert raw.read_namespaced_config_map("cm", "shop").metadata.name == "cm"
    # a User subject with the service account's username matches it too
    cluster.role("shop", "by-name", rule([""], ["configmaps"], ["delete"]))
    cluster.bind("shop", "by-name", user("system:serviceaccount:shop:bot"))
    bot.delete_namespaced_config_map("cm", "shop")


def test_system_masters_bypass_rbac(cluster: Cluster) -> None:
    root = client.CoreV1Api(cluster.as_user("root", ("system:masters",)))
    root.create_namespaced_secret("shop", {"metadata": {"name": "s"}})
    assert [n.metadata.name for n in root.list_namespace().items]
    assert cluster.box.writes()[-1].user == "root"


def test_watch_needs_the_watch_verb(cluster: Cluster) -> None:
    cluster.role("shop", "lister", rule([""], ["configmaps"], ["list"]))
    cluster.bind("shop", "lister", user("alice"))
    alice = cluster.as_user("alice")
    client.CoreV1Api(alice).list_namespaced_config_map("shop")
    with pytest.raises(ApiException) as info:
        api_request(
            alice,
            "GET",
            "/api/v1/namespaces/shop/configmaps",
            query=[("watch", "true"), ("timeoutSeconds", "1")],
        )
    assert info.value.status == 403
    assert json.loads(info.value.body)["message"] == (
        'configmaps is forbidden: User "alice" cannot watch resource "configmaps" '
        'in API group "" in the namespace "shop"'
    )


def test_a_binding_to_a_missing_role_says_so(cluster: Cluster) -> None:
    cluster.bind("shop", "ghost", user("alice"))
    message = forbidden(client.CoreV1Api(cluster.as_user("alice")).list_namespaced_pod, "shop")
    assert message == (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
        'in the namespace "shop": RBAC: role.rbac.authorization.k8s.io "ghost" not found'
    )


# --------------------------------------------------------------- non-resource
def get(url: str, token: str | None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            data = response.read()
            return response.status, json.loads(data) if data.startswith(b"{") else data
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize(
    "path", ["/api", "/api/v1", "/apis", "/apis/apps/v1", "/version", "/openapi/v3", "/healthz"]
)
def test_discovery_is_allowed_to_authenticated_users(cluster: Cluster, path: str) -> None:
    token = cluster.box.add_user("nobody")
    status, _ = get(cluster.box.url + path, token)
    assert status == 200


def test_discovery_is_refused_to_anonymous_and_other_paths_to_users(cluster: Cluster) -> None:
    status, body = get(cluster.box.url + "/api", None)
    assert status == 403
    assert body["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
    assert body["details"] == {}
    assert get(cluster.box.url + "/healthz", None)[0] == 200  # system:public-info-viewer
    status, body = get(cluster.box.url + "/metrics", cluster.box.add_user("nobody"))
    assert status == 403
    assert body["message"] == 'forbidden: User "nobody" cannot get path "/metrics"'


def test_the_bootstrap_policy_is_stored_like_kube_apiservers(cluster: Cluster) -> None:
    names = {r.metadata.name for r in cluster.rbac.list_cluster_role().items}
    assert {"cluster-admin", "system:discovery", "system:basic-user"} <= names
    # binding cluster-admin to a user makes an admin of it
    cluster.cluster_bind("cluster-admin", user("alice"))
    client.CoreV1Api(cluster.as_user("alice")).create_namespace({"metadata": {"name": "new"}})


# -------------------------------------------------------------- access review
def review(api: client.ApiClient, **attributes: str) -> dict[str, Any]:
    result: dict[str, Any] = api_request(
        api,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body={
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        },
    )
    return result


def test_self_subject_access_review_answers_for_the_caller(cluster: Cluster) -> None:
    cluster.role("shop", "scaler", rule(["apps"], ["deployments/scale"], ["patch"]))
    cluster.bind("shop", "scaler", user("alice"))
    alice = cluster.as_user("alice")
    yes = review(
        alice,
        namespace="shop",
        verb="patch",
        group="apps",
        resource="deployments",
        subresource="scale",
        name="web",
    )
    assert yes["kind"] == "SelfSubjectAccessReview"
    assert yes["status"]["allowed"] is True
    assert yes["status"]["reason"] == (
        'RBAC: allowed by RoleBinding "scaler-binding/shop" of Role "scaler" to User "alice"'
    )
    no = review(alice, namespace="shop", verb="patch", group="apps", resource="deployments")
    assert no["status"] == {"allowed": False}
    assert review(cluster.admin, verb="delete", resource="nodes")["status"]["allowed"] is True
    # a review is no write
    assert not [w for w in cluster.box.writes() if w.resource == "selfsubjectaccessreviews"]


def test_impersonation_needs_the_impersonate_verb(cluster: Cluster) -> None:
    cluster.configmap("shop", "cm")
    cluster.role("shop", "reader", rule([""], ["configmaps"], ["get"]))
    cluster.bind("shop", "reader", user("bob"))
    alice = cluster.as_user("alice")
    alice.set_default_header("Impersonate-User", "bob")
    core = client.CoreV1Api(alice)
    assert forbidden(core.read_namespaced_config_map, "cm", "shop") == (
        'users "bob" is forbidden: User "alice" cannot impersonate resource "users" '
        'in API group "" at the cluster scope'
    )
    cluster.cluster_role("as-bob", rule([""], ["users"], ["impersonate"], resourceNames=["bob"]))
    cluster.cluster_bind("as-bob", user("alice"))
    assert core.read_namespaced_config_map("cm", "shop").data == {"k": "v"}
    forbidden(core.delete_namespaced_config_map, "cm", "shop")  # bob's rights, not more
    alice.set_default_header("Impersonate-User", "carol")
    forbidden(core.read_namespaced_config_map, "cm", "shop")


@pytest.mark.kubectl
def test_kubectl_auth_can_i_and_forbidden_errors(tmp_path: Path) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed on this machine")
    # kubectl sends no token over plain HTTP: it is the (admin) anonymous user here, and
    # acts as alice by impersonation (`--as`), which the admin may do
    with Sandbox(kubeconfig=tmp_path / "kubeconfig", authorization="RBAC") as box:
        cluster = Cluster(box, config.new_client_from_config(str(box.kubeconfig)), tmp_path)
        client.CoreV1Api(cluster.admin).create_namespace({"metadata": {"name": "shop"}})
        cluster.role("shop", "scaler", rule(["apps"], ["deployments/scale"], ["patch"]))
        cluster.bind("shop", "scaler", user("alice"))

        def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    "kubectl",
                    f"--kubeconfig={box.kubeconfig}",
                    f"--cache-dir={tmp_path / 'cache'}",
                    "--as=alice",
                    *args,
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )

        can = kubectl("auth", "can-i", "patch", "deployments", "--subresource=scale", "-n", "shop")
        assert (can.returncode, can.stdout.strip()) == (0, "yes"), can.stderr
        cannot = kubectl("auth", "can-i", "patch", "deployments", "-n", "shop")
        assert (cannot.returncode, cannot.stdout.strip()) == (1, "no"), cannot.stderr
        elsewhere = kubectl("auth", "can-i", "patch", "deployments/scale", "-n", "default")
        assert elsewhere.stdout.strip() == "no"
        path = kubectl("auth", "can-i", "get", "/version")
        assert path.stdout.strip() == "yes", path.stderr
        listed = kubectl("get", "pods", "-n", "shop")
        assert listed.returncode == 1
        assert (
            'Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource '
            '"pods" in API group "" in the namespace "shop"'
        ) in listed.stderr
        cluster.admin.close()


# ---------------------------------------------------------------- the default
@pytest.mark.emulator_only(
    reason="the emulator's own default (AlwaysAllow); kube-apiserver runs RBAC"
)
def test_always_allow_is_the_default(sandbox: Sandbox, tmp_path: Path) -> None:
    assert sandbox.authorization == "AlwaysAllow"
    path = sandbox.kubeconfig_for("alice", tmp_path / "alice")
    alice = config.new_client_from_config(config_file=str(path))
    client.CoreV1Api(alice).create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    assert review(alice, verb="delete", resource="nodes")["status"]["allowed"] is True


def test_an_unknown_authorization_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="authorization mode"):
        Sandbox(authorization="ABAC")  # type: ignore[arg-type]
