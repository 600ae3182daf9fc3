"""The golden set (tests/golden: recorded Alertmanager payloads, the observed objects, the
decisions expected) and `remediator simulate` run on it against the playbook's policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from remediator.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
POLICIES = ROOT / "remediations"
PAYLOADS = sorted((GOLDEN / "alerts").glob("*.json"))


def simulate(alert: Path, *options: str) -> Result:
    """`remediator simulate --alert ALERT --policies remediations/ OPTIONS...`, in-process."""
    return CliRunner().invoke(
        main, ["simulate", "--alert", str(alert), "--policies", str(POLICIES), *options]
    )


def decided(alert: Path, *options: str) -> dict[str, Any]:
    """What `simulate --output json` decides for `alert` (it must succeed)."""
    result = simulate(alert, "--output", "json", *options)
    assert result.exit_code == 0, result.output
    decisions: dict[str, Any] = json.loads(result.stdout)
    return decisions


def decided_at(alert: Path, state: Path, now: str, namespace: str = "shop") -> dict[str, Any]:
    """The decision on `alert` given the objects in `state`, at `now`, incidents without a
    namespace label in `namespace`: what the golden tests compare."""
    return decided(alert, "--state", str(state), "--namespace-default", namespace, "--now", now)
