"""The schema validation cases of cases/schema.yaml, through the API: one CRD holds each
case's field schema as a property of its spec (the cases whose schema a CRD may carry:
structural ones), and each case's value is created; the Invalid Status must carry the case's
cause, its path moved to the case's property."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .cases import _tables
from .conftest import CRDS_PATH, api_request, wait_established

GROUP = "schema.conformance.dev"
# not structural, so no CRD may carry them (kube-apiserver refuses the CRD)
NOT_STRUCTURAL = {
    "type-string-for-array",
    "unique-items",
    "additional-properties-false",
    "list-type-map-duplicate-key",
    "embedded-resource-needs-api-version",
    "any-of-none-matches",
    "one-of-two-match",
    "all-of-one-fails",
}
# kube-apiserver drops a null no schema allows before it validates: created without it
DROPPED = {"type-null-for-non-nullable"}
CASES = [
    case
    for case in _tables("schema")["validate_reports_kube_cause_for_each_keyword"]
    if case["id"] not in NOT_STRUCTURAL
]


def prop(index: int) -> str:
    return f"f{index}"


@pytest.fixture
def probes(api_client: client.ApiClient) -> str:
    """The CRD of the cases: its objects' path."""
    properties = {prop(i): case["field_schema"] for i, case in enumerate(CASES)}
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": properties}},
    }
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"probes.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "probes", "singular": "probe", "kind": "Probe"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }
    api_request(api_client, "POST", CRDS_PATH, body=crd)
    wait_established(api_client, f"probes.{GROUP}")
    return f"/apis/{GROUP}/v1/namespaces/default/probes"


def test_each_structural_schema_case_is_refused_with_its_cause(
    api_client: client.ApiClient, probes: str
) -> None:
    missed = []
    for index, case in enumerate(CASES):
        body = {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Probe",
            "metadata": {"name": f"p{index}"},
            "spec": {prop(index): case["value"]},
        }
        expected = {
            "reason": case["expected"]["type"],
            "field": case["expected"]["field"].replace("spec.f", f"spec.{prop(index)}", 1),
            "message": case["expected"]["message"].replace("spec.f", f"spec.{prop(index)}"),
        }
        try:
            created = api_request(api_client, "POST", probes, body=body)
        except ApiException as e:
            causes: list[dict[str, Any]] = json.loads(e.body)["details"]["causes"]
            if expected not in causes or case["id"] in DROPPED:
                missed.append((case["id"], expected, causes))
        else:
            if case["id"] not in DROPPED or prop(index) in created["spec"]:
                missed.append((case["id"], expected, created["spec"]))
    assert missed == [], json.dumps(missed, indent=1)
