"""The verify phase driven alone, with a narrow fake of Prometheus: each poll's answer (samples,
an outage, a bad query) is given, and what the phase decides is read from the Incident it
returns. No cluster is reached (see fakes.py); the end-to-end checks against the real
Prometheus are in tests/flows/test_prometheus.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from remediator.adapters.prometheus import PrometheusUnavailable, PromQLError
from remediator.core import reasons
from remediator.core.models import Incident, VerificationStatus, Verify, parse_duration
from remediator.reconcile import OperatorConfig
from remediator.reconcile.state import Wait
from remediator.reconcile.verify import Verifying

from .fakes import unreachable_kube


@dataclass
class Answers:
    """Prometheus as the test states it: one answer a poll, in order (a list of samples, or
    an exception to raise); the queries asked are kept."""

    answers: list[Sequence[float] | Exception]
    asked: list[str] = field(default_factory=list)

    async def instant(self, query: str) -> list[float]:
        self.asked.append(query)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return list(answer)


def verifying(*answers: Sequence[float] | Exception) -> tuple[Verifying, Answers]:
    phase = Verifying(unreachable_kube(), OperatorConfig())
    prometheus = Answers(list(answers))
    phase.prom = prometheus  # type: ignore[assignment]
    return phase, prometheus


def incident(
    *, started: timedelta, within: str = "5m", revert: bool = True, error: str = ""
) -> Incident:
    """An Incident Verifying since `started` ago, its check `error_rate < 0.05`."""
    now = datetime.now(UTC)
    check = Verify(
        query="error_rate",
        operator="<",
        threshold=0.05,
        within=within,
        interval="15s",
        revert_on_failure=revert,
    )
    begun = now - started
    verification = VerificationStatus(
        check=check,
        started_at=begun,
        deadline=begun + timedelta(seconds=parse_duration(check.within)),
        error=error,
    )
    return Incident.model_validate(
        {
            "metadata": {"name": "inc-1", "namespace": "shop", "uid": "uid-inc-1"},
            "spec": {"alertname": "HighErrorRate", "severity": "P2"},
            "status": {"phase": "Verifying", "policy": "p"},
        }
    ).with_status(verification=verification)


def outcome(result: Incident | Wait) -> tuple[str, str, str]:
    assert isinstance(result, Incident)
    entry = result.status.timeline[-1]
    return result.status.phase, entry.reason, entry.message


async def test_the_check_is_not_asked_before_its_interval_has_passed() -> None:
    phase, prometheus = verifying()
    result = await phase._verify(incident(started=timedelta(seconds=5)), datetime.now(UTC))
    assert isinstance(result, Wait) and result.at is not None
    assert prometheus.asked == []


async def test_a_check_that_holds_is_verified_with_what_was_observed() -> None:
    phase, prometheus = verifying([0.01, 0.02])
    result = await phase._verify(incident(started=timedelta(seconds=20)), datetime.now(UTC))
    state, reason, message = outcome(result)
    assert (state, reason) == ("Remediated", reasons.VERIFIED)
    assert "error_rate < 0.05 holds, observed" in message
    assert prometheus.asked == ["error_rate"]


@pytest.mark.parametrize("answer", [[], [0.01, 0.2]], ids=["no series", "one series fails"])
async def test_a_check_that_does_not_hold_yet_waits_and_counts_the_poll(
    answer: list[float],
) -> None:
    phase, _ = verifying(answer)
    result = await phase._verify(incident(started=timedelta(seconds=20)), datetime.now(UTC))
    assert isinstance(result, Wait)
    [unsaved] = phase._unsaved.values()
    verification = unsaved.incident.status.verification
    assert verification is not None and verification.checks == 1
    assert unsaved.incident.status.phase == "Verifying"


async def test_an_outage_is_noted_once_and_never_counts_as_a_no() -> None:
    down = PrometheusUnavailable("connection refused")
    phase, _ = verifying(down)
    result = await phase._verify(incident(started=timedelta(seconds=20)), datetime.now(UTC))
    assert isinstance(result, Wait)
    [unsaved] = phase._unsaved.values()
    notes = [e.reason for e in unsaved.incident.status.timeline]
    assert notes == [reasons.PROMETHEUS_UNAVAILABLE]
    again, _ = verifying(down)
    await again._verify(unsaved.incident, datetime.now(UTC) + timedelta(seconds=16))
    [later] = again._unsaved.values()
    assert [e.reason for e in later.incident.status.timeline] == notes  # not noted again


async def test_no_answer_by_the_deadline_escalates_and_reverts_nothing() -> None:
    phase, _ = verifying(PrometheusUnavailable("timed out"))
    late = incident(started=timedelta(minutes=6), error="timed out")
    state, reason, message = outcome(await phase._verify(late, datetime.now(UTC)))
    assert (state, reason) == ("Escalated", reasons.PROMETHEUS_UNAVAILABLE)
    assert message.endswith("nothing was reverted")


async def test_a_bad_query_escalates_at_once() -> None:
    phase, _ = verifying(PromQLError("parse error: unexpected <by>"))
    result = await phase._verify(incident(started=timedelta(seconds=20)), datetime.now(UTC))
    state, reason, message = outcome(result)
    assert (state, reason) == ("Escalated", reasons.PROMQL_ERROR)
    assert "parse error" in message and message.endswith("nothing was reverted")


@pytest.mark.parametrize(
    ("revert", "ending"), [(True, "; nothing to revert"), (False, "last observed: 0.3 (1 series)")]
)
async def test_a_no_at_the_deadline_escalates_and_reverts_what_was_recorded(
    revert: bool, ending: str
) -> None:
    phase, _ = verifying([0.3])
    late = incident(started=timedelta(minutes=6), revert=revert)
    state, reason, message = outcome(await phase._verify(late, datetime.now(UTC)))
    assert (state, reason) == ("Escalated", reasons.VERIFICATION_FAILED)
    assert message.endswith(ending)


async def test_a_status_without_a_verification_is_remediated_without_asking() -> None:
    phase, prometheus = verifying()
    bare = incident(started=timedelta(seconds=20)).with_status(verification=None)
    state, reason, _ = outcome(await phase._verify(bare, datetime.now(UTC)))
    assert (state, reason) == ("Remediated", reasons.REMEDIATED)
    assert prometheus.asked == []
