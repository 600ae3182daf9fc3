"""Helpers shared by the conformance tests: the backend they run on, a test CRD and
error-body decoding.

Every test that uses the API (`sandbox`, `api_client`, `core`, `kubectl`, ...) runs on the
emulator and on the real control plane (`--cluster`): on the real one, `sandbox` is a
`RealConformanceBox` (its kubeconfig, `settle()`, `request_counts()`) in the cluster's
`default` namespace, emptied after each test, with the CRDs and namespaces a test added
deleted. Tests that reach into the emulator's internals are marked `emulator_only`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from conftest import Kubectl
from kube_emulator import Sandbox
from real.backend import ControlPlane, RealBox

from .builders import GROUP, KIND, PLURAL, VERSION, widget

CRD_NAME = f"{PLURAL}.{GROUP}"
CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# the arguments CustomObjectsApi takes before a widget's name in `default`
WIDGETS = (GROUP, VERSION, "default", PLURAL)

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "mode": {"type": "string", "enum": ["fast", "safe"]},
                "owner": {"type": "string", "pattern": "^[a-z]+$"},
                "replicas": {"type": "integer", "minimum": 0},
                "selector": {"type": "string"},
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "selector": {"type": "string"},
                "phase": {"type": "string"},
            },
        },
    },
}


def widget_crd(
    *,
    group: str = GROUP,
    plural: str = PLURAL,
    kind: str = KIND,
    name: str | None = None,
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A CustomResourceDefinition with status + scale subresources and printer columns."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name or f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "listKind": f"{kind}List",
                "shortNames": ["wd"],
                "categories": ["all", "remediator"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema or WIDGET_SCHEMA},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    ],
                }
            ],
        },
    }


# what a conformance test may leave in `default` on the real cluster, emptied after each:
# (group, version, plural)
CLEANED_KINDS = (
    ("apps", "v1", "deployments"),
    ("apps", "v1", "statefulsets"),
    ("apps", "v1", "daemonsets"),
    ("apps", "v1", "replicasets"),
    ("", "v1", "pods"),
    ("", "v1", "configmaps"),
    ("", "v1", "secrets"),
    ("", "v1", "services"),
    ("", "v1", "serviceaccounts"),
    ("policy", "v1", "poddisruptionbudgets"),
    ("batch", "v1", "jobs"),
)
KEPT = {"configmaps": {"kube-root-ca.crt"}, "serviceaccounts": {"default"}}


class RealConformanceBox(RealBox):
    """The `sandbox` of a conformance test on the real cluster (namespace `default`)."""

    def __init__(self, plane: ControlPlane, workdir: Path, *, keep_widgets: bool) -> None:
        super().__init__(plane, workdir, namespaces=("default",))
        # the test CRD is kept from one test that uses `widget_crd_created` to the next (a
        # fresh CRD's first write takes 2 s on the real server): its widgets are deleted
        self.keep_widgets = keep_widgets
        if not keep_widgets and CRD_NAME in self._crds():
            self._delete(f"{CRDS_PATH}/{CRD_NAME}")
            self._wait(lambda: [CRD_NAME] if CRD_NAME in self._crds() else [])
        self.crds_before = self._crds() - {CRD_NAME}
        self.namespaces_before = self._namespaces()

    def _wait(self, left: Callable[[], list[str]], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while names := left():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cleanup after the test left: {names[:10]}")
            time.sleep(0.1)

    def _crds(self) -> set[str]:
        items = self.plane.raw("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        return {i["metadata"]["name"] for i in items["items"]}

    def _namespaces(self) -> set[str]:
        return {i["metadata"]["name"] for i in self.plane.raw("GET", "/api/v1/namespaces")["items"]}

    def clean(self, timeout: float = 60) -> None:
        """Fast: what a conformance test adds (a CRD, namespaces, objects in `default`)."""
        crds = self._crds() - self.crds_before
        if CRD_NAME in crds and self._widget_crd_unchanged():
            crds.discard(CRD_NAME)
            self._delete_widgets()
        for name in crds:
            self._delete(f"{CRDS_PATH}/{name}")
        for name in self._namespaces() - self.namespaces_before:
            self._delete(f"/api/v1/namespaces/{name}")
        # a namespace's deletion (the namespace controller's) is not waited for
        self._wait(lambda: self._empty_default() + sorted(crds & self._crds()), timeout)
        if crds:
            self.plane.discover()

    def _widget_crd_unchanged(self) -> bool:
        try:
            crd = self.plane.raw("GET", f"{CRDS_PATH}/{CRD_NAME}")
        except ApiException:
            return False
        meta = crd["metadata"]
        return meta.get("generation") == 1 and not meta.get("deletionTimestamp")

    def _delete_widgets(self) -> None:
        path = f"/apis/{GROUP}/{VERSION}/{PLURAL}"
        for item in self.plane.raw("GET", path)["items"]:
            meta = item["metadata"]
            self._delete(
                f"/apis/{GROUP}/{VERSION}/namespaces/{meta['namespace']}/{PLURAL}/{meta['name']}"
            )
        self._wait(lambda: [i["metadata"]["name"] for i in self.plane.raw("GET", path)["items"]])

    def _delete(self, path: str) -> None:
        try:
            item = self.plane.raw("GET", path)
            if item["metadata"].get("finalizers") and "/customresourcedefinitions/" not in path:
                self.plane.raw(
                    "PATCH",
                    path,
                    body={"metadata": {"finalizers": None}},
                    content_type="application/merge-patch+json",
                )
            # a graceful deletion already under way (an evicted pod's) is shortened to 0: a pod
            # bound to a node nobody runs would otherwise wait for the pod GC's 40 s quarantine
            meta = item["metadata"]
            if meta.get("deletionTimestamp") is None or meta.get("deletionGracePeriodSeconds"):
                self.plane.raw(
                    "DELETE",
                    path,
                    query=[("gracePeriodSeconds", 0), ("propagationPolicy", "Background")],
                )
        except ApiException as e:
            if e.status not in (404, 409):
                raise

    def _empty_default(self) -> list[str]:
        left = []
        for group, version, plural in CLEANED_KINDS:
            base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
            path = f"{base}/namespaces/default/{plural}"
            keep = KEPT.get(plural, set())
            items = [
                i for i in self.plane.raw("GET", path)["items"] if i["metadata"]["name"] not in keep
            ]
            for item in items:
                name = item["metadata"]["name"]
                left.append(f"{plural}/{name}")
                self._delete(f"{path}/{name}")
        return left


@pytest.fixture
def sandbox(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Sandbox | RealConformanceBox]:
    """The API server under test: a fresh emulator, or the real cluster (cleaned after)."""
    if backend == "emulator":
        with Sandbox(kubeconfig=tmp_path / "kubeconfig", bookmark_interval=0.2) as box:
            yield box
        return
    plane: ControlPlane = request.getfixturevalue("control_plane")
    keep = "widget_crd_created" in request.fixturenames
    real = RealConformanceBox(plane, tmp_path / "real", keep_widgets=keep)
    try:
        yield real
    finally:
        real.clean()


@pytest.fixture
def kubectl(
    sandbox: Sandbox | RealConformanceBox,
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Kubectl:
    """kubectl against the API server under test (on the real one, the cluster's own)."""
    assert sandbox.kubeconfig is not None
    if backend == "real":
        plane: ControlPlane = request.getfixturevalue("control_plane")
        return Kubectl(sandbox.kubeconfig, tmp_path / "kubectl-cache", str(plane.kubectl))
    import shutil

    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed on this machine")
    return Kubectl(sandbox.kubeconfig, tmp_path / "kubectl-cache")


@pytest.fixture
def ext(api_client: client.ApiClient) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(api_client)


@pytest.fixture
def widget_crd_created(
    sandbox: Sandbox | RealConformanceBox, api_client: client.ApiClient
) -> dict[str, Any]:
    """The test CRD, created through the API (not through the emulator's internals); on
    the real cluster, the one an earlier test created where it is unchanged."""
    if isinstance(sandbox, RealConformanceBox) and sandbox._widget_crd_unchanged():
        kept: dict[str, Any] = api_request(api_client, "GET", f"{CRDS_PATH}/{CRD_NAME}")
        return kept
    created: dict[str, Any] = api_request(
        api_client,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        body=widget_crd(),
    )
    wait_established(api_client, created["metadata"]["name"])
    return created


def wait_established(api_client: client.ApiClient, name: str, timeout: float = 30) -> None:
    """Until the CRD is Established and its resource served (at once on the emulator; a
    moment on the real server, whose handlers follow the CRD's status)."""
    ext = client.ApiextensionsV1Api(api_client)
    deadline = time.monotonic() + timeout
    while True:
        crd = ext.read_custom_resource_definition(name)
        conditions = (crd.status.conditions if crd.status else None) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            version = next(v.name for v in crd.spec.versions if v.served)
            try:
                found = api_request(api_client, "GET", f"/apis/{crd.spec.group}/{version}")
                if any(r["name"] == crd.spec.names.plural for r in found["resources"]):
                    return
            except ApiException as e:
                if e.status != 404:
                    raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRD {name} was not established in {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def make_widget(
    custom: client.CustomObjectsApi, widget_crd_created: dict[str, Any]
) -> Callable[..., dict[str, Any]]:
    def make(name: str = "w1", namespace: str = "default", **spec: Any) -> dict[str, Any]:
        body = widget(name, **{"size": 1, **spec})
        result: dict[str, Any] = custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body
        )
        return result

    return make


@pytest.fixture
def w1(make_widget: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The widget `w1` (size 1) in `default`."""
    return make_widget("w1")


def api_request(
    api_client: client.ApiClient,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: list[tuple[str, Any]] | None = None,
    content_type: str = "application/json",
    accept: str = "application/json",
) -> Any:
    """A raw request through the client's own transport; returns the decoded JSON body.

    Raises `ApiException` for an error answer, as the typed APIs do.
    """
    request = api_client.param_serialize(
        method,
        path,
        query_params=query or [],
        header_params={"Content-Type": content_type, "Accept": accept},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api_client.call_api(*request)
    data = response.read()
    if not 200 <= response.status <= 299:
        raise ApiException.from_response(http_resp=response, body=data.decode(), data=None)
    return json.loads(data) if data else None


def status_of(error: ApiException) -> dict[str, Any]:
    """The `Status` body of an error answer (and check that it is one)."""
    body: dict[str, Any] = json.loads(error.body)
    assert body["kind"] == "Status", body
    assert body["apiVersion"] == "v1", body
    assert body["status"] == "Failure", body
    assert body["code"] == error.status, body
    return body


def expect_error(status: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call `fn` and return the Status body of the ApiException it must raise."""
    with pytest.raises(ApiException) as info:
        fn(*args, **kwargs)
    assert info.value.status == status, info.value.body
    return status_of(info.value)


def expect_w1_error(
    status: int, call: Callable[..., Any], *args: Any, **kwargs: Any
) -> dict[str, Any]:
    """`expect_error` for `call` on the widget `w1` in `default` (`args` after its name)."""
    return expect_error(status, call, *WIDGETS, "w1", *args, **kwargs)


def expect_request_error(
    status: int, api_client: client.ApiClient, method: str, path: str, **kwargs: Any
) -> dict[str, Any]:
    """`expect_error` for a raw request (`api_request`)."""
    return expect_error(status, api_request, api_client, method, path, **kwargs)
