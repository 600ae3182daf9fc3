"""The admission webhooks: approvers are stamped from the authenticated user, bad policies refused.

First straight at the operator's Kopf webhook server (AdmissionReview in, AdmissionReview out),
then end to end through the emulator's dynamic admission, then without the webhook in the
path: what got stored then must not be trusted (approvals) or used (policies).
"""

from __future__ import annotations

import base64
import copy
import json
import ssl
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from kube_emulator import patches
from remediator.core import approval_seal
from remediator_devtools.testing import OperatorThread
from support.kopf_registry import remediator_registry  # noqa: F401  (autouse)
from support.policies import GROUP, RESTART, VERSION, incident_spec, policy_spec

from .conftest import APPROVAL_KEY, NS, Cluster, timeline

API_VERSION = f"{GROUP}/{VERSION}"
PLAN_HASH = "0123456789abcdef"


# ---------------------------------------------------------------- helpers


# the CA bundle each webhook URL was registered with: `review` trusts it, as kube-apiserver
# does (on the real cluster the webhooks serve HTTPS with a self-signed certificate)
CA_BUNDLES: dict[str, bytes] = {}


def webhook_urls(cluster: Cluster, timeout: float = 10) -> dict[str, str]:
    """Kopf's handler id -> the URL it registered (`clientConfig.url`) once all three are in."""
    adm = client.AdmissionregistrationV1Api(cluster.api)
    expected = {"stamp-approver", "approvals-immutable", "validate-policy"}
    deadline = time.monotonic() + timeout
    urls: dict[str, str] = {}
    while time.monotonic() < deadline:
        configs = [
            *adm.list_mutating_webhook_configuration().items,
            *adm.list_validating_webhook_configuration().items,
        ]
        urls = {
            w.name.removesuffix(f".{GROUP}"): w.client_config.url
            for c in configs
            for w in c.webhooks or []
        }
        for c in configs:
            for w in c.webhooks or []:
                if w.client_config.ca_bundle:
                    CA_BUNDLES[w.client_config.url] = base64.b64decode(w.client_config.ca_bundle)
        if expected <= set(urls):
            return urls
        time.sleep(0.05)
    raise AssertionError(f"the operator did not register its webhooks; found {urls}")


def review(
    url: str,
    operation: str,
    obj: dict[str, Any] | None,
    old: dict[str, Any] | None = None,
    *,
    user: str = "alice@example.com",
    groups: tuple[str, ...] = ("sre", "system:authenticated"),
) -> dict[str, Any]:
    """POST one AdmissionReview as kube-apiserver would; return its `response`."""
    plural = "approvals" if (obj or old or {}).get("kind") == "Approval" else "remediationpolicies"
    meta = (obj or old or {}).get("metadata") or {}
    uid = str(uuid.uuid4())
    request = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": GROUP, "version": VERSION, "kind": (obj or old or {})["kind"]},
            "resource": {"group": GROUP, "version": VERSION, "resource": plural},
            "requestKind": {"group": GROUP, "version": VERSION, "kind": (obj or old or {})["kind"]},
            "requestResource": {"group": GROUP, "version": VERSION, "resource": plural},
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", NS),
            "operation": operation,
            "userInfo": {"username": user, "groups": list(groups)},
            "object": obj,
            "oldObject": old,
            "dryRun": False,
        },
    }
    http = urllib.request.Request(
        url,
        data=json.dumps(request).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cadata=CA_BUNDLES[url].decode())
    with urllib.request.urlopen(http, timeout=10, context=context) as answer:
        body = json.loads(answer.read())
    assert body["kind"] == "AdmissionReview"
    response: dict[str, Any] = body["response"]
    assert response["uid"] == uid
    return response


def apply_patch(obj: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    assert response.get("patchType") == "JSONPatch", response
    ops = json.loads(base64.b64decode(response["patch"]))
    result: dict[str, Any] = patches.apply_json_patch(copy.deepcopy(obj), ops)
    return result


def approval(spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Approval",
        "metadata": {"name": "inc-1-a", "namespace": NS, **meta},
        "spec": {"incident": "inc-1", "decision": "approve", "planHash": PLAN_HASH, **(spec or {})},
    }


def policy(spec: dict[str, Any], name: str = "restart") -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "RemediationPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def seal_verifies(body: dict[str, Any]) -> bool:
    spec = body["spec"]
    return approval_seal.verify(
        APPROVAL_KEY,
        body["metadata"].get("annotations", {}).get(approval_seal.ANNOTATION),
        namespace=body["metadata"]["namespace"],
        incident=spec["incident"],
        decision=spec["decision"],
        plan_hash=spec["planHash"],
        approver=spec["approver"],
        groups=spec["approverGroups"],
    )


def user_api(cluster: Cluster, user: str, groups: tuple[str, ...] = ()) -> client.ApiClient:
    path = Path(str(cluster.box.kubeconfig)).with_name(f"kubeconfig-{uuid.uuid4().hex[:8]}")
    kubeconfig = cluster.box.kubeconfig_for(user, path, groups)
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


def error_message(e: client.ApiException) -> str:
    return str(json.loads(e.body)["message"])


def valid_condition(cluster: Cluster, name: str) -> dict[str, Any] | None:
    status = cluster.get("remediationpolicies", name).get("status") or {}
    return next((c for c in status.get("conditions", []) if c["type"] == "Valid"), None)


# ------------------------------------------------- (a) AdmissionReview to Kopf's server

BAD_POLICIES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("negative-to", {"action": "scale", "to": -1}, ("spec.steps[0].to", "greater than")),
    ("to-and-by", {"action": "scale", "to": 3, "by": 1}, ("spec.steps[0]", "to, by")),
    ("unknown-action", {"action": "reboot"}, ("spec.steps[0].action", "rollback")),
    ("field-of-other-action", {"action": "restartPods", "to": 3}, ("spec.steps[0]", "to:")),
]


def test_create_is_stamped_with_the_requesting_user_and_sealed(
    cluster: Cluster, operator: OperatorThread
) -> None:
    url = webhook_urls(cluster)["stamp-approver"]
    obj = approval()
    response = review(url, "CREATE", obj, user="alice@example.com", groups=("sre", "oncall"))
    assert response["allowed"] is True, response
    stamped = apply_patch(obj, response)
    assert stamped["spec"]["approver"] == "alice@example.com"
    assert stamped["spec"]["approverGroups"] == ["oncall", "sre"]
    assert stamped["spec"]["planHash"] == PLAN_HASH  # the rest is left as sent
    assert seal_verifies(stamped)
    # the seal binds every field: another decision or approver does not verify
    assert not seal_verifies({**stamped, "spec": {**stamped["spec"], "decision": "reject"}})
    assert not seal_verifies({**stamped, "spec": {**stamped["spec"], "approver": "mallory"}})


def test_create_with_existing_annotations_keeps_them(
    cluster: Cluster, operator: OperatorThread
) -> None:
    url = webhook_urls(cluster)["stamp-approver"]
    obj = approval(annotations={"note": "from the runbook"}, labels={"team": "shop"})
    stamped = apply_patch(obj, review(url, "CREATE", obj))
    assert stamped["metadata"]["annotations"]["note"] == "from the runbook"
    assert stamped["metadata"]["labels"] == {"team": "shop"}
    assert seal_verifies(stamped)


@pytest.mark.parametrize(
    ("spec", "annotations", "words"),
    [
        ({"approver": "alice@example.com"}, {}, "spec.approver"),
        ({"approverGroups": ["sre"]}, {}, "spec.approverGroups"),
        ({}, {approval_seal.ANNOTATION: "f" * 64}, approval_seal.ANNOTATION),
    ],
    ids=["approver", "approverGroups", "seal"],
)
def test_create_carrying_server_fields_is_refused(
    cluster: Cluster,
    operator: OperatorThread,
    spec: dict[str, Any],
    annotations: dict[str, str],
    words: str,
) -> None:
    url = webhook_urls(cluster)["stamp-approver"]
    response = review(url, "CREATE", approval(spec, annotations=annotations), user="mallory")
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert words in response["status"]["message"]
    assert "patch" not in response or not response["patch"]


@pytest.mark.parametrize("user", ["system:anonymous", ""])
def test_create_by_an_unauthenticated_user_is_refused(
    cluster: Cluster, operator: OperatorThread, user: str
) -> None:
    url = webhook_urls(cluster)["stamp-approver"]
    response = review(url, "CREATE", approval(), user=user, groups=("system:unauthenticated",))
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert "authenticated" in response["status"]["message"]


def test_update_of_spec_or_seal_is_refused_labels_are_allowed(
    cluster: Cluster, operator: OperatorThread
) -> None:
    urls = webhook_urls(cluster)
    old = apply_patch(approval(), review(urls["stamp-approver"], "CREATE", approval()))
    url = urls["approvals-immutable"]

    changed_spec = copy.deepcopy(old)
    changed_spec["spec"]["decision"] = "reject"
    response = review(url, "UPDATE", changed_spec, old, user="alice@example.com")
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert "immutable" in response["status"]["message"]

    reseal = copy.deepcopy(old)
    reseal["metadata"]["annotations"][approval_seal.ANNOTATION] = "0" * 64
    assert review(url, "UPDATE", reseal, old)["allowed"] is False

    unsealed = copy.deepcopy(old)
    del unsealed["metadata"]["annotations"][approval_seal.ANNOTATION]
    assert review(url, "UPDATE", unsealed, old)["allowed"] is False

    labelled = copy.deepcopy(old)
    labelled["metadata"]["labels"] = {"reviewed": "yes"}
    labelled["metadata"]["annotations"]["kopf"] = "bookkeeping"
    assert review(url, "UPDATE", labelled, old)["allowed"] is True


@pytest.mark.parametrize(
    ("step", "words"), [(s, w) for _, s, w in BAD_POLICIES], ids=[i for i, _, _ in BAD_POLICIES]
)
def test_invalid_policy_is_refused_naming_the_field(
    cluster: Cluster, operator: OperatorThread, step: dict[str, Any], words: tuple[str, ...]
) -> None:
    url = webhook_urls(cluster)["validate-policy"]
    response = review(url, "CREATE", policy(policy_spec(step)))
    assert response["allowed"] is False
    assert response["status"]["code"] == 422
    message = response["status"]["message"]
    assert message.startswith("invalid RemediationPolicy: ")
    for word in words:
        assert word in message, message


def test_policy_problems_elsewhere_name_their_field(
    cluster: Cluster, operator: OperatorThread
) -> None:
    url = webhook_urls(cluster)["validate-policy"]
    spec = policy_spec(RESTART, target={"kind": "Deployment", "name": "Not_A_Name"})
    message = review(url, "CREATE", policy(spec))["status"]["message"]
    assert "spec.target.name" in message
    no_steps = review(url, "CREATE", policy(policy_spec()))
    assert no_steps["status"]["code"] == 422
    assert "spec.steps" in no_steps["status"]["message"]


def test_valid_policy_is_allowed_and_unchanged_invalid_spec_may_be_updated(
    cluster: Cluster, operator: OperatorThread
) -> None:
    url = webhook_urls(cluster)["validate-policy"]
    good = policy(policy_spec({"action": "scale", "by": 2, "max": 10}))
    response = review(url, "CREATE", good)
    assert response["allowed"] is True, response
    assert not response.get("patch")
    # an invalid policy stored while the webhook was not in the path: its metadata and status
    # can still be written (Kopf's bookkeeping, the Valid condition), its spec not unless fixed
    bad = policy(policy_spec({"action": "scale", "to": 3, "by": 1}))
    annotated = copy.deepcopy(bad)
    annotated["metadata"]["annotations"] = {f"{GROUP}/last-handled-configuration": "{}"}
    assert review(url, "UPDATE", annotated, bad)["allowed"] is True
    still_bad = copy.deepcopy(bad)
    still_bad["spec"]["steps"][0]["to"] = 4
    assert review(url, "UPDATE", still_bad, bad)["status"]["code"] == 422
    assert review(url, "UPDATE", good, bad)["allowed"] is True


# ------------------------------------------------- (b) end to end through the API server


def test_a_user_cannot_approve_in_someone_elses_name(
    cluster: Cluster, operator: OperatorThread
) -> None:
    webhook_urls(cluster)
    with user_api(cluster, "mallory") as api:
        custom = client.CustomObjectsApi(api)
        with pytest.raises(client.ApiException) as refused:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, NS, "approvals", approval({"approver": "alice"})
            )
    assert refused.value.status == 403
    message = error_message(refused.value)
    assert "approver" in message and "stamp-approver" in message
    assert (
        cluster.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "approvals")["items"] == []
    )


def test_an_approval_is_stamped_with_its_creator(
    cluster: Cluster, operator: OperatorThread
) -> None:
    webhook_urls(cluster)
    created = cluster.approve("inc-1", "alice", plan_hash=PLAN_HASH, groups=["sre"])
    stored = cluster.get("approvals", created["metadata"]["name"])
    assert stored["spec"]["approver"] == "alice"
    assert stored["spec"]["approverGroups"] == ["sre", "system:authenticated"]
    assert seal_verifies(stored)
    # the write log shows who created it
    [write] = [w for w in cluster.box.writes() if w.resource == "approvals" and w.verb == "create"]
    assert write.user == "alice"


def test_an_approval_cannot_be_edited_through_the_api(
    cluster: Cluster, operator: OperatorThread
) -> None:
    webhook_urls(cluster)
    name = cluster.approve("inc-1", "alice", plan_hash=PLAN_HASH)["metadata"]["name"]
    # Kopf records that it handled the approval (an annotation): wait, so that write and
    # ours below do not race (the emulator does not retry a patch that lost such a race)
    cluster.wait_for(
        "Kopf's bookkeeping on the approval",
        lambda: (
            f"{GROUP}/last-handled-configuration"
            in (cluster.get("approvals", name)["metadata"].get("annotations") or {})
        ),
    )
    for change in (
        {"spec": {"decision": "reject"}},
        {"spec": {"planHash": "fedcba9876543210"}},
        {"metadata": {"annotations": {approval_seal.ANNOTATION: "0" * 64}}},
    ):
        with pytest.raises(client.ApiException) as refused:
            cluster.patch("approvals", name, change)
        assert refused.value.status == 403, change
        assert "immutable" in error_message(refused.value)
    cluster.patch("approvals", name, {"metadata": {"labels": {"reviewed": "yes"}}})
    stored = cluster.get("approvals", name)
    assert stored["metadata"]["labels"] == {"reviewed": "yes"}
    assert stored["spec"]["decision"] == "approve"
    assert seal_verifies(stored)


def test_an_invalid_policy_is_refused_by_the_api_naming_the_field(
    cluster: Cluster, operator: OperatorThread
) -> None:
    webhook_urls(cluster)
    for _, step, words in BAD_POLICIES:
        with pytest.raises(client.ApiException) as refused:
            cluster.policy("bad", policy_spec(step))
        assert refused.value.status == 422, step
        message = error_message(refused.value)
        assert "steps[0]" in message, message
        assert words[0].removeprefix("spec.") in message or words[1] in message, message
    # only pydantic knows `to` and `by` exclude each other: that refusal is the webhook's
    with pytest.raises(client.ApiException) as refused:
        cluster.policy("bad", policy_spec({"action": "scale", "to": 3, "by": 1}))
    assert "validate-policy" in error_message(refused.value)
    items = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "remediationpolicies")[
        "items"
    ]
    assert items == []
    cluster.policy("good", policy_spec({"action": "scale", "by": 1}))
    condition = cluster.wait_for("Valid condition", lambda: valid_condition(cluster, "good"))
    assert condition["status"] == "True"


def test_fixing_a_policy_spec_is_admitted_breaking_it_is_not(
    cluster: Cluster, operator: OperatorThread
) -> None:
    webhook_urls(cluster)
    cluster.policy("scale", policy_spec({"action": "scale", "by": 1}))
    # let the operator finish its own writes first: the emulator, unlike kube-apiserver,
    # does not retry a patch that raced another write while the webhooks were consulted
    cluster.wait_for("Valid condition", lambda: valid_condition(cluster, "scale"))
    with pytest.raises(client.ApiException) as refused:
        cluster.patch(
            "remediationpolicies",
            "scale",
            {"spec": {"steps": [{"action": "scale", "by": 1, "factor": 2}]}},
        )
    assert refused.value.status == 422
    assert "spec.steps[0]" in error_message(refused.value)
    cluster.patch("remediationpolicies", "scale", {"metadata": {"labels": {"a": "b"}}})


# ------------------------------------------------- without the webhook in the path


def test_a_policy_stored_without_the_webhook_is_marked_invalid_and_never_used(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    # no operator, so no webhook: the CRD schema alone lets this through
    cluster.policy("both", policy_spec({"action": "scale", "to": 3, "by": 1}))
    cluster.deployment("web")
    start_operator()
    condition = cluster.wait_for("Valid condition", lambda: valid_condition(cluster, "both"))
    assert condition["status"] == "False"
    assert condition["reason"] == "InvalidPolicy"
    assert "spec.steps[0]" in condition["message"]
    assert "to, by" in condition["message"]
    body = cluster.get("remediationpolicies", "both")
    assert body["status"]["observedGeneration"] == body["metadata"]["generation"]
    mark = cluster.mark()
    cluster.incident("inc-1", incident_spec())
    incident = cluster.wait_phase("inc-1", "NoPolicy", "Matched", "Remediated", "Failed")
    assert incident["status"]["phase"] == "NoPolicy", incident["status"]
    assert incident["status"].get("policy") in (None, "")
    assert cluster.writes(resource="deployments", since=mark) == []
    # and it can still be deleted
    cluster.custom.delete_namespaced_custom_object(
        GROUP, VERSION, NS, "remediationpolicies", "both"
    )


def test_a_forged_approval_is_ignored_when_the_operator_returns(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    cluster.restart_web()
    first = start_operator()
    webhook_urls(cluster)
    cluster.incident("inc-1", incident_spec(severity="P1"))
    body = cluster.wait_phase("inc-1", "AwaitingApproval", "Remediated", "Failed")
    assert body["status"]["phase"] == "AwaitingApproval", body["status"]
    plan_hash = body["status"]["plan"]["hash"]
    first.stop()
    # the operator is gone and took its webhooks along: the admin can write anything
    forged = approval({"approver": "alice", "approverGroups": ["sre"], "planHash": plan_hash})
    forged["metadata"]["annotations"] = {approval_seal.ANNOTATION: "f" * 64}
    cluster.create("approvals", forged)
    mark = cluster.mark()
    start_operator()
    body = cluster.wait_for(
        "the forged approval's record",
        lambda: (
            (b := cluster.get("incidents", "inc-1"))
            and b["status"].get("approvals")
            and "ApprovalIgnored" in timeline(b)
            and b
        ),
    )
    assert body["status"]["phase"] == "AwaitingApproval"
    [record] = body["status"]["approvals"]
    assert record["name"] == "inc-1-a"
    assert record["counted"] is False
    assert record["approver"] != "alice"
    assert record["reason"].startswith("ApproverNotVerified:")
    assert cluster.writes(resource="deployments", since=mark) == []
    # a real approval through the webhook still works afterwards
    cluster.approve("inc-1", "alice")
    body = cluster.remediated("inc-1")
    assert [(r["approver"], r["counted"]) for r in body["status"]["approvals"]][-1] == (
        "alice",
        True,
    )
