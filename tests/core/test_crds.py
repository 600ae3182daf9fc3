"""The CRDs in crds/ are generated from the pydantic models and accepted as structural.

The emulator checks what kube-apiserver checks when a CRD is created (structural schema)
and when a custom resource is written (pruning, `fieldValidation`, schema validation), so
these tests hold the generated schemas to what a cluster would do with them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from remediator.cli.policies import render_crd
from remediator.core.crds import all_crds
from remediator.core.models import GROUP, VERSION, Incident, RemediationPolicy

if TYPE_CHECKING:
    from tests.conftest import Kubectl

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
NAMESPACE = "default"


def _nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path or "<root>", schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from _nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from _nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}[*]")


def _schema(definition: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return result


# ---------------------------------------------------------------------------- generation
@pytest.mark.parametrize("definition", all_crds(), ids=lambda d: d["metadata"]["name"])
def test_committed_crds_match_the_models(definition: dict[str, Any]) -> None:
    path = CRD_DIR / f"{definition['metadata']['name']}.yaml"
    assert path.exists(), f"{path} is missing: run `make crds`"
    assert path.read_text(encoding="utf-8") == render_crd(definition), (
        f"{path} has drifted from remediator.core.models: run `make crds` and commit the result"
    )


def test_no_stray_files_in_the_crd_directory() -> None:
    expected = {f"{d['metadata']['name']}.yaml" for d in all_crds()}
    assert {p.name for p in CRD_DIR.glob("*.yaml")} == expected


@pytest.mark.parametrize("definition", all_crds(), ids=lambda d: d["metadata"]["name"])
def test_every_schema_node_is_typed_and_self_contained(definition: dict[str, Any]) -> None:
    schema = _schema(definition)
    assert "$ref" not in repr(schema)
    assert "$defs" not in repr(schema)
    for path, node in _nodes(schema):
        assert isinstance(node.get("type"), str), f"{path} has no type"
        assert "title" not in node, path
        assert "default" not in node, path
        assert "anyOf" not in node, path
        assert node.get("additionalProperties") is not False, path
        if node.get("x-kubernetes-preserve-unknown-fields"):
            assert node["type"] == "object", path
            assert "properties" not in node, path
    assert schema["required"] == ["spec"]
    assert schema["properties"]["metadata"] == {"type": "object"}
    assert schema["properties"]["apiVersion"] == {"type": "string"}
    assert schema["properties"]["kind"] == {"type": "string"}


def test_schema_details_follow_the_models() -> None:
    incident, policy, approval = (_schema(d) for d in all_crds())
    spec = incident["properties"]["spec"]
    assert spec["required"] == ["alertname", "severity"]  # fields with defaults are optional
    assert spec["properties"]["severity"]["enum"] == ["P0", "P1", "P2", "P3"]
    assert spec["properties"]["startsAt"] == {
        "type": "string",
        "format": "date-time",
        "nullable": True,
    }
    assert spec["properties"]["labels"]["additionalProperties"]["type"] == "string"
    step = policy["properties"]["spec"]["properties"]["steps"]
    assert (step["minItems"], step["maxItems"]) == (1, 10)
    factor = step["items"]["properties"]["factor"]
    assert factor["minimum"] == 0
    assert factor["exclusiveMinimum"] is True
    assert factor["maximum"] == 10
    desired = incident["properties"]["status"]["properties"]["plan"]["properties"]["steps"]
    assert desired["items"]["properties"]["desired"] == {
        "description": "The action's desired state (applying it twice changes nothing).",
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    assert "status" not in approval["properties"]


def test_names_subresources_and_columns() -> None:
    by_kind = {d["spec"]["names"]["kind"]: d for d in all_crds()}
    expected = {
        "Incident": ("incidents", "inc", True),
        "RemediationPolicy": ("remediationpolicies", "rpol", True),
        "Approval": ("approvals", "appr", False),
    }
    for kind, (plural, short, status) in expected.items():
        spec = by_kind[kind]["spec"]
        assert spec["group"] == GROUP
        assert spec["scope"] == "Namespaced"
        assert spec["names"]["plural"] == plural
        assert spec["names"]["shortNames"] == [short]
        assert spec["names"]["categories"] == ["remediation"]
        (version,) = spec["versions"]
        assert (version["name"], version["served"], version["storage"]) == (VERSION, True, True)
        assert ("subresources" in version) is status
        if status:
            assert version["subresources"] == {"status": {}}
    columns = {
        kind: [c["name"] for c in d["spec"]["versions"][0]["additionalPrinterColumns"]]
        for kind, d in by_kind.items()
    }
    assert columns == {
        "Incident": ["Severity", "Phase", "Policy", "Action", "Age"],
        "RemediationPolicy": ["Priority", "Targets", "Valid", "Age"],
        "Approval": ["Incident", "Decision", "Approver", "Age"],
    }


# ---------------------------------------------------------------------- against the API
@pytest.fixture
def installed(api_client: client.ApiClient) -> client.CustomObjectsApi:
    """The committed CRDs, created through the API as `kubectl apply -f crds/` would."""
    ext = client.ApiextensionsV1Api(api_client)
    for path in sorted(CRD_DIR.glob("*.yaml")):
        ext.create_custom_resource_definition(yaml.safe_load(path.read_text(encoding="utf-8")))
    return client.CustomObjectsApi(api_client)


def _incident(name: str = "checkout-5xx", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Incident",
        "metadata": {"name": name},
        "spec": {
            "source": "alertmanager",
            "alertname": "HighErrorRate",
            "severity": "P1",
            "summary": "checkout 5xx above 5%",
            "labels": {"deployment": "checkout", "app.kubernetes.io/name": "checkout"},
            "fingerprint": "0123456789abcdef",
            "startsAt": "2024-05-01T12:00:00Z",
            "target": {"kind": "Deployment", "name": "checkout"},
            **spec,
        },
    }


def _policy(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RemediationPolicy",
        "metadata": {"name": "rollback-checkout"},
        "spec": {
            "match": {"alertnames": ["HighErrorRate"], "severities": ["P1", "P2"]},
            "priority": 10,
            "target": {"kind": "Deployment", "nameFromLabel": "deployment"},
            "steps": [step],
        },
    }


def _create(
    custom: client.CustomObjectsApi, plural: str, body: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    result = custom.create_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, plural, body, **kwargs
    )
    assert isinstance(result, dict)
    return result


def test_the_emulator_accepts_the_crds_as_structural(installed: client.CustomObjectsApi) -> None:
    ext = client.ApiextensionsV1Api(installed.api_client)
    names = {
        crd.metadata.name for crd in ext.list_custom_resource_definition().items if crd.metadata
    }
    assert {d["metadata"]["name"] for d in all_crds()} <= names


def test_an_incident_round_trips_into_the_model(installed: client.CustomObjectsApi) -> None:
    created = _create(installed, "incidents", _incident())
    incident = Incident.model_validate(created)
    assert incident.spec.severity == "P1"
    assert incident.spec.target is not None
    assert incident.spec.target.name == "checkout"
    assert incident.spec.starts_at == datetime(2024, 5, 1, 12, tzinfo=UTC)

    # everything the operator writes to status is kept by the schema
    now = datetime(2024, 5, 1, 12, 1, tzinfo=UTC)
    desired = {"template": {"spec": {"containers": [{"name": "app"}]}}}
    status: dict[str, Any] = {
        "phase": "AwaitingApproval",
        "policy": "rollback-checkout",
        "action": "rollback",
        "plan": {
            "hash": "abc123",
            "createdAt": now.isoformat(),
            "steps": [
                {
                    "index": 0,
                    "action": "rollback",
                    "target": "Deployment/checkout",
                    "desired": desired,
                }
            ],
        },
        "actions": [
            {"index": 0, "action": "rollback", "state": "Pending", "revert": {"revision": 3}}
        ],
        "approvals": [{"name": "a1", "approver": "alice", "decision": "approve"}],
        "respondBy": "2024-05-01T13:00:00Z",
        "conditions": [
            {"type": "Matched", "status": "True", "reason": "PolicyMatched", "message": "ok"}
        ],
        "observedGeneration": 1,
        "timeline": [{"time": now.isoformat(), "reason": "Matched", "message": "m"}],
    }
    patched = installed.patch_namespaced_custom_object_status(
        GROUP, VERSION, NAMESPACE, "incidents", "checkout-5xx", {"status": status}
    )
    assert isinstance(patched, dict)
    assert patched["status"] == status
    fetched = installed.get_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, "incidents", "checkout-5xx"
    )
    parsed = Incident.model_validate(fetched)
    assert parsed.status.phase == "AwaitingApproval"
    assert parsed.status.plan is not None
    assert parsed.status.plan.steps[0].desired == desired
    assert parsed.status.actions[0].revert == {"revision": 3}


def test_an_unknown_severity_is_refused_naming_the_field(
    installed: client.CustomObjectsApi,
) -> None:
    with pytest.raises(ApiException) as caught:
        _create(installed, "incidents", _incident(severity="P9"))
    assert caught.value.status == 422
    assert "spec.severity" in str(caught.value.body)


def test_an_unknown_step_field_is_refused_strictly_and_pruned_otherwise(
    installed: client.CustomObjectsApi,
) -> None:
    step = {"action": "rollback", "toRevision": 2, "retries": 3}
    with pytest.raises(ApiException) as caught:
        _create(installed, "remediationpolicies", _policy(step), field_validation="Strict")
    assert caught.value.status == 400
    assert "spec.steps[0].retries" in str(caught.value.body)

    created = _create(installed, "remediationpolicies", _policy(step))
    assert created["spec"]["steps"] == [{"action": "rollback", "toRevision": 2}]
    policy = RemediationPolicy.model_validate(created)
    assert policy.spec.steps[0].to_revision == 2


@pytest.mark.kubectl
def test_kubectl_shows_the_printer_columns_and_the_category(kubectl: Kubectl) -> None:
    kubectl.run("apply", "-f", str(CRD_DIR))
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(_incident()))
    kubectl.run(
        "apply",
        "-f",
        "-",
        input=yaml.safe_dump(_policy({"action": "restartPods", "mode": "rolling"})),
    )
    approval = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Approval",
        "metadata": {"name": "approve-checkout"},
        "spec": {"incident": "checkout-5xx", "decision": "approve", "planHash": "abc123"},
    }
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(approval))

    header, row = kubectl.run("get", "inc").stdout.splitlines()
    assert header.split() == ["NAME", "SEVERITY", "PHASE", "POLICY", "ACTION", "AGE"]
    assert row.split()[:2] == ["checkout-5xx", "P1"]

    header, row = kubectl.run("get", "rpol").stdout.splitlines()
    assert header.split() == ["NAME", "PRIORITY", "TARGETS", "VALID", "AGE"]
    assert row.split()[:3] == ["rollback-checkout", "10", "Deployment"]

    header, row = kubectl.run("get", "appr").stdout.splitlines()
    assert header.split() == ["NAME", "INCIDENT", "DECISION", "APPROVER", "AGE"]
    assert row.split()[:3] == ["approve-checkout", "checkout-5xx", "approve"]

    listed = kubectl.run("get", "remediation", "-o", "name").stdout.split()
    assert sorted(listed) == sorted(
        [
            f"incident.{GROUP}/checkout-5xx",
            f"remediationpolicy.{GROUP}/rollback-checkout",
            f"approval.{GROUP}/approve-checkout",
        ]
    )


@pytest.mark.parametrize("definition", all_crds(), ids=lambda d: d["metadata"]["name"])
def test_the_yaml_has_no_anchors_or_aliases(definition: dict[str, Any]) -> None:
    events = yaml.parse(render_crd(definition))
    assert not any(isinstance(e, yaml.AliasEvent) for e in events)
