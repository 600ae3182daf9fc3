"""`remediator report`: the post-incident review, from Incidents recorded in real runs.

`tests/golden/incidents/*.json` are Incidents as the API served them at the end of a
`remediator demo`-like run of the real operator on the API emulator (`kubectl get incident
X -o json`): an approved P1 rollback, an approved P0 eviction, an auto-approved P2 scale and
a false alarm that resolved before anyone approved.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from remediator.cli import main
from remediator.core.models import Incident
from remediator.core.report import CHECKLIST, human_duration, render, time_to_act
from support.policies import APPROVED_AND_REMEDIATED

INCIDENTS = Path(__file__).resolve().parent / "golden" / "incidents"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def recorded(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((INCIDENTS / f"{name}.json").read_text())
    return body


def review(name: str) -> str:
    return render(Incident.model_validate(recorded(name)), now=NOW)


def section(markdown: str, title: str) -> str:
    start = markdown.index(f"## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def test_review_of_an_approved_rollback() -> None:
    md = review("checkout-unavailable")
    assert md.startswith("# Post-incident review: shop/checkout-unavailable\n")
    summary = section(md, "Summary")
    assert "| Severity | P1 (response target: 1 hour) |" in summary
    assert "| Policy | failed-deployment-rollback |" in summary
    assert "| Target | Deployment/checkout |" in summary
    assert "| Outcome | Remediated: roll back Deployment/checkout from revision 2 to 1 |" in summary

    timeline = section(md, "Timeline")
    assert "| Time (UTC) | Since start | Event | Actor | Details |" in timeline
    events = [row.split(" | ")[2] for row in timeline.splitlines() if row.startswith("| 20")]
    assert events == APPROVED_AND_REMEDIATED
    assert "| alice | plan " in timeline

    acted = section(md, "Actions and results")
    assert "1. `rollback` on Deployment/checkout: roll back Deployment/checkout" in acted
    assert "| 1 | rollback | Deployment/checkout | Applied |" in acted

    approvals = section(md, "Approvals")
    plan_hash = recorded("checkout-unavailable")["status"]["plan"]["hash"]
    assert "| alice | approve | 2026-11-28 " in approvals
    assert f"| {plan_hash} | yes | v2 fails its readiness probe |" in approvals

    timing = section(md, "Time to act")
    assert "| Response target | 1 hour (by 2026-11-28 05:04:52Z) |" in timing
    assert "— within the target |" in timing
    assert "| Time to resolve |" in timing


def test_checklist_is_the_playbooks_as_checkboxes() -> None:
    checklist = section(review("checkout-unavailable"), "Post-incident checklist")
    assert "PIR due by 2026-11-30 04:04:52Z (within 48 hours)." in checklist
    for heading, items in CHECKLIST:
        assert f"### {heading}" in checklist
        for item in items:
            assert f"- [ ] {item}\n" in checklist
    assert checklist.count("- [ ] ") == 13
    assert [h for h, _ in CHECKLIST] == [
        "Immediate (Day 1)",
        "Short-term (Week 1)",
        "Long-term (Month 1)",
    ]


def test_p0_eviction_within_fifteen_minutes() -> None:
    md = review("api-down")
    assert "| Severity | P0 (response target: 15 minutes) |" in md
    assert "| bob | approve |" in section(md, "Approvals")
    assert "— within the target |" in section(md, "Time to act")
    assert "evict 3 pod(s) of Deployment/api" in section(md, "Actions and results")


def test_p0_acted_on_late_misses_the_target() -> None:
    body = recorded("api-down")
    created = datetime.fromisoformat(body["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    body["spec"]["startsAt"] = (created - timedelta(minutes=20)).isoformat()
    incident = Incident.model_validate(body)
    timing = time_to_act(incident)
    assert timing.met is False
    md = section(render(incident), "Time to act")
    assert "missed the target by 5m" in md


def test_auto_approved_needs_no_approval() -> None:
    md = review("worker-backlog")
    assert "None needed: the policy's approval mode for this severity is auto." in md
    assert "| Severity | P2 (response target: 4 hours) |" in md
    assert "— within the target |" in md


def test_false_alarm_took_no_action() -> None:
    md = review("search-false-alarm")
    assert "| Outcome | Resolved: the alert resolved before any action" in md
    assert "no action was taken (phase Resolved)" in section(md, "Time to act")
    assert "| Resolved |" in section(md, "Timeline")


def test_p3_target_is_the_next_business_day() -> None:
    body = recorded("worker-backlog")
    body["spec"]["severity"] = "P3"
    body["spec"]["startsAt"] = "2026-11-27T18:00:00Z"  # a Friday evening
    md = render(Incident.model_validate(body))
    assert "| Response target | next business day (by 2026-11-30 09:00:00Z) |" in md


def test_pipes_in_messages_do_not_break_the_tables() -> None:
    body = recorded("checkout-unavailable")
    body["status"]["timeline"][0]["message"] = "a | b\nc"
    md = render(Incident.model_validate(body))
    assert "a \\| b c" in md


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (125, "2m 5s"),
        (3600, "1h"),
        (3720, "1h 2m"),
        (90000, "1d 1h"),
        (-300, "-5m"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == text


def test_cli_report_from_a_file(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["report", "--file", str(INCIDENTS / "api-down.json")])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Post-incident review: shop/api-down")
    # kubectl get -o yaml works as well, and -o writes a file
    as_yaml = tmp_path / "incident.yaml"
    as_yaml.write_text(yaml.safe_dump(recorded("api-down")))
    out = tmp_path / "pir.md"
    result = runner.invoke(main, ["report", "--file", str(as_yaml), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "## Time to act" in out.read_text()


def test_cli_report_needs_an_incident() -> None:
    result = CliRunner().invoke(main, ["report"])
    assert result.exit_code == 2
    assert "give INCIDENT" in result.output


def test_cli_report_reads_the_incident_from_the_cluster(sandbox: Any) -> None:
    """The real path: the operator's KubeClient against the API emulator."""
    from remediator.core.crds import all_crds

    def create(group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = sandbox.call(
            lambda: sandbox.api.internal_create(group, plural, obj)
        )
        return created

    for crd in all_crds():
        create("apiextensions.k8s.io", "customresourcedefinitions", crd)
    create("", "namespaces", {"metadata": {"name": "shop"}})
    body = recorded("checkout-unavailable")
    status = body.pop("status")
    body["metadata"] = {"name": "checkout-unavailable", "namespace": "shop"}
    created = create("remediator.dev", "incidents", body)
    created["status"] = status
    sandbox.call(
        lambda: sandbox.api.internal_update("remediator.dev", "incidents", created, "status")
    )
    kubeconfig = str(sandbox.kubeconfig)
    result = CliRunner().invoke(
        main, ["report", "checkout-unavailable", "-n", "shop", "--kubeconfig", kubeconfig]
    )
    assert result.exit_code == 0, result.output
    assert "| alice | approve |" in result.stdout
    assert "— within the target |" in result.stdout
    missing = CliRunner().invoke(main, ["report", "nope", "-n", "shop", "--kubeconfig", kubeconfig])
    assert missing.exit_code == 1
    assert "incident shop/nope not found" in missing.output
