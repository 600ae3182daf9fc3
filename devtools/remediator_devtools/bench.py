"""The operator's benchmark, side by side with its peers: `python -m remediator_devtools.bench`
(or `make bench`).

An absolute figure on a shared 2-core machine says little; a ratio against what anyone
could do on the same cluster, in the same run, with the same load, holds. So every run
measures three subjects (`bench_subjects`), one after the other, on one cluster:

1. `floor`: a plain client making exactly the minimum requests of a remediation (create the
   Incident, read the target, patch `/scale`, write the status once, create one Event);
2. `bare_kopf`: the ~40-line Kopf operator a team writes in an afternoon;
3. `remediator`: the operator as shipped (bridge, guards, audit trail, metrics).

On the emulator (in this process) and on a real control plane (kube-apiserver, etcd, kwok;
a cluster of its own), `--cluster emulator|real|both` (both by default), each measured for
each subject where it applies:

- p50/p95/p99 from the alert (just before the bench sends it) to the target's `PATCH …/scale`
  as the API server saw it (the emulator's write log, the real API server's audit log), at
  steady rates (10, 50, 100 alerts/s) and for a storm of alerts sent at once;
- throughput: the storm's remediations per second, first alert sent to last `/scale`;
- API requests per remediation (the 10/s phase, counted by the API server: reads too);
- the process's CPU-seconds per remediation (over the storm);
- for the two operators: RSS idle, and after a restart with 1k, 5k and 12.5k Incidents
  (`--sizes`), the slope in KB per Incident, and the catch-up time after the restart (until
  an alert sent just after it is acted on and the process's CPU is quiet).

Every wait is bounded (`WAIT_RATE`, `WAIT_STORM`, `WAIT_RESTART`): a subject that falls far
behind does not hold the run, and what it had not acted on counts with the time it had
waited. Written to `bench/results.json` under `emulator` and `real` (each subject under its
own key, with the ratios remediator/bare_kopf and remediator/floor, the goals of issue 14
on the real one, the load average beside each phase), plotted to `bench/latency.png`,
printed as one table. Every stage prints a line with the elapsed time. `--profile DIR`
samples each subject with py-spy (collapsed stacks, one file per cluster and subject).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, cast

import aiohttp
import click
import kopf

from remediator.core import ledger
from remediator.core.crds import all_crds

from . import bench_clusters
from .bench_clusters import BenchCluster, RequestKey
from .bench_subjects import ALERTNAMES, LOAD_NAMESPACE, BareKopf, Floor, Remediator, Subject, policy
from .floor import incident
from .kubeapi import KubeClient, namespaced

SUBJECTS = ("floor", "bare_kopf", "remediator")
OPERATORS = ("bare_kopf", "remediator")
WARM_UP = 5
STALLED = 30.0  # seconds without a new /scale write before a wait gives up
# how long the bench waits for the last alert of a phase to be acted on (after sending it):
# bounds a run with a subject that falls far behind; what is left counts as unacted
WAIT_RATE, WAIT_STORM, WAIT_RESTART = 60.0, 120.0, 120.0
KOPF_DIFFBASE = kopf.AnnotationsDiffBaseStorage()
# the goals of issue 14, on the real control plane
GOALS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "throughput ≥ 0.8x bare Kopf": lambda r: r["ratios"]["throughput_vs_bare_kopf"] >= 0.8,
    "p99 at 50/s ≤ 250 ms": lambda r: r["remediator"]["latency"]["rate_50"]["p99_ms"] <= 250,
    "p99 at 50/s ≤ 2x bare Kopf": lambda r: r["ratios"]["p99_50_vs_bare_kopf"] <= 2,
    "requests ≤ 1.3x the floor": lambda r: r["ratios"]["requests_vs_floor"] <= 1.3,
    "growth ≤ 3 KB per Incident": lambda r: r["remediator"]["memory"]["kb_per_incident"] <= 3,
    "RSS with 12.5k ≤ 150 MB": lambda r: r["remediator"]["memory"]["loaded"][-1]["rss_mib"] <= 150,
    "catch-up ≤ 10 s": lambda r: r["remediator"]["memory"]["loaded"][-1]["catch_up_s"] <= 10,
}

T0 = time.monotonic()


def stage(cluster: str, message: str) -> None:
    click.echo(f"[{time.monotonic() - T0:6.1f} s] {cluster}: {message}", nl=True)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def deployment(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"example/{name}:v1"}]},
            },
        },
    }


async def gather_limited(coroutines: list[Any], limit: int = 64) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(c: Any) -> None:
        async with gate:
            await c

    await asyncio.gather(*(one(c) for c in coroutines))


class Run:
    """The bench on one cluster."""

    def __init__(
        self,
        cluster: BenchCluster,
        workdir: Path,
        rates: list[float],
        duration: float,
        storm: int,
        profile: Path | None = None,
    ) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.rates = rates
        self.duration = duration
        self.storm = storm
        self.profile = profile
        self.spy: subprocess.Popen[bytes] | None = None
        self.send_failures = 0  # alerts a subject did not take within WAIT_RATE
        self.serial = 0
        self.results: dict[str, Any] = {"loadavg": {"start": loadavg()}}
        kubeconfig = cluster.kubeconfig
        self.subjects: dict[str, Subject] = {
            "floor": Floor("floor", "bench-floor", kubeconfig, workdir),
            "bare_kopf": BareKopf("bare_kopf", "bench-kopf", kubeconfig, workdir),
            "remediator": Remediator(
                "remediator", "bench-remediator", kubeconfig, workdir, max_concurrent=storm
            ),
        }

    def say(self, message: str) -> None:
        stage(self.cluster.name, message)

    # ------------------------------------------------------------------ seeding
    def targets_per_subject(self) -> int:
        return WARM_UP + sum(int(r * self.duration) for r in self.rates) + self.storm

    def seed(self) -> None:
        async def run() -> None:
            api = KubeClient(self.cluster.kubeconfig, "seed", connections=32)
            try:
                for crd in all_crds():
                    await api.create(
                        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                        crd,
                        exist_ok=True,
                    )
                namespaces = [s.namespace for s in self.subjects.values()]
                for ns in [*namespaces, LOAD_NAMESPACE, "remediator-system"]:
                    await api.create(
                        "/api/v1/namespaces", {"metadata": {"name": ns}}, exist_ok=True
                    )
                await self._crds_established(api)
                # what deploy/base/config.yaml ships: the pause switch and the guard ledger's
                # ConfigMaps (Remediator as shipped writes them side by side)
                configmaps = "/api/v1/namespaces/remediator-system/configmaps"
                for name in ("remediator-config", *ledger.CONFIG_MAPS):
                    body = {"metadata": {"name": name, "namespace": "remediator-system"}}
                    await api.create(configmaps, body, exist_ok=True)
                for ns in (self.subjects["remediator"].namespace, LOAD_NAMESPACE):
                    path = namespaced("remediator.dev", "v1alpha1", ns, "remediationpolicies")
                    for i in range(ALERTNAMES):
                        await api.create(path, policy(ns, i))
                creates = []
                for subject in self.subjects.values():
                    path = namespaced("apps", "v1", subject.namespace, "deployments")
                    for i in range(self.targets_per_subject()):
                        creates.append(api.create(path, deployment(subject.namespace, f"t-{i}")))
                await gather_limited(creates)
            finally:
                await api.close()

        asyncio.run(run())

    @staticmethod
    async def _crds_established(api: KubeClient) -> None:
        for _ in range(100):
            try:
                await api.request("GET", "/apis/remediator.dev/v1alpha1")
                return
            except Exception:  # not served yet
                await asyncio.sleep(0.1)

    def next_targets(self, count: int) -> list[str]:
        names = [f"t-{self.serial + i}" for i in range(count)]
        self.serial += count
        return names

    # ------------------------------------------------------------------ one subject
    def wait_acted(
        self, subject: Subject, targets: list[str], sent: dict[str, float], timeout: float
    ) -> dict[str, float]:
        """target -> its /scale write's time, once each target has one after its alert."""
        deadline = time.monotonic() + timeout
        acted: dict[str, float] = {}
        progress = time.monotonic()
        while True:
            writes = self.cluster.scale_writes()
            for t in targets:
                when = writes.get((subject.namespace, t))
                if when is not None and t not in acted and when >= sent[t] - 0.05:
                    acted[t] = when
                    progress = time.monotonic()
            if len(acted) == len(targets) or time.monotonic() > deadline:
                return acted
            if time.monotonic() - progress > STALLED:
                self.say(f"{subject.key}: nothing acted for {STALLED} s; giving up the wait")
                return acted
            time.sleep(0.1)

    def latency(
        self, targets: list[str], sent: dict[str, float], acted: dict[str, float]
    ) -> dict[str, Any]:
        # an alert not acted on when the wait gave up counts with the time it had waited
        # (a lower bound: the percentiles are never flattered by what did not finish)
        gave_up = time.time()
        values = [(acted.get(t, gave_up) - sent[t]) * 1000 for t in targets]
        return {
            "alerts": len(targets),
            "acted": sum(1 for t in targets if t in acted),
            "p50_ms": round(percentile(values, 50), 1),
            "p95_ms": round(percentile(values, 95), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(max(values, default=float("nan")), 1),
        }

    async def _send(
        self, subject: Subject, session: aiohttp.ClientSession, alerts: list[tuple[str, str]]
    ) -> None:
        """One delivery, given up after `WAIT_RATE` (its alerts then count as unacted, unless
        they are acted on all the same): a subject that no longer answers must not hold the
        run."""
        try:
            await asyncio.wait_for(subject.send(session, alerts), WAIT_RATE)
        except (TimeoutError, aiohttp.ClientError, RuntimeError) as e:
            self.send_failures += len(alerts)
            self.say(f"{subject.key}: {len(alerts)} alert(s) not delivered: {e!r}"[:300])

    async def _steady(self, subject: Subject, rate: float, targets: list[str]) -> dict[str, float]:
        sent: dict[str, float] = {}
        async with aiohttp.ClientSession() as session:
            tasks = []
            start = time.monotonic()
            for i, target in enumerate(targets):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent[target] = time.time()
                name = f"{subject.key.replace('_', '-')}-{target}"
                tasks.append(asyncio.create_task(self._send(subject, session, [(target, name)])))
            await asyncio.gather(*tasks)
        return sent

    async def _burst(self, subject: Subject, targets: list[str]) -> dict[str, float]:
        pairs = [(t, f"{subject.key.replace('_', '-')}-{t}") for t in targets]
        chunks = [pairs[i : i + 100] for i in range(0, len(pairs), 100)]
        async with aiohttp.ClientSession() as session:
            now = time.time()
            sent = dict.fromkeys(targets, now)
            await asyncio.gather(*(self._send(subject, session, c) for c in chunks))
        return sent

    def measure(self, subject: Subject) -> dict[str, Any]:
        self.serial = 0  # each subject has its own targets t-0, t-1, ... in its namespace
        try:
            return self._measure(subject)
        finally:
            subject.stop()
            if self.spy is not None:  # it ends with the process it samples
                self.spy.wait(60)
                self.spy = None

    def start_profile(self, subject: Subject) -> None:
        """py-spy samples the subject from now until it stops (its rates and storm):
        `<profile>/<cluster>-<subject>.txt`, collapsed stacks (one a line, with a count)."""
        if self.profile is None:
            return
        self.profile.mkdir(parents=True, exist_ok=True)
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        out = self.profile / f"{self.cluster.name}-{subject.key}.txt"
        command = [spy, "record", "--pid", str(subject.pid), "--format", "raw", "-o", str(out)]
        self.spy = subprocess.Popen(
            [*command, "--nonblocking", "--rate", "50"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _measure(self, subject: Subject) -> dict[str, Any]:
        self.send_failures = 0
        result: dict[str, Any] = {"latency": {}}
        subject.start()
        subject.wait_ready()
        targets = self.next_targets(WARM_UP)
        sent = asyncio.run(self._steady(subject, 5, targets))
        self.wait_acted(subject, targets, sent, WAIT_RATE)
        subject.quiet(timeout=20)
        cpu = subject.cpu_seconds()
        time.sleep(3)
        result["idle"] = {
            "rss_mib": round(subject.rss_mib(), 1),
            "cpu_percent": round(100 * (subject.cpu_seconds() - cpu) / 3, 1),
        }
        self.say(f"{subject.key}: up, warm, idle {result['idle']}")
        self.start_profile(subject)
        for rate in self.rates:
            key = f"rate_{rate:g}"
            targets = self.next_targets(int(rate * self.duration))
            before = self.cluster.requests()
            cpu = subject.cpu_seconds()
            sent = asyncio.run(self._steady(subject, rate, targets))
            acted = self.wait_acted(subject, targets, sent, WAIT_RATE)
            subject.quiet(timeout=30)
            result["latency"][key] = self.latency(targets, sent, acted) | {
                "rate": rate,
                "cpu_s_per_remediation": round(
                    (subject.cpu_seconds() - cpu) / max(len(acted), 1), 4
                ),
                "loadavg": loadavg(),
            }
            if key == "rate_10":
                result["requests"] = self.requests(before, self.cluster.requests(), len(acted))
            self.say(f"{subject.key}: {key} {result['latency'][key]}")
        targets = self.next_targets(self.storm)
        cpu = subject.cpu_seconds()
        sent = asyncio.run(self._burst(subject, targets))
        first = min(sent.values())
        acted = self.wait_acted(subject, targets, sent, WAIT_STORM)
        subject.quiet(timeout=30)
        storm = self.latency(targets, sent, acted)
        last = max(acted.values(), default=first)
        storm.update(
            all_acted_s=round(last - first, 2),
            throughput_per_s=round(len(acted) / max(last - first, 1e-9), 1),
            cpu_s_per_remediation=round((subject.cpu_seconds() - cpu) / max(len(acted), 1), 4),
            rss_mib=round(subject.rss_mib(), 1),
            loadavg=loadavg(),
        )
        result["latency"]["storm"] = storm
        result["throughput_per_s"] = storm["throughput_per_s"]
        result["cpu_s_per_remediation"] = storm["cpu_s_per_remediation"]
        result["phases"] = dict(self.cluster.phases(subject.namespace))
        result["alerts_not_delivered"] = self.send_failures
        self.say(f"{subject.key}: storm {storm}; phases {result['phases']}")
        return result

    @staticmethod
    def requests(
        before: Counter[RequestKey], after: Counter[RequestKey], remediations: int
    ) -> dict[str, Any]:
        delta = after - before
        total = sum(delta.values())
        return {
            "remediations": remediations,
            "per_remediation": round(total / max(remediations, 1), 2),
            "by_request": {
                f"{verb} {resource}": round(n / max(remediations, 1), 2)
                for (verb, resource), n in sorted(delta.items())
            },
        }

    # ------------------------------------------------------------------ memory
    def load(self, start: int, stop: int, model: dict[str, Any]) -> None:
        """Incidents `start`…`stop - 1` in the load namespace, as remediation leaves them:
        Remediator's status (copied from one of its own) and the bare operator's record of
        the spec it handled (so neither has anything to do on resume)."""
        status = json.dumps(model["status"])

        def filler(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
            obj = incident(LOAD_NAMESPACE, f"filler-{i}", f"filler-{i}")
            essence = KOPF_DIFFBASE.build(body=kopf.Body(cast(kopf.RawBody, obj)))
            obj["metadata"]["annotations"] = {
                f"{KOPF_DIFFBASE.prefix}/{KOPF_DIFFBASE.key}": json.dumps(
                    essence, separators=(",", ":")
                )
            }
            target = f"Deployment/{model['_target']}"
            return obj, json.loads(status.replace(target, f"Deployment/filler-{i}"))

        self.cluster.create_incidents([filler(i) for i in range(start, stop)])

    def remediated_model(self) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            api = KubeClient(self.cluster.kubeconfig, "observer")
            ns = self.subjects["remediator"].namespace
            try:
                answer = await api.request(
                    "GET",
                    namespaced("remediator.dev", "v1alpha1", ns, "incidents"),
                    params={"limit": "50"},
                )
            finally:
                await api.close()
            for obj in answer["items"]:
                if (obj.get("status") or {}).get("phase") == "Remediated":
                    target = obj["spec"]["labels"]["deployment"]
                    return cast(dict[str, Any], obj) | {"_target": target}
            raise RuntimeError("no remediated incident of Remediator's to copy")

        return asyncio.run(run())

    def restart(self, subject: Subject, incidents: int) -> dict[str, Any]:
        """Start the operator with `incidents` Incidents to resume; the catch-up is the
        time until an alert sent as soon as it answers is acted on and its CPU is quiet."""
        probe = f"probe-{subject.key.replace('_', '-')}-{subject.restarts}"

        async def make_probe() -> None:
            api = KubeClient(self.cluster.kubeconfig, "seed")
            try:
                path = namespaced("apps", "v1", subject.namespace, "deployments")
                await api.create(path, deployment(subject.namespace, probe))
            finally:
                await api.close()

        asyncio.run(make_probe())
        started_wall, started = time.time(), time.monotonic()
        subject.start()
        try:
            return self._restarted(subject, probe, started_wall, started, incidents)
        finally:
            subject.stop()

    def _restarted(
        self, subject: Subject, probe: str, started_wall: float, started: float, incidents: int
    ) -> dict[str, Any]:
        subject.wait_ready(timeout=300)
        ready = time.monotonic() - started
        sent = asyncio.run(self._steady(subject, 1, [probe]))
        acted = self.wait_acted(subject, [probe], sent, WAIT_RESTART)
        quiet = subject.quiet(timeout=WAIT_RESTART, window=1.0) - started
        probe_s = acted[probe] - started_wall if probe in acted else float("nan")
        return {
            "incidents": incidents,
            "rss_mib": round(subject.rss_mib(), 1),
            "ready_s": round(ready, 1),
            "probe_acted_s": round(probe_s, 1),
            "catch_up_s": round(max(probe_s, quiet), 1),
            "loadavg": loadavg(),
        }

    def memory(self, sizes: list[int]) -> dict[str, dict[str, Any]]:
        model = self.remediated_model()
        for key in OPERATORS:  # from now on they serve only the load namespace
            self.subjects[key].namespace = LOAD_NAMESPACE
        out: dict[str, dict[str, Any]] = {k: {"loaded": []} for k in OPERATORS}
        loaded = 0
        for size in sizes:
            self.load(loaded, size, model)
            loaded = size
            self.say(f"{size} Incidents loaded")
            for key in OPERATORS:
                point = self.restart(self.subjects[key], size)
                out[key]["loaded"].append(point)
                self.say(f"{key}: restart with {size} Incidents {point}")
        for key in OPERATORS:
            points = out[key]["loaded"]
            out[key]["kb_per_incident"] = round(slope(points) * 1024, 2)
        return out

    # ------------------------------------------------------------------ all of it
    def run(self, sizes: list[int]) -> dict[str, Any]:
        started = time.monotonic()
        self.seed()
        self.say(f"seeded: {self.targets_per_subject()} target Deployments per subject")
        for key in SUBJECTS:
            self.results[key] = self.measure(self.subjects[key])
        if sizes:
            for key, memory in self.memory(sizes).items():
                self.results[key]["memory"] = memory
                self.results[key]["memory"]["idle_rss_mib"] = self.results[key]["idle"]["rss_mib"]
        self.results["ratios"] = ratios(self.results)
        self.results["loadavg"]["end"] = loadavg()
        self.results["took_s"] = round(time.monotonic() - started, 1)
        return self.results


def slope(points: list[dict[str, Any]]) -> float:
    """Least-squares MiB per Incident."""
    xs = [p["incidents"] for p in points]
    ys = [p["rss_mib"] for p in points]
    if len(xs) < 2:
        return float("nan")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def ratios(results: dict[str, Any]) -> dict[str, float]:
    r, k, f = results["remediator"], results["bare_kopf"], results["floor"]

    def div(a: float, b: float) -> float:
        return round(a / b, 2) if b else float("nan")

    p99 = "rate_50"
    out = {
        "throughput_vs_bare_kopf": div(r["throughput_per_s"], k["throughput_per_s"]),
        "throughput_vs_floor": div(r["throughput_per_s"], f["throughput_per_s"]),
        "requests_vs_floor": div(
            r["requests"]["per_remediation"], f["requests"]["per_remediation"]
        ),
        "requests_vs_bare_kopf": div(
            r["requests"]["per_remediation"], k["requests"]["per_remediation"]
        ),
    }
    if p99 in r["latency"]:
        out["p99_50_vs_bare_kopf"] = div(r["latency"][p99]["p99_ms"], k["latency"][p99]["p99_ms"])
        out["p99_50_vs_floor"] = div(r["latency"][p99]["p99_ms"], f["latency"][p99]["p99_ms"])
    return out


def goals(results: dict[str, Any]) -> dict[str, bool | None]:
    met: dict[str, bool | None] = {}
    for name, check in GOALS.items():
        try:
            met[name] = bool(check(results))
        except (KeyError, IndexError, TypeError):
            met[name] = None
    return met


# ---------------------------------------------------------------------- output
def table(all_results: dict[str, Any]) -> str:
    clusters = [c for c in ("emulator", "real") if c in all_results]
    if not clusters:
        return "no cluster measured"
    head = f"{'':34}" + "".join(
        f"{c + ' ' + s:>24}" for c in clusters for s in ("floor", "kopf", "remed.")
    )
    lines = [head.replace("remed.", "remediator")]

    def row(label: str, value: Callable[[dict[str, Any]], Any]) -> None:
        cells = []
        for c in clusters:
            for s in SUBJECTS:
                try:
                    v = value(all_results[c][s])
                except (KeyError, IndexError, TypeError):
                    v = ""
                cells.append(f"{v!s:>24}")
        lines.append(f"{label:34}" + "".join(cells))

    rates = all_results[clusters[0]]["remediator"]["latency"].keys()
    for key in rates:
        row(f"{key} p50/p95/p99 ms", partial(_pcts, key))
    row("alerts not acted (waits ended)", _unacted)
    row("storm: all acted (s)", lambda r: r["latency"]["storm"]["all_acted_s"])
    row("throughput (remediations/s)", lambda r: r["throughput_per_s"])
    row("API requests / remediation", lambda r: r["requests"]["per_remediation"])
    row("CPU-seconds / remediation", lambda r: r["cpu_s_per_remediation"])
    row("RSS idle (MiB)", lambda r: r["idle"]["rss_mib"])
    loaded = all_results[clusters[0]]["remediator"].get("memory", {}).get("loaded", [])
    for i, point in enumerate(loaded):
        row(f"RSS with {point['incidents']} Incidents (MiB)", partial(_loaded, i, "rss_mib"))
    row("slope (KB per Incident)", lambda r: r["memory"]["kb_per_incident"])
    row("catch-up after the last restart (s)", partial(_loaded, -1, "catch_up_s"))
    for c in clusters:
        lines.append(f"{c}: ratios {all_results[c]['ratios']}")
        lines.append(
            f"{c}: load average {all_results[c]['loadavg']}, took {all_results[c]['took_s']} s"
        )
    if "real" in all_results:
        for name, ok in all_results["real"]["goals"].items():
            lines.append(f"goal (real) {name}: {'met' if ok else 'MISSED' if ok is False else '?'}")
    return "\n".join(lines)


def _pcts(key: str, subject: dict[str, Any]) -> str:
    latency = subject["latency"][key]
    return f"{latency['p50_ms']:.0f}/{latency['p95_ms']:.0f}/{latency['p99_ms']:.0f}"


def _unacted(subject: dict[str, Any]) -> int:
    return sum(r["alerts"] - r["acted"] for r in subject["latency"].values())


def _loaded(index: int, field: str, subject: dict[str, Any]) -> Any:
    return subject["memory"]["loaded"][index][field]


def plot(all_results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    clusters = [c for c in ("emulator", "real") if c in all_results]
    if not clusters:
        return False
    fig, axes = plt.subplots(1, len(clusters), figsize=(6.4 * len(clusters), 4), squeeze=False)
    for ax, c in zip(axes[0], clusters, strict=True):
        for s, style in zip(SUBJECTS, ("o:", "s--", "^-"), strict=True):
            latency = all_results[c][s]["latency"]
            keys = [k for k in latency if k.startswith("rate_")]
            ax.plot(
                [latency[k]["rate"] for k in keys],
                [latency[k]["p99_ms"] for k in keys],
                style,
                label=f"{s} p99",
            )
        ax.axhline(250, color="grey", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("alerts per second (steady)")
        ax.set_ylabel("alert → /scale written, p99 (ms, log)")
        ax.set_title(f"{c} (grey: 250 ms)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


@click.command()
@click.option(
    "--cluster",
    "clusters",
    type=click.Choice(["emulator", "real", "both"]),
    default="both",
    show_default=True,
)
@click.option("--duration", default=5.0, show_default=True, help="Seconds per steady rate.")
@click.option("--rates", default="10,50,100", show_default=True)
@click.option("--storm", default=1000, show_default=True, help="Alerts in the storm.")
@click.option(
    "--sizes",
    default="1000,5000,12500",
    show_default=True,
    help="Incidents loaded for the restarts (empty: no memory measurement).",
)
@click.option("--output", type=click.Path(path_type=Path), default=Path("bench/results.json"))
@click.option("--plot-file", type=click.Path(path_type=Path), default=Path("bench/latency.png"))
@click.option(
    "--logs", type=click.Path(path_type=Path), default=None, help="Keep the subjects' logs here."
)
@click.option(
    "--profile",
    type=click.Path(path_type=Path),
    default=None,
    help="Sample every subject with py-spy during its rates and storm; collapsed stacks here "
    "(py-spy: pip install -e 'devtools[profile]').",
)
def main(
    clusters: str,
    duration: float,
    rates: str,
    storm: int,
    sizes: str,
    output: Path,
    plot_file: Path,
    logs: Path | None,
    profile: Path | None,
) -> None:
    """The floor, a bare Kopf operator and Remediator, side by side, on the emulator and on a
    real control plane."""
    rate_list = [float(r) for r in rates.split(",") if r]
    size_list = [int(s) for s in sizes.split(",") if s]
    kinds = ["emulator", "real"] if clusters == "both" else [clusters]
    all_results: dict[str, Any] = {}
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix=f"remediator-bench-{kind}-") as tmp:
            workdir = Path(tmp)
            stage(kind, f"starting the cluster; load average {loadavg()}")
            try:
                cluster = bench_clusters.start(kind, workdir)
            except bench_clusters.ClusterUnavailableError as e:
                click.echo(f"notice: no {kind} cluster, so no figures for it: {e}")
                continue
            try:
                run = Run(cluster, workdir, rate_list, duration, storm, profile)
                results = run.run(size_list)
                if kind == "real":
                    results["goals"] = goals(results)
                all_results[kind] = results
            finally:
                cluster.stop()
                if logs is not None:
                    (logs / kind).mkdir(parents=True, exist_ok=True)
                    for log in workdir.glob("*.log"):
                        log.rename(logs / kind / log.name)
    all_results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    all_results["took_s"] = round(time.monotonic() - T0, 1)
    click.echo(table(all_results))
    if plot(all_results, plot_file):
        click.echo(f"plot written to {plot_file}")
    else:
        click.echo("matplotlib not installed (pip install -e '.[bench]'): no plot")
    output.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(output.read_text()) if output.exists() else {}
    existing.pop("operator", None)  # the single-subject results of the bench before issue 14
    existing.update(all_results)
    output.write_text(json.dumps(existing, indent=2) + "\n")
    click.echo(f"written to {output}; {all_results['took_s']} s in all")


if __name__ == "__main__":
    main()
