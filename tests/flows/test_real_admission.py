"""Real admission and real identities, on the real control plane only.

kube-apiserver calls the operator's webhooks over HTTPS: with no certificate given, the
operator serves a self-signed one and registers it as the webhooks' CA bundle (the API server
refuses plain HTTP, and verifies the certificate). The users are client certificates signed by
the cluster's CA, and what they may do is decided by real RBAC: the approver is stamped from
the `userInfo` the API server authenticated, never from the request.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from remediator_devtools.testing import OperatorThread
from support.policies import GROUP, VERSION, incident_spec

from .conftest import NS, Cluster, timeline

pytestmark = pytest.mark.real_only(
    reason="kube-apiserver's TLS webhook calls, RBAC and client-certificate users"
)


def _user_api(
    cluster: Cluster, tmp_path: Path, name: str, groups: tuple[str, ...] = (), rbac: bool = True
) -> client.ApiClient:
    """A client authenticated by a certificate for `name` in `groups`; with `rbac`, a Role
    that lets it read Incidents and create Approvals in the namespace, and nothing else."""
    from real.backend import RealBox

    assert isinstance(cluster.box, RealBox)
    plane = cluster.box.plane
    kubeconfig = plane.user_kubeconfig(name, tmp_path / f"{name}.kubeconfig", groups)
    if rbac:
        rbac_api = client.RbacAuthorizationV1Api(cluster.api)
        rbac_api.create_namespaced_role(
            NS,
            {
                "metadata": {"name": f"approver-{name}"},
                "rules": [
                    {
                        "apiGroups": [GROUP],
                        "resources": ["incidents"],
                        "verbs": ["get", "list", "watch"],
                    },
                    {
                        "apiGroups": [GROUP],
                        "resources": ["approvals"],
                        "verbs": ["create", "get", "list"],
                    },
                ],
            },
        )
        rbac_api.create_namespaced_role_binding(
            NS,
            {
                "metadata": {"name": f"approver-{name}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": f"approver-{name}",
                },
                "subjects": [
                    {"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}
                ],
            },
        )
    return config.new_client_from_config(config_file=str(kubeconfig))


def _approval(incident: str, plan_hash: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Approval",
        "metadata": {"generateName": f"{incident}-"},
        "spec": {"incident": incident, "decision": "approve", "planHash": plan_hash, **spec},
    }


def _awaiting(cluster: Cluster) -> str:
    cluster.restart_web()
    cluster.incident("inc-1", incident_spec(severity="P1"))
    body = cluster.wait_phase("inc-1", "AwaitingApproval")
    return str(body["status"]["plan"]["hash"])


def test_webhooks_are_registered_over_https_with_their_ca_bundle(
    cluster: Cluster, operator: OperatorThread
) -> None:
    from cryptography import x509

    adm = client.AdmissionregistrationV1Api(cluster.api)
    webhooks = [
        *adm.read_mutating_webhook_configuration(GROUP).webhooks,
        *adm.read_validating_webhook_configuration(GROUP).webhooks,
    ]
    assert webhooks
    for webhook in webhooks:
        assert webhook.client_config.url.startswith("https://127.0.0.1:")
        cert = x509.load_pem_x509_certificate(base64.b64decode(webhook.client_config.ca_bundle))
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)


def test_an_approver_with_rbac_is_stamped_from_the_real_user_info(
    cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    plan_hash = _awaiting(cluster)
    mark = cluster.mark()
    with _user_api(cluster, tmp_path, "carol", ("sre",)) as api:
        created = client.CustomObjectsApi(api).create_namespaced_custom_object(
            GROUP, VERSION, NS, "approvals", _approval("inc-1", plan_hash)
        )
    # stamped by the mutating webhook, from what the API server authenticated
    assert created["spec"]["approver"] == "carol"
    assert created["spec"]["approverGroups"] == ["sre", "system:authenticated"]
    body = cluster.remediated("inc-1")
    [record] = body["status"]["approvals"]
    assert record["approver"] == "carol" and record["counted"] is True
    [write] = cluster.writes("create", "approvals", since=mark)
    assert write.user == "carol"  # the audit log's user: the certificate's


def test_a_user_without_rbac_for_approvals_gets_403(
    cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    plan_hash = _awaiting(cluster)
    with (
        _user_api(cluster, tmp_path, "mallory", ("sre",), rbac=False) as api,
        pytest.raises(client.ApiException) as refused,
    ):
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            GROUP, VERSION, NS, "approvals", _approval("inc-1", plan_hash)
        )
    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert 'User "mallory" cannot create resource "approvals"' in message, message
    assert (
        cluster.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "approvals")["items"] == []
    )
    assert cluster.get("incidents", "inc-1")["status"]["phase"] == "AwaitingApproval"


def test_a_client_that_sets_the_approver_itself_is_refused(
    cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    plan_hash = _awaiting(cluster)
    with (
        _user_api(cluster, tmp_path, "carol", ("sre",)) as api,
        pytest.raises(client.ApiException) as refused,
    ):
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            GROUP, VERSION, NS, "approvals", _approval("inc-1", plan_hash, approver="alice")
        )
    assert refused.value.status == 403
    assert "spec.approver" in str(refused.value.body)
    assert (
        cluster.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "approvals")["items"] == []
    )
    body = cluster.get("incidents", "inc-1")
    assert body["status"]["phase"] == "AwaitingApproval"
    assert "Remediated" not in timeline(body)
