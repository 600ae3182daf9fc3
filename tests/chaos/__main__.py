"""`make chaos`: the chaos runs at the size the environment asks for, then the figures line.

CHAOS_INCIDENTS (default 120), CHAOS_KILLS (3), CHAOS_FAULT_RATE (0.1), CHAOS_SEED (1),
CHAOS_PEERING_INCIDENTS (12), CHAOS_WORKDIR (build/chaos). Fuzz figures (cases, server
errors, scope and approval attacks tried and succeeded) come from the hostile-input tests'
figures file (tests/hostile/figures.py) when it exists; a server error or a successful attack
fails the run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.chaos.harness import ROOT, log, run_faults_and_kills, run_peering
from tests.hostile import figures


def main() -> int:
    incidents = int(os.environ.get("CHAOS_INCIDENTS", "120"))
    kills = int(os.environ.get("CHAOS_KILLS", "3"))
    rate = float(os.environ.get("CHAOS_FAULT_RATE", "0.1"))
    seed = int(os.environ.get("CHAOS_SEED", "1"))
    peering_incidents = int(os.environ.get("CHAOS_PEERING_INCIDENTS", "12"))
    workdir = Path(os.environ.get("CHAOS_WORKDIR", ROOT / "build" / "chaos"))
    shutil.rmtree(workdir, ignore_errors=True)

    results = [
        run_faults_and_kills(
            workdir / "faults", incidents=incidents, kills=kills, fault_rate=rate, seed=seed
        )
    ]
    if peering_incidents:
        results.append(run_peering(workdir / "peering", incidents=peering_incidents, seed=seed))
    for result in results:
        log(result.summary())
        for problem in result.problems[:50]:
            log(f"  {result.scenario}: {problem}")

    if figures.PATH.exists():
        fuzz = figures.totals()
    else:
        log(
            f"no hostile-input figures at {figures.PATH}: run `pytest tests/hostile` first; "
            "reporting 0 fuzz cases"
        )
        fuzz = figures.totals({})
    n = sum(r.incidents for r in results)
    f = sum(r.faults for r in results)
    k = sum(r.kills for r in results)
    duplicates = sum(r.duplicates for r in results)
    lost = sum(r.lost for r in results)
    print(
        f"chaos: {n} incidents, {f} faults injected, {k} operator kills, "
        f"{duplicates} duplicate actions, {lost} lost incidents, {figures.line(fuzz)}",
        flush=True,
    )
    failed = (
        duplicates
        or lost
        or fuzz["server_errors"]
        or fuzz["scope_attacks_succeeded"]
        or any(r.problems for r in results)
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
