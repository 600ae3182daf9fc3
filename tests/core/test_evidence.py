"""What the evidence keeps, and within what bounds (core/evidence.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from remediator.core import evidence
from remediator.core.models import Plan, PlannedStep, RemediationPolicy

AT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def policy(capture: str = "auto", action: str = "restartPods") -> RemediationPolicy:
    step: dict[str, Any] = {"action": action}
    if action == "scale":
        step |= {"factor": 2, "max": 5}
    return RemediationPolicy.model_validate(
        {
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": {
                "match": {},
                "target": {"nameFromLabel": "deployment"},
                "steps": [step],
                "evidence": {"capture": capture},
            },
        }
    )


def plan(*actions: str) -> Plan:
    return Plan(
        hash="h",
        steps=[
            PlannedStep(index=i, action=a, target="Deployment/web") for i, a in enumerate(actions)
        ],
    )


def pod(
    name: str, *, restarts: int = 0, ready: bool = True, oom: bool = False, env: bool = False
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "example/web:v2"}
    if env:
        container["env"] = [{"name": "DB_PASSWORD", "value": "hunter2"}]
        container["envFrom"] = [{"secretRef": {"name": "db"}}]
        container["command"] = ["run", "--token=hunter2"]
    status: dict[str, Any] = {
        "name": "app",
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {}},
    }
    if oom:
        status["lastState"] = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    return {
        "metadata": {"name": name},
        "spec": {
            "nodeName": "node-1",
            "containers": [container],
            "volumes": [{"name": "creds", "secret": {"secretName": "db"}}],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [status],
        },
    }


@pytest.mark.parametrize(
    ("capture", "actions", "expected"),
    [
        ("auto", ("restartPods",), True),
        ("auto", ("rollback",), True),
        ("auto", ("isolatePods",), True),
        ("auto", ("suspendCronJobs",), True),
        ("auto", ("scale",), False),  # a scale replaces nothing: not on the scale path
        ("always", ("scale",), True),
        ("always", ("notify",), False),  # nothing changes
        ("never", ("rollback",), False),
    ],
)
def test_what_is_captured_before(capture: str, actions: tuple[str, ...], expected: bool) -> None:
    assert evidence.wanted(policy(capture), plan(*actions)) is expected


def test_the_least_healthy_pods_are_kept_first() -> None:
    pods = [pod("a"), pod("b", restarts=4), pod("c", ready=False), pod("d", restarts=9)]
    chosen = evidence.select_pods(pods, 3)
    assert [p["metadata"]["name"] for p in chosen] == ["c", "d", "b"]


def test_a_pod_is_kept_without_its_environment_volumes_or_command() -> None:
    record = evidence.pod_record(pod("web-1", restarts=3, oom=True, env=True))
    text = json.dumps(record)
    assert "hunter2" not in text and "DB_PASSWORD" not in text and "secretName" not in text
    [container] = record["containers"]
    assert container["lastTermination"] == {
        "reason": "OOMKilled",
        "exitCode": 137,
        "finishedAt": None,
    }
    summary = evidence.pod_summary(pod("web-1", restarts=3, oom=True))
    assert (summary.restarts, summary.last_termination) == (3, "OOMKilled, exit 137")


def test_the_previous_container_is_read_only_where_it_restarted() -> None:
    assert evidence.log_requests(pod("a")) == [("app", False)]
    assert evidence.log_requests(pod("b", restarts=1)) == [("app", False), ("app", True)]


def test_a_binary_log_is_not_shown_and_a_long_one_keeps_its_end() -> None:
    shown, cut = evidence.clip_log(b"\x00\x01\x02" * 100, 1000)
    assert shown == "[binary log: 300 bytes not shown]" and cut
    text = "".join(f"line {i}\n" for i in range(1000)).encode()
    shown, cut = evidence.clip_log(text, 200)
    assert cut and shown.startswith("[… ") and shown.endswith("line 999\n")
    assert len(shown.encode()) <= 200


def test_huge_logs_never_blow_the_cap() -> None:
    gathered = evidence.Gathered(
        target="Deployment/web",
        pods=[pod(f"web-{i}", restarts=1) for i in range(5)],
        logs={f"web-{i}/app": ("x" * 100 + "\n").encode() * 20_000 for i in range(5)},
        events=[{"message": "m" * 1000, "time": str(i)} for i in range(50)],
    )
    document, summary = evidence.assemble(
        gathered, cap=64 * 1024, captured_at=AT, took_ms=5, secret="s"
    )
    assert len(json.dumps(document).encode()) <= 64 * 1024
    assert summary.truncated and summary.bytes <= 64 * 1024
    assert all(text.startswith("[… ") for text in document["logs"].values())
    assert "events: older ones dropped to fit the cap" in summary.missing


def test_the_summary_line_names_the_pods_their_restarts_and_where_it_is_kept() -> None:
    gathered = evidence.Gathered(
        target="Deployment/web",
        pods=[pod("web-1", restarts=5, oom=True, ready=False)],
        missing=["log web-2/app: 403 Forbidden"],
    )
    _, summary = evidence.assemble(
        gathered, cap=65536, captured_at=AT, took_ms=42, secret="inc-1-evidence-1234abcd"
    )
    line = evidence.describe(summary)
    assert "web-1 Running not ready, 5 restart(s), last OOMKilled, exit 137" in line
    assert "kept in Secret inc-1-evidence-1234abcd" in line
    assert line.endswith("missing: log web-2/app: 403 Forbidden")


def test_revisions_newest_first_and_events_of_the_target_only() -> None:
    replicasets = [
        {
            "metadata": {
                "name": f"web-{r}",
                "annotations": {evidence.REVISION: str(r)},
                "creationTimestamp": f"2026-03-0{r}T00:00:00Z",
            },
            "spec": {"template": {"spec": {"containers": [{"image": f"example/web:v{r}"}]}}},
        }
        for r in (1, 3, 2)
    ]
    assert [r["revision"] for r in evidence.revisions(replicasets)] == [3, 2, 1]

    def event(kind: str, name: str, reason: str, at: str) -> dict[str, Any]:
        return {
            "involvedObject": {"kind": kind, "name": name},
            "reason": reason,
            "lastTimestamp": at,
        }

    events = [
        event("Pod", "web-1", "BackOff", "2"),
        event("Pod", "other", "Pulled", "1"),
        event("Deployment", "web", "Scaled", "1"),
    ]
    kept = evidence.events_of(events, [("Deployment", "web"), ("Pod", "web-1")])
    assert [e["reason"] for e in kept] == ["Scaled", "BackOff"]
    # a Service of the workload's name is another object
    assert (
        evidence.events_of([event("Service", "web", "Created", "3")], [("Deployment", "web")]) == []
    )


def test_events_are_read_of_the_workload_its_two_newest_replicasets_and_the_captured_pods() -> None:
    history = [{"replicaSet": f"web-{r}", "revision": r} for r in (3, 2, 1)]
    pods = [{"metadata": {"name": "web-3-a"}}, {"metadata": {"name": "web-3-b"}}]
    assert evidence.event_sources(("Deployment", "web"), pods, history) == [
        ("Deployment", "web"),
        ("ReplicaSet", "web-3"),
        ("ReplicaSet", "web-2"),
        ("Pod", "web-3-a"),
        ("Pod", "web-3-b"),
    ]
    assert evidence.event_sources(("StatefulSet", "db"), [], []) == [("StatefulSet", "db")]


def test_a_recreated_incident_gets_a_secret_of_its_own() -> None:
    first, second = evidence.secret_name("inc-1", "uid-a"), evidence.secret_name("inc-1", "uid-b")
    assert first != second and first.startswith("inc-1-evidence-")
    assert len(evidence.secret_name("x" * 253, "uid")) == 253
