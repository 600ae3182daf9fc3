"""A real Kopf operator against the emulator: the framework the remediator is built on.

Kopf depends on behaviour the `kubernetes` client hardly touches: discovery of the status
subresource (it patches `/status` separately), merge patches checked for "inconsistencies"
against what the server returns, watch streams resumed by resourceVersion, finalizers it
adds by merge patch and removes by a JSON patch guarded with a `test` op, progress and
last-handled-configuration annotations, and Events it posts through the API.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import kopf
import pytest
from kopf.testing import KopfRunner
from kubernetes import client
from kubernetes.client.rest import ApiException

from kube_emulator import Sandbox
from support.waiting import wait_for

pytestmark = pytest.mark.emulator_only(
    reason="kopf logs in with the emulator's url and token (kopf on the real cluster: tests/flows)"
)

GROUP = "kopf.remediator.dev"
VERSION = "v1"
PLURAL = "gizmos"
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"
PROGRESS_KEY = "kopf.zalando.org/create_gizmo"
LAST_HANDLED = "kopf.zalando.org/last-handled-configuration"

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "gizmo", "kind": "Gizmo", "shortNames": ["kgz"]},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1},
                                },
                            },
                            # What Kopf's documentation asks for: it keeps progress in status.kopf
                            # and handler results in status.<handler id>.
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}


@dataclass
class Seen:
    """What the handlers saw, shared with the test thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)

    def add(self, name: str, retry: int, annotations: Any) -> None:
        with self.lock:
            self.calls.append((name, retry, dict(annotations)))

    def names(self) -> list[str]:
        with self.lock:
            return [c[0] for c in self.calls]


def make_registry(sandbox: Sandbox, seen: Seen) -> kopf.OperatorRegistry:
    """The trivial operator: create/update set status, delete is a (finalizer-backed) no-op."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=sandbox.url, insecure=True, token=sandbox.token, default_namespace="default"
        )

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry, id="create_gizmo")
    def create_gizmo(
        body: Any, spec: Any, retry: int, annotations: Any, patch: Any, logger: Any, **_: Any
    ) -> dict[str, Any]:
        seen.add("create", retry, annotations)
        if retry == 0:
            # One temporary failure, so Kopf records its progress (annotations) and retries.
            raise kopf.TemporaryError("warming up", delay=0.2)
        kopf.info(body, reason="Created", message=f"gizmo of size {spec.get('size')} ready")
        patch.status["phase"] = "Ready"
        logger.info("created the gizmo")
        return {"size": spec.get("size")}

    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry, id="update_gizmo")
    def update_gizmo(
        body: Any, spec: Any, retry: int, annotations: Any, patch: Any, **_: Any
    ) -> None:
        seen.add("update", retry, annotations)
        kopf.info(body, reason="Resized", message=f"gizmo resized to {spec.get('size')}")
        patch.status["phase"] = f"Resized-{spec.get('size')}"

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id="delete_gizmo")
    def delete_gizmo(body: Any, retry: int, annotations: Any, **_: Any) -> None:
        seen.add("delete", retry, annotations)

    return registry


def fast_settings() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.posting.enabled = True
    settings.posting.level = logging.INFO
    settings.posting.loggers = True  # "Handler ... succeeded" and handler logs as Events too
    settings.watching.server_timeout = 1  # watches end often: resuming them is tested too
    settings.watching.client_timeout = 5
    settings.watching.connect_timeout = 2
    settings.watching.reconnect_backoff = 0.05
    settings.queueing.idle_timeout = 1
    settings.queueing.exit_timeout = 1
    settings.networking.request_timeout = 10
    settings.networking.error_backoffs = [0.1, 0.2, 0.5]
    settings.persistence.consistency_timeout = 2
    return settings


@dataclass
class Operator:
    runner: KopfRunner
    seen: Seen
    custom: client.CustomObjectsApi
    core: client.CoreV1Api

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, "default", PLURAL, name
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return obj

    def create(self, name: str, size: int) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Gizmo",
                "metadata": {"name": name},
                "spec": {"size": size},
            },
        )
        return obj

    def events_for(self, uid: str) -> list[Any]:
        events = self.core.list_namespaced_event(
            "default", field_selector=f"involvedObject.uid={uid}"
        ).items
        return list(events)


@pytest.fixture
def operator(
    request: pytest.FixtureRequest,
    sandbox: Sandbox,
    api_client: client.ApiClient,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Operator]:
    """The operator running; `indirect` parameter "pruned-status": a CRD without
    x-kubernetes-preserve-unknown-fields on status (Kopf's writes there get pruned)."""
    pruned = getattr(request, "param", "") == "pruned-status"
    crd = copy.deepcopy(CRD)
    if pruned:
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        schema["properties"]["status"] = {
            "type": "object",
            "properties": {"phase": {"type": "string"}},
        }
    client.ApiextensionsV1Api(api_client).create_custom_resource_definition(crd)
    seen = Seen()
    caplog.set_level(logging.DEBUG, logger="kopf")
    with KopfRunner(
        ["run", "--standalone", "--namespace=default", "--verbose"],
        registry=make_registry(sandbox, seen),
        settings=fast_settings(),
        timeout=20,
    ) as runner:
        yield Operator(
            runner, seen, client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)
        )
    assert runner.exit_code == 0, runner.output
    assert runner.exception is None
    logs = runner.output + "\n" + caplog.text
    if not pruned:
        assert "inconsistencies" not in logs, logs
    assert "Traceback" not in logs, logs


def test_create_is_handled_with_progress_annotations_status_and_events(
    operator: Operator,
) -> None:
    created = operator.create("g1", size=3)
    uid = created["metadata"]["uid"]

    done = wait_for(
        "the status patch",
        lambda: (o := operator.get("g1")) and (o.get("status") or {}).get("phase") == "Ready" and o,
    )
    assert done["status"]["create_gizmo"] == {"size": 3}  # the handler's result
    meta = done["metadata"]
    assert FINALIZER in meta["finalizers"]
    assert meta["generation"] == 1  # Kopf's metadata and status writes are no spec change

    # The retry saw the progress Kopf stored for the first attempt, in annotations.
    calls = [c for c in operator.seen.calls if c[0] == "create"]
    assert [c[1] for c in calls] == [0, 1]
    progress = calls[1][2].get(PROGRESS_KEY)
    assert progress is not None, calls[1][2]
    assert '"retries":1' in progress.replace(" ", "")
    # Once handled, progress is purged and the handled configuration kept.
    final = wait_for(
        "purged progress",
        lambda: (
            (o := operator.get("g1"))
            and PROGRESS_KEY not in (o["metadata"].get("annotations") or {})
            and o
        ),
    )
    annotations = final["metadata"]["annotations"]
    assert '"size":3' in annotations[LAST_HANDLED].replace(" ", "")

    # kopf.info() and Kopf's own per-handler events are stored for the object.
    events = wait_for(
        "Kopf's events",
        lambda: (ev := operator.events_for(uid)) and any(e.reason == "Created" for e in ev) and ev,
    )
    created_event = next(e for e in events if e.reason == "Created")
    assert created_event.message == "gizmo of size 3 ready"
    assert created_event.type == "Normal"
    assert created_event.involved_object.kind == "Gizmo"
    assert created_event.involved_object.name == "g1"
    assert created_event.involved_object.api_version == f"{GROUP}/{VERSION}"
    assert created_event.source.component == "kopf"
    wait_for(
        "Kopf's 'Handler ... succeeded' event",
        lambda: any("succeeded" in (e.message or "") for e in operator.events_for(uid)),
    )


def test_update_is_handled_once_per_spec_change(operator: Operator, sandbox: Sandbox) -> None:
    operator.create("g2", size=2)
    wait_for(
        "creation handled",
        lambda: (o := operator.get("g2")) and (o.get("status") or {}).get("phase") == "Ready",
    )
    # Let the watch time out (timeoutSeconds=1): Kopf re-watches from its last resourceVersion
    # and must neither miss the next change nor see the old ones again.
    wait_for(
        "Kopf to re-watch", lambda: sandbox.request_counts().get(("watch", GROUP, PLURAL), 0) >= 2
    )
    operator.custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "g2", {"spec": {"size": 5}}
    )
    done = wait_for(
        "the update handled",
        lambda: (
            (o := operator.get("g2")) and (o.get("status") or {}).get("phase") == "Resized-5" and o
        ),
    )
    assert '"size":5' in done["metadata"]["annotations"][LAST_HANDLED].replace(" ", "")
    assert done["metadata"]["generation"] == 2
    # A status-only change is no update for Kopf (it diffs the handled configuration).
    operator.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "g2", {"status": {"note": "by someone else"}}
    )
    time.sleep(0.5)
    assert operator.seen.names().count("update") == 1
    assert operator.seen.names().count("create") == 2  # the failed try and the retry, no more
    uid = done["metadata"]["uid"]
    wait_for(
        "the Resized event", lambda: any(e.reason == "Resized" for e in operator.events_for(uid))
    )


def test_delete_runs_the_handler_and_removes_the_finalizer(
    operator: Operator, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    operator.create("g3", size=1)
    wait_for(
        "Kopf's finalizer",
        lambda: (o := operator.get("g3")) and FINALIZER in (o["metadata"].get("finalizers") or []),
    )
    wait_for(
        "creation handled",
        lambda: (o := operator.get("g3")) and (o.get("status") or {}).get("phase") == "Ready",
    )
    operator.custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "g3")
    wait_for("the object to disappear", lambda: operator.get("g3") is None)
    assert "delete" in operator.seen.names()
    # Kopf added and removed its finalizer with JSON patches guarded by a `test` op, and saw
    # the DELETED event.
    logs = caplog.text
    assert "'op': 'add', 'path': '/metadata/finalizers'" in logs
    assert "'op': 'remove', 'path': '/metadata/finalizers'" in logs
    assert "'op': 'test', 'path': '/metadata/resourceVersion'" in logs
    wait_for(
        "Kopf to see the DELETED event",
        lambda: "Deleted, really deleted, and we are notified." in caplog.text,
    )
    assert sandbox.request_counts().get(("patch", GROUP, PLURAL), 0) >= 2


@pytest.mark.parametrize("operator", ["pruned-status"], indirect=True)
def test_a_pruned_status_is_reported_by_kopf_as_inconsistent(
    operator: Operator, caplog: pytest.LogCaptureFixture
) -> None:
    # What a real cluster does with a structural schema: unknown status fields are dropped,
    # and Kopf notices its merge patch did not stick. The known field is kept.
    operator.create("g4", size=2)
    done = wait_for(
        "the status patch",
        lambda: (o := operator.get("g4")) and (o.get("status") or {}).get("phase") == "Ready" and o,
    )
    assert done["status"] == {"phase": "Ready"}
    wait_for(
        "Kopf's inconsistency warning",
        lambda: "Merge-patching finished with inconsistencies" in caplog.text,
    )
    assert "create_gizmo" in caplog.text.split("inconsistencies", 1)[1].splitlines()[0]
