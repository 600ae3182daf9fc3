"""`make chaos`: the chaos runs at the size the environment asks for, then the figures line.

`python -m tests.chaos` runs them on the emulator; `--cluster=real` (`make chaos
CLUSTER=real`) on a real control plane of its own (controlplane/cluster.py, named
chaos-<pid>, stopped after), with the faults injected by a proxy in front of kube-apiserver,
kube-apiserver and etcd SIGKILLed and restarted among the incidents, and every write counted
from the API server's audit log.

CHAOS_INCIDENTS (default 120), CHAOS_KILLS (3), CHAOS_FAULT_RATE (0.1), CHAOS_SEED (1),
CHAOS_PEERING_INCIDENTS (12), CHAOS_WORKDIR (build/chaos); on the real cluster also
CHAOS_APISERVER_RESTARTS (4) and CHAOS_ETCD_RESTARTS (2). Fuzz figures (cases, server
errors, scope and approval attacks tried and succeeded) come from the hostile-input tests'
figures file (tests/hostile/figures.py) when it exists; a server error or a successful attack
fails the run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# as under pytest, whose rootdir conftest puts tests/ on the path: `support` and `real` are
# the harness's
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chaos.harness import ROOT, Result, log, run_faults_and_kills, run_peering
from tests.hostile import figures


@contextmanager
def real_control_plane() -> Iterator[Any]:
    """A control plane of this run's own: its components are killed and restarted."""
    from real.backend import ControlPlane

    started = time.monotonic()
    log("starting a real control plane of its own (controlplane/cluster.py)")
    plane = ControlPlane.start(f"chaos-{os.getpid()}", own_ports=True)
    log(
        f"the real control plane is up at {plane.info['server']} in "
        f"{time.monotonic() - started:.1f}s"
    )
    try:
        yield plane
    finally:
        plane.stop()
        log("the real control plane is stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cluster", choices=("emulator", "real"), default="emulator")
    args = parser.parse_args(argv)
    real = args.cluster == "real"
    incidents = int(os.environ.get("CHAOS_INCIDENTS", "120"))
    kills = int(os.environ.get("CHAOS_KILLS", "3"))
    rate = float(os.environ.get("CHAOS_FAULT_RATE", "0.1"))
    seed = int(os.environ.get("CHAOS_SEED", "1"))
    peering_incidents = int(os.environ.get("CHAOS_PEERING_INCIDENTS", "12"))
    apiserver_restarts = int(os.environ.get("CHAOS_APISERVER_RESTARTS", "4")) if real else 0
    etcd_restarts = int(os.environ.get("CHAOS_ETCD_RESTARTS", "2")) if real else 0
    workdir = Path(os.environ.get("CHAOS_WORKDIR", ROOT / "build" / "chaos"))
    shutil.rmtree(workdir, ignore_errors=True)

    started = time.monotonic()
    with real_control_plane() if real else _nothing() as plane:
        log(
            f"faults and kills: {incidents} incidents, {kills} operator kills"
            + (
                f", {apiserver_restarts} kube-apiserver and {etcd_restarts} etcd restarts"
                if real
                else ""
            )
        )
        results = [
            run_faults_and_kills(
                workdir / "faults",
                incidents=incidents,
                kills=kills,
                fault_rate=rate,
                seed=seed,
                plane=plane,
                apiserver_restarts=apiserver_restarts,
                etcd_restarts=etcd_restarts,
            )
        ]
        log(results[-1].summary())
        if peering_incidents:
            log(f"peering: {peering_incidents} incidents, two replicas, the active one killed")
            results.append(
                run_peering(
                    workdir / "peering", incidents=peering_incidents, seed=seed, plane=plane
                )
            )
            log(results[-1].summary())
    for result in results:
        for note in result.notes:
            log(f"  {result.scenario}: {note}")
        for problem in result.problems[:50]:
            log(f"  {result.scenario}: {problem}")
    log(f"the chaos runs took {time.monotonic() - started:.0f}s")

    if figures.PATH.exists():
        fuzz = figures.totals()
    else:
        log(
            f"no hostile-input figures at {figures.PATH}: run `pytest tests/hostile` first; "
            "reporting 0 fuzz cases"
        )
        fuzz = figures.totals({})
    print(figures_line(results, real, figures.line(fuzz)), flush=True)
    failed = (
        any(r.duplicates or r.lost or r.problems for r in results)
        or fuzz["server_errors"]
        or fuzz["scope_attacks_succeeded"]
    )
    return 1 if failed else 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def figures_line(results: list[Result], real: bool, fuzz: str) -> str:
    n = sum(r.incidents for r in results)
    f = sum(r.faults for r in results)
    k = sum(r.kills for r in results)
    duplicates = sum(r.duplicates for r in results)
    lost = sum(r.lost for r in results)
    if not real:
        return (
            f"chaos: {n} incidents, {f} faults injected, {k} operator kills, "
            f"{duplicates} duplicate actions, {lost} lost incidents, {fuzz}"
        )
    a = sum(r.apiserver_restarts for r in results)
    e = sum(r.etcd_restarts for r in results)
    return (
        f"chaos(real): {n} incidents, {f} faults injected, {k} operator kills, "
        f"{a} apiserver restarts, {e} etcd restarts, {duplicates} duplicate actions, "
        f"{lost} lost incidents, {fuzz}"
    )


if __name__ == "__main__":
    sys.exit(main())
