"""The chaos runs at CI size (`make chaos` runs them larger, by CHAOS_* variables).

Every incident ends Remediated and every planned change is made exactly once — under
injected API faults and watch drops, across SIGKILLs of the operator, and with two peered
replicas of which only one acts — counted from the write log: on the emulator and, with the
faults injected by a proxy in front of it and the writes read from its audit log, on the
real control plane; there also across SIGKILLs and restarts of kube-apiserver and etcd, on a
control plane of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from kube_emulator import WriteRecord
from real.backend import (
    HOW_TO_GET,
    ControlPlane,
    ControlPlaneUnavailableError,
    RealBox,
    go_available,
)

from .harness import (
    Planned,
    Result,
    again_if_cut,
    count,
    log,
    run_faults_and_kills,
    run_peering,
)

INCIDENTS = int(os.environ.get("CHAOS_INCIDENTS", "105"))
KILLS = int(os.environ.get("CHAOS_KILLS", "3"))

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(max(240, INCIDENTS * 2 + KILLS * 15))]


def _report(result: Result) -> None:
    log(result.summary())
    for note in result.notes:
        log(f"  {note}")
    for problem in result.problems:
        log(f"  {problem}")


def _plane(backend: str, request: pytest.FixtureRequest) -> object:
    """The real control plane (faults from a proxy in front of it), or None: the emulator."""
    return request.getfixturevalue("control_plane") if backend == "real" else None


def test_every_incident_is_remediated_once_under_faults_and_kills(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    result = run_faults_and_kills(
        tmp_path,
        incidents=INCIDENTS,
        kills=KILLS,
        fault_rate=0.1,
        plane=_plane(backend, request),
    )
    _report(result)
    assert result.incidents >= 100
    assert result.kills == KILLS
    assert result.faults > 0
    for kind in ("500", "503", "409", "429", "apply_then_drop"):
        assert result.faults_by_kind.get(kind, 0) > 0, (kind, result.faults_by_kind)
    assert result.phases == {"Remediated": INCIDENTS}, result.problems
    assert result.duplicates == 0, result.problems
    assert result.lost == 0, result.problems
    assert result.problems == []


@pytest.fixture(scope="module")
def restartable_plane(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    """A real control plane of these tests' own: they SIGKILL its kube-apiserver and etcd,
    which the session's other tests should not feel (and its components' leader election
    need not survive)."""
    if request.config.getoption("--cluster") == "emulator":
        pytest.skip("--cluster=emulator: not on the real control plane")
    if not go_available():
        pytest.skip(HOW_TO_GET)
    try:
        plane = ControlPlane.start(f"pytest-restarts-{os.getpid()}", own_ports=True)
    except ControlPlaneUnavailableError as e:
        pytest.skip(str(e))
    yield plane
    plane.stop()


@pytest.mark.real_only("kube-apiserver and etcd are restarted: the real control plane's")
def test_the_control_plane_keeps_its_data_and_its_controllers_across_restarts(
    tmp_path: Path, backend: str, restartable_plane: ControlPlane
) -> None:
    plane = restartable_plane
    core, apps = client.CoreV1Api(plane.api), client.AppsV1Api(plane.api)
    try:
        before = core.create_namespaced_config_map(
            "other", {"metadata": {"name": "kept"}, "data": {"a": "1"}}
        )
        audited_from = plane.audit_size()
        for component in ("etcd", "kube-apiserver"):
            plane.restart(component)
            assert all(plane.components().values()), plane.components()
        kept = again_if_cut(lambda: core.read_namespaced_config_map("kept", "other"))
        assert kept.metadata.resource_version == before.metadata.resource_version
        assert kept.data == {"a": "1"}
        # the controllers, the scheduler and kwok are connected again: a Deployment rolls out
        again_if_cut(
            lambda: apps.create_namespaced_deployment(
                "other",
                {
                    "metadata": {"name": "after"},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": "after"}},
                        "template": {
                            "metadata": {"labels": {"app": "after"}},
                            "spec": {"containers": [{"name": "app", "image": "example/a:v1"}]},
                        },
                    },
                },
            )
        )
        RealBox(plane, tmp_path, namespaces=("other",)).settle(30)
        # the restarted API server appends to the audit log it began
        audited = [
            (e["verb"], e["objectRef"].get("resource"), e["objectRef"].get("name"))
            for e in plane.audit_events(audited_from)
        ]
        assert ("create", "deployments", "after") in audited
    finally:
        plane.clean()


@pytest.mark.real_only("kube-apiserver and etcd are restarted: the real control plane's")
def test_every_incident_is_remediated_once_across_apiserver_and_etcd_restarts(
    tmp_path: Path, backend: str, restartable_plane: ControlPlane
) -> None:
    result = run_faults_and_kills(
        tmp_path,
        incidents=21,
        kills=1,
        fault_rate=0.1,
        seed=3,
        plane=restartable_plane,
        apiserver_restarts=1,
        etcd_restarts=1,
    )
    _report(result)
    assert (result.kills, result.apiserver_restarts, result.etcd_restarts) == (1, 1, 1)
    assert result.faults > 0
    assert result.phases == {"Remediated": 21}, result.problems
    assert result.duplicates == 0, result.problems
    assert result.lost == 0, result.problems
    assert result.problems == []


def test_with_peering_only_one_replica_acts_and_the_standby_takes_over(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    lifetime = 10
    result = run_peering(tmp_path, incidents=12, lifetime=lifetime, plane=_plane(backend, request))
    _report(result)
    assert result.phases == {"Remediated": 12}, result.problems
    assert result.duplicates == 0, result.problems
    assert result.lost == 0, result.problems
    assert result.problems == []
    # the standby waits for the dead replica's record to expire, then finishes the work
    assert result.takeover_seconds is not None
    assert result.takeover_seconds < lifetime + 15


# ------------------------------------------------------------ the counting itself
def _write(verb: str, resource: str, name: str, sub: str = "", **kw: object) -> WriteRecord:
    fields: dict[str, object] = {
        "seq": 0,
        "time": 0.0,
        "verb": verb,
        "group": "apps",
        "resource": resource,
        "subresource": sub,
        "namespace": "chaos",
        "name": name,
        "user": "op",
        "dry_run": False,
        "changed": True,
        **kw,
    }
    return WriteRecord(**fields)  # type: ignore[arg-type]


def _done(*names: str) -> dict[str, dict[str, object]]:
    return {n: {"status": {"phase": "Remediated"}} for n in names}


def test_counting_flags_a_duplicate_a_loss_and_an_unplanned_change() -> None:
    planned = [
        Planned("a", "scale", "P2", "a-scale", [("patch", "deployments", "scale", "a-scale")]),
        Planned("b", "restart", "P2", "b-restart", [("patch", "deployments", "", "b-restart")]),
    ]
    writes = [
        _write("patch", "deployments", "a-scale", "scale"),
        _write("patch", "deployments", "a-scale", "scale"),  # applied twice
        _write("patch", "deployments", "c", ""),  # nobody planned this
        _write("patch", "deployments", "b-restart", changed=False),  # a no-op is no change
    ]
    result = Result("unit")
    count(planned, _done("a", "b"), writes, {"op"}, result)
    assert (result.duplicates, result.lost) == (2, 1)


def test_counting_takes_a_dropped_answer_as_the_change_and_a_no_op_retry_as_none() -> None:
    planned = [Planned("a", "scale", "P2", "a", [("patch", "deployments", "scale", "a")])]
    writes = [
        _write("patch", "deployments", "a", "scale", response_dropped=True),
        _write("patch", "deployments", "a", "scale", changed=False),  # the retry
        _write("patch", "deployments", "a", "scale", user="someone-else"),
    ]
    result = Result("unit")
    count(planned, _done("a"), writes, {"op"}, result)
    assert (result.duplicates, result.lost, result.problems) == (0, 0, [])


def test_counting_takes_an_explained_missing_eviction_as_made_and_no_other() -> None:
    planned = [Planned("a", "evict", "P2", "a"), Planned("b", "evict", "P2", "b")]
    bodies = {
        n: {"status": {"phase": "Remediated", "plan": {"steps": [{"desired": {"pods": [pod]}}]}}}
        for n, pod in (("a", {"name": "a-1"}), ("b", {"name": "b-1"}))
    }

    def why(p: Planned, key: tuple[str, str, str, str]) -> str:
        return "the server was killed mid-request" if key[3] == "a-1" else ""

    result = Result("unit")
    count(planned, bodies, [], {"op"}, result, why)
    assert (result.unaudited, result.lost, result.duplicates) == (1, 1, 0)
    assert result.problems == ["b (evict): no change of ('evict', 'pods', '', 'b-1')"]
