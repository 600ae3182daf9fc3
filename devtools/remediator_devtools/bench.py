"""The operator's own benchmark: `python -m remediator_devtools.bench` (or `make bench`).

The real operator (`remediator run`, with the Alertmanager bridge) runs as a subprocess, so
its RSS and CPU are its own, against the API emulator served from this process (which also
generates the load). Measured, printed as a table and merged into `bench/results.json`
under the key `operator` (the emulator's own throughput is `make bench-sandbox`, key
`sandbox`, run just before by `make bench`):

- alert-to-action latency: from just before the bench POSTs an alert to the bridge (an
  upper bound on the bridge's receipt) to the emulator's audit-log time of the target's
  `PATCH …/scale` (both wall clock of this machine), at steady rates and for a storm of
  alerts in one burst (with duplicates: HA pairs and resends), and again at 10 alerts/s
  with 10,000 Incidents and 1,000 policies loaded;
- the throughput ceiling: distinct incidents of the storm remediated per second;
- Kubernetes API requests per remediation, per action, counted by the emulator, against
  the minimum the action needs (`MINIMUM` says what is assumed);
- the operator's RSS and CPU while idle, and with 10,000 Incidents and 1,000 policies;
- policy matching time with 10,000 policies (`core.matching`, in this process);
- a PNG plot of latency against load (`bench/latency.png`, with matplotlib when installed:
  `pip install -e '.[bench]'`, which `make bench` does).

Every alert acts on a Deployment of its own (cooldown and rate-limit guards never refuse),
through P2 `auto` policies with a `scale` step; `--max-concurrent` is raised to the storm's
size so the MaxConcurrent brake (default 5) does not turn the storm into a queue.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import click

from kube_emulator import Sandbox
from remediator.core.crds import all_crds
from remediator.core.models import Incident, RemediationPolicy

NS = "bench"
TOKEN = "bench-token"
ALERTNAMES = 8  # policies the bench alerts spread over (each may act 1,000 times an hour)
TERMINAL = frozenset(
    {"Remediated", "Resolved", "Failed", "Blocked", "NoPolicy", "Rejected", "Escalated", "DryRun"}
)
INCIDENTS = ("remediator.dev", "incidents")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# What one auto-approved remediation needs at least, with the status as the audit trail
# and the intent persisted before the change (see README, Benchmarks):
MINIMUM = {
    "scale": {
        "POST incidents (the bridge records the alert)": 1,
        "GET deployments (observe the target, plan from its replicas)": 1,
        "PATCH deployments/scale (the action)": 1,
        "PATCH incidents/status (intent with plan, before the change)": 1,
        "PATCH incidents/status (outcome, after the change)": 1,
        "POST events (decision, outcome)": 2,
    },
    "circuitBreaker": {
        "POST incidents (the bridge records the alert)": 1,
        "GET deployments (observe the target)": 1,
        "GET configmaps (the previous value, for the revert)": 1,
        "PATCH configmaps (the action)": 1,
        "PATCH incidents/status (intent with plan, before the change)": 1,
        "PATCH incidents/status (outcome, after the change)": 1,
        "POST events (decision, outcome)": 2,
    },
}


# ------------------------------------------------------------------------- fixtures
def deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"example/{name}:v1"}]},
            },
        },
    }


def policy(name: str, alertname: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "remediator.dev/v1alpha1",
        "kind": "RemediationPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "match": {"alertnames": [alertname], "severities": ["P2"]},
            "target": {"kind": "Deployment", "nameFromLabel": "deployment"},
            "steps": steps,
            "guards": {"maxActionsPerPolicyPerHour": 1000},
        },
    }


def alert(alertname: str, target: str, fingerprint: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {
            "alertname": alertname,
            "severity": "warning",
            "namespace": NS,
            "deployment": target,
        },
        "annotations": {"summary": f"bench alert on {target}"},
        "startsAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def payload(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "receiver": "remediator",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------- the process
@dataclass
class Operator:
    """`remediator run` with the bridge, as a subprocess (its own RSS and CPU)."""

    kubeconfig: Path
    workdir: Path
    max_concurrent: int
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Operator:
        token = self.workdir / "token"
        token.write_text(TOKEN)
        log = (self.workdir / f"operator-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "remediator",
                "run",
                "--kubeconfig",
                str(self.kubeconfig),
                "--log-format",
                "json",
                "--max-concurrent",
                str(self.max_concurrent),
                "--identity",
                "remediator-bench",
                "--bridge-port",
                str(self.port),
                "--bridge-host",
                "127.0.0.1",
                "--bridge-token-file",
                str(token),
                "--bridge-allow-namespace",
                NS,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime

    def idle(self, seconds: float) -> dict[str, float]:
        cpu, wall = self.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        used = self.cpu_seconds() - cpu
        return {
            "rss_mib": round(self.rss_mib(), 1),
            "cpu_percent": round(100 * used / (time.monotonic() - wall), 2),
        }


# ------------------------------------------------------------------------- the bench
class Bench:
    def __init__(self, box: Sandbox, workdir: Path, storm: int, duration: float) -> None:
        self.box = box
        self.workdir = workdir
        self.storm = storm
        self.duration = duration
        self.serial = 0
        self.sent: dict[str, float] = {}  # target -> when its alert was POSTed (wall clock)
        self.incident_of: dict[str, str] = {}  # target -> incident name
        self.results: dict[str, Any] = {}
        self.bridge = ""

    # -- seeding
    def seed(self, targets: int) -> None:
        api = self.box.api

        def run() -> None:
            for crd in all_crds():
                api.internal_create("apiextensions.k8s.io", "customresourcedefinitions", crd)
            for ns in (NS, "remediator-system"):
                api.internal_create("", "namespaces", {"metadata": {"name": ns}})

        self.box.call(run)
        self.add_targets(targets)

        def policies() -> None:
            for i in range(ALERTNAMES):
                scale = [{"action": "scale", "by": 1, "max": 10}]
                api.internal_create(
                    "remediator.dev",
                    "remediationpolicies",
                    policy(f"bench-scale-{i}", f"BenchAlert{i}", scale),
                )

        self.box.call(policies)

    def add_targets(self, count: int, prefix: str = "t") -> list[str]:
        names = [f"{prefix}-{self.serial + i}" for i in range(count)]
        self.serial += count
        api = self.box.api

        def run(chunk: list[str]) -> None:
            for name in chunk:
                api.internal_create("apps", "deployments", deployment(name))

        for start in range(0, len(names), 500):
            self.box.call(lambda c=names[start : start + 500]: run(c), timeout=60)  # type: ignore[misc]
        return names

    def phases(self) -> dict[str, str]:
        def run() -> dict[str, str]:
            return {
                o["metadata"]["name"]: (o.get("status") or {}).get("phase", "Pending")
                for o in self.box.api.store.iter(INCIDENTS, NS)
            }

        return self.box.call(run, timeout=60)

    def scale_patches(self) -> dict[str, float]:
        """Target name -> time of its first changing PATCH of deployments/scale."""
        first: dict[str, float] = {}
        # a generous timeout: with 10,000 incidents resuming the emulator's loop is busy
        for w in self.box.call(lambda: list(self.box.api.store.writes), timeout=120):
            scale = w.verb == "patch" and w.resource == "deployments" and w.subresource == "scale"
            if scale and w.changed and w.name not in first:
                first[w.name] = w.time
        return first

    def wait_terminal(self, names: Iterable[str], timeout: float) -> tuple[float, dict[str, str]]:
        wanted = set(names)
        started = time.monotonic()
        phases: dict[str, str] = {}
        while time.monotonic() - started < timeout:
            phases = self.phases()
            if all(phases.get(n) in TERMINAL for n in wanted):
                break
            time.sleep(0.1)
        return time.monotonic() - started, {n: phases.get(n, "missing") for n in wanted}

    # -- load
    async def post(
        self, session: aiohttp.ClientSession, alerts: list[dict[str, Any]]
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for attempt in range(5):  # as Alertmanager does: 5xx is retried
            async with session.post(
                f"{self.bridge}/alerts", json=payload(alerts), headers=headers
            ) as response:
                body: dict[str, Any] = await response.json()
                if response.status == 200:
                    return body
                if response.status < 500 or attempt == 4:
                    raise RuntimeError(f"bridge answered {response.status}: {body}")
            await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def _alert(self, target: str) -> dict[str, Any]:
        fingerprint = f"{hash(target) & 0xFFFFFFFFFFFF:012x}{self.serial:04x}"[-16:]
        return alert(f"BenchAlert{self.serial % ALERTNAMES}", target, fingerprint)

    async def steady(self, rate: float, targets: list[str]) -> None:
        async with aiohttp.ClientSession() as session:
            tasks = []
            start = time.monotonic()
            for i, target in enumerate(targets):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                self.serial += 1
                body = self._alert(target)
                self.sent[target] = time.time()
                tasks.append(asyncio.create_task(self._record(session, target, body)))
            await asyncio.gather(*tasks)

    async def _record(
        self, session: aiohttp.ClientSession, target: str, body: dict[str, Any]
    ) -> None:
        answer = await self.post(session, [body])
        self.incident_of[target] = answer["incidents"][0]["incident"].split("/", 1)[1]

    async def burst(self, targets: list[str], duplicates: int) -> float:
        """All alerts in concurrent requests of 100; `duplicates` alerts are sent twice
        (in another request, as the other Alertmanager of an HA pair does)."""
        alerts = []
        for target in targets:
            self.serial += 1
            alerts.append((target, self._alert(target)))
        copies = [alerts[i * len(alerts) // duplicates] for i in range(duplicates)]
        everything = alerts + copies
        requests = [everything[i : i + 100] for i in range(0, len(everything), 100)]
        async with aiohttp.ClientSession() as session:
            sent = time.time()
            for target, _ in everything:
                self.sent.setdefault(target, sent)
            answers = await asyncio.gather(
                *(self.post(session, [a for _, a in chunk]) for chunk in requests)
            )
        for chunk, answer in zip(requests, answers, strict=True):
            for (target, _), item in zip(chunk, answer["incidents"], strict=True):
                self.incident_of[target] = item["incident"].split("/", 1)[1]
        return sent

    # -- measures
    def latency(self, targets: list[str], patches: dict[str, float]) -> dict[str, Any]:
        latencies = [
            (patches[t] - self.sent[t]) * 1000 for t in targets if t in patches and t in self.sent
        ]
        return {
            "alerts": len(targets),
            "acted": len(latencies),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "max_ms": round(max(latencies, default=float("nan")), 1),
        }

    def run_rate(self, operator: Operator, rate: float, key: str) -> None:
        targets = self.add_targets(int(rate * self.duration))
        counts = self.box.request_counts()
        cpu, wall = operator.cpu_seconds(), time.monotonic()
        asyncio.run(self.steady(rate, targets))
        _, phases = self.wait_terminal([self.incident_of[t] for t in targets], 120)
        used = operator.cpu_seconds() - cpu
        result = self.latency(targets, self.scale_patches())
        result.update(
            rate=rate,
            remediated=sum(1 for p in phases.values() if p == "Remediated"),
            not_terminal=sum(1 for p in phases.values() if p not in TERMINAL),
            operator_cpu_percent=round(100 * used / (time.monotonic() - wall), 1),
            operator_rss_mib=round(operator.rss_mib(), 1),
        )
        self.results.setdefault("latency", {})[key] = result
        if key == "rate_10":
            self.results.setdefault("requests_per_action", {})["scale"] = self.requests(
                counts, self.box.request_counts(), len(targets), "scale"
            )
        click.echo(f"  {key}: {result}")

    def requests(
        self,
        before: dict[tuple[str, str, str], int],
        after: dict[tuple[str, str, str], int],
        remediations: int,
        action: str,
    ) -> dict[str, Any]:
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        per = {
            f"{verb} {resource}": round(n / remediations, 2)
            for (verb, _, resource), n in sorted(delta.items())
            if n > 0
        }
        total = sum(n for n in delta.values() if n > 0) / remediations
        minimum = sum(MINIMUM[action].values())
        return {
            "remediations": remediations,
            "per_remediation": round(total, 2),
            "minimum": minimum,
            "ratio": round(total / minimum, 2),
            "by_request": per,
            "minimum_assumed": MINIMUM[action],
        }

    def run_storm(self, operator: Operator) -> None:
        duplicates = self.storm // 7
        targets = self.add_targets(self.storm - duplicates)
        cpu = operator.cpu_seconds()
        sent = asyncio.run(self.burst(targets, duplicates))
        received = time.time() - sent
        names = {self.incident_of[t] for t in targets}
        took, phases = self.wait_terminal(names, 120)
        took = time.time() - sent
        patches = self.scale_patches()
        result = self.latency(targets, patches)
        done = [patches[t] for t in targets if t in patches]
        last = max(done, default=sent)
        count = Counter(phases.values())
        result.update(
            alerts=self.storm,
            duplicates=duplicates,
            distinct=len(names),
            bridge_accepted_s=round(received, 2),
            all_terminal_s=round(took, 2),
            remediated=count.get("Remediated", 0),
            lost=len(names) - sum(count[p] for p in TERMINAL),
            phases=dict(count),
            throughput_per_s=round(len(done) / max(last - sent, 1e-9), 1),
            operator_cpu_seconds=round(operator.cpu_seconds() - cpu, 1),
            operator_rss_mib=round(operator.rss_mib(), 1),
        )
        self.results.setdefault("latency", {})["storm"] = result
        self.results["throughput_ceiling_per_s"] = result["throughput_per_s"]
        click.echo(f"  storm: {result}")

    def run_circuit_breaker(self, operator: Operator, count: int = 20) -> None:
        api = self.box.api
        targets = self.add_targets(count, prefix="cb")

        def run() -> None:
            for i, target in enumerate(targets):
                api.internal_create(
                    "",
                    "configmaps",
                    {"metadata": {"name": f"flags-{target}", "namespace": NS}, "data": {}},
                )
                step = {"action": "circuitBreaker", "configMap": f"flags-{target}", "key": "open"}
                api.internal_create(
                    "remediator.dev",
                    "remediationpolicies",
                    policy(f"bench-cb-{i}", f"BenchBreaker{i}", [{**step, "value": "true"}]),
                )

        self.box.call(run)
        time.sleep(1)  # the policies' own handlers (validity condition) are not counted
        counts = self.box.request_counts()

        async def send() -> None:
            async with aiohttp.ClientSession() as session:
                for i, target in enumerate(targets):
                    self.serial += 1
                    body = alert(f"BenchBreaker{i}", target, f"cb{self.serial:014x}")
                    answer = await self.post(session, [body])
                    self.incident_of[target] = answer["incidents"][0]["incident"].split("/")[1]
                    await asyncio.sleep(0.05)

        asyncio.run(send())
        self.wait_terminal([self.incident_of[t] for t in targets], 60)
        time.sleep(0.5)
        self.results.setdefault("requests_per_action", {})["circuitBreaker"] = self.requests(
            counts, self.box.request_counts(), count, "circuitBreaker"
        )

    def load(self, incidents: int, policies: int) -> None:
        """Incidents as remediation leaves them (status copied from a real one) and
        policies that match nothing the bench sends, created in the emulator directly."""
        api = self.box.api

        def template() -> dict[str, Any]:
            for obj in api.store.iter(INCIDENTS, NS):
                if (obj.get("status") or {}).get("phase") == "Remediated":
                    return obj
            raise RuntimeError("no remediated incident to copy")

        model = self.box.call(template)

        def run(start: int, stop: int) -> None:
            for i in range(start, stop):
                body = json.loads(json.dumps(model))
                name = f"filler-{i}"
                meta = body["metadata"]
                body.update(apiVersion="remediator.dev/v1alpha1", kind="Incident")
                body["spec"]["labels"]["deployment"] = name
                body["spec"]["alertname"] = "FillerAlert"
                # Kopf's record of the last handled spec must be this filler's own: a copied
                # one would make every filler look changed, i.e. 10,000 spurious updates.
                annotations = dict(meta.get("annotations") or {})
                annotations["remediator.dev/last-handled-configuration"] = json.dumps(
                    {"spec": body["spec"]}, separators=(",", ":")
                )
                body["metadata"] = {
                    "name": name,
                    "namespace": NS,
                    "labels": meta.get("labels") or {},
                    "annotations": annotations,
                }
                status = body.pop("status")
                for action in status.get("actions", []):
                    action["target"] = f"Deployment/{name}"
                status["policy"] = "filler"
                created = api.internal_create("remediator.dev", "incidents", body)
                created["status"] = status
                api.internal_update("remediator.dev", "incidents", created, "status")

        for start in range(0, incidents, 500):
            self.box.call(lambda s=start: run(s, min(s + 500, incidents)), timeout=120)  # type: ignore[misc]

        def make_policies() -> None:
            for i in range(policies):
                body = policy(
                    f"filler-{i}", f"FillerAlert{i}", [{"action": "scale", "by": 1, "max": 3}]
                )
                api.internal_create("remediator.dev", "remediationpolicies", body)

        self.box.call(make_policies, timeout=120)


def settle(box: Sandbox, quiet: float = 3.0, timeout: float = 300) -> float:
    """Wait until the API sees no request for `quiet` seconds; the time it took."""
    started = time.monotonic()
    last, since = sum(box.request_counts().values()), time.monotonic()
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        now = sum(box.request_counts().values())
        # the ticker's LIST and the peering/bookmark traffic are steady background
        if now - last > 4:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        last = now
    return time.monotonic() - started - quiet


def wait_ready(bench: Bench, operator: Operator, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout

    async def probe() -> bool:
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{bench.bridge}/healthz") as response,
            ):
                return response.status == 200
        except aiohttp.ClientError:
            return False

    while not asyncio.run(probe()):
        if operator.process is None or operator.process.poll() is not None:
            raise RuntimeError(f"the operator exited; see {bench.workdir}")
        if time.monotonic() > deadline:
            raise TimeoutError("the bridge did not come up")
        time.sleep(0.2)
    # warm-up: one alert all the way to its action (watches established, code paths hot)
    targets = bench.add_targets(5, prefix="warm")
    asyncio.run(bench.steady(5, targets))
    bench.wait_terminal([bench.incident_of[t] for t in targets], 30)


def matching_bench(policies: int = 10_000, rounds: int = 20) -> dict[str, Any]:
    from remediator.core import matching

    bodies = [
        RemediationPolicy.model_validate(
            policy(f"p-{i}", f"Alert{i}", [{"action": "scale", "by": 1}])
            | {"metadata": {"name": f"p-{i}", "namespace": NS}}
        )
        for i in range(policies)
    ]
    incident = Incident.model_validate(
        {
            "metadata": {"name": "i", "namespace": NS},
            "spec": {
                "alertname": f"Alert{policies // 2}",
                "severity": "P2",
                "labels": {"deployment": "x"},
            },
        }
    )
    started = time.perf_counter()
    for _ in range(rounds):
        chosen = matching.select_policy(incident, bodies)
    linear = (time.perf_counter() - started) / rounds
    assert chosen is not None and chosen.metadata.name == f"p-{policies // 2}"
    result: dict[str, Any] = {"policies": policies, "select_policy_ms": round(linear * 1000, 3)}
    index_type = getattr(matching, "PolicyIndex", None)
    if index_type is not None:
        started = time.perf_counter()
        index = index_type(bodies)
        built = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(rounds * 50):
            chosen = index.select(incident)
        indexed = (time.perf_counter() - started) / (rounds * 50)
        assert chosen is not None and chosen.metadata.name == f"p-{policies // 2}"
        result.update(
            indexed_select_ms=round(indexed * 1000, 4), index_build_ms=round(built * 1000, 1)
        )
    return result


def plot(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    latency = results["latency"]
    keys = [k for k in ("rate_10", "rate_50", "rate_100") if k in latency]
    rates = [latency[k]["rate"] for k in keys]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for q, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^:")):
        ax.plot(rates, [latency[k][f"{q}_ms"] for k in keys], style, label=q)
    ax.axhline(250, color="grey", linewidth=0.8)
    ax.text(rates[0], 255, "target p99 at 50/s: 250 ms", fontsize=8, color="grey")
    ax.set_xlabel("alerts per second (steady)")
    ax.set_ylabel("alert → target patched (ms)")
    storm = latency.get("storm")
    title = "remediator: alert-to-action latency on the API emulator"
    if storm:
        title += f"\nstorm of {storm['alerts']}: all handled in {storm['all_terminal_s']} s"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def table(results: dict[str, Any]) -> str:
    lines = [f"{'operator':<22}{'alerts':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}"]
    for key, r in results["latency"].items():
        if "error" in r:
            lines.append(f"{key:<22}{r['error']}")
            continue
        lines.append(
            f"{key:<22}{r['alerts']:>8}{r['p50_ms']:>10}{r['p95_ms']:>10}{r['p99_ms']:>10}"
        )
    storm = results["latency"].get("storm")
    if storm:
        lines.append(
            f"storm: {storm['distinct']} distinct incidents all terminal in "
            f"{storm['all_terminal_s']} s, {storm['remediated']} remediated, lost "
            f"{storm['lost']}; throughput {results['throughput_ceiling_per_s']} remediations/s"
        )
    for action, r in results.get("requests_per_action", {}).items():
        lines.append(
            f"API requests per {action}: {r['per_remediation']} (minimum {r['minimum']}, "
            f"{r['ratio']}x): {r['by_request']}"
        )
    for key, r in results.get("resources", {}).items():
        lines.append(f"operator {key}: {r}")
    if "matching" in results:
        lines.append(f"policy matching: {results['matching']}")
    return "\n".join(lines)


@click.command()
@click.option("--duration", default=15.0, show_default=True, help="Seconds per steady rate.")
@click.option("--storm", default=1000, show_default=True, help="Alerts in the storm.")
@click.option("--incidents", default=10_000, show_default=True)
@click.option("--policies", default=1000, show_default=True)
@click.option("--rates", default="10,50,100", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), default=Path("bench/results.json"))
@click.option("--plot-file", type=click.Path(path_type=Path), default=Path("bench/latency.png"))
@click.option("--skip-load", is_flag=True, help="Skip the 10,000-incident measurements.")
@click.option(
    "--only-load",
    is_flag=True,
    help="Only the restart with --incidents and --policies loaded (RSS, catch-up, latency "
    "at the first rate): ~2 minutes; prints the figures, writes no results.",
)
@click.option(
    "--logs",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep the operators' logs in this directory.",
)
def main(
    duration: float,
    storm: int,
    incidents: int,
    policies: int,
    rates: str,
    output: Path,
    plot_file: Path,
    skip_load: bool,
    only_load: bool,
    logs: Path | None,
) -> None:
    """Measure the operator with its bridge against the API emulator on this machine."""
    started = time.monotonic()
    rate_list = [float(r) for r in rates.split(",") if r]
    with tempfile.TemporaryDirectory(prefix="remediator-bench-") as tmp:
        workdir = Path(tmp)
        with Sandbox(kubeconfig=workdir / "kubeconfig", controllers=False) as box:
            bench = Bench(box, workdir, storm, duration)
            bench.seed(0)
            assert box.kubeconfig is not None
            operator = Operator(box.kubeconfig, workdir, max_concurrent=max(storm, 100)).start()
            bench.bridge = f"http://127.0.0.1:{operator.port}"
            try:
                wait_ready(bench, operator)
                settle(box)
                bench.results["resources"] = {"idle": operator.idle(10)}
                click.echo(f"  idle: {bench.results['resources']['idle']}")
                if not only_load:
                    for rate in rate_list:
                        bench.run_rate(operator, rate, f"rate_{rate:g}")
                    bench.run_circuit_breaker(operator)
                    bench.run_storm(operator)
                if not skip_load or only_load:
                    operator.stop()
                    bench.load(incidents, policies)
                    operator = Operator(box.kubeconfig, workdir, operator.max_concurrent).start()
                    bench.bridge = f"http://127.0.0.1:{operator.port}"
                    restart = time.monotonic()
                    wait_ready(bench, operator, timeout=300)
                    caught_up = settle(box) + (time.monotonic() - restart)
                    loaded = operator.idle(10)
                    loaded.update(
                        incidents=len(bench.phases()),
                        policies=policies + ALERTNAMES + (0 if only_load else 20),
                        restart_catch_up_s=round(caught_up, 1),
                    )
                    bench.results["resources"]["loaded"] = loaded
                    click.echo(f"  loaded: {loaded}")
                    try:
                        bench.run_rate(operator, rate_list[0], f"rate_{rate_list[0]:g}_loaded")
                    except (TimeoutError, RuntimeError, KeyError) as e:
                        bench.results["latency"][f"rate_{rate_list[0]:g}_loaded"] = {
                            "error": repr(e)
                        }
            finally:
                operator.stop()
                if logs is not None:
                    logs.mkdir(parents=True, exist_ok=True)
                    for log in workdir.glob("operator-*.log"):
                        log.rename(logs / log.name)
    if only_load:
        click.echo(json.dumps(bench.results, indent=2))
        return
    bench.results["matching"] = matching_bench()
    bench.results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    bench.results["took_s"] = round(time.monotonic() - started, 1)
    click.echo(table(bench.results))
    if plot(bench.results, plot_file):
        click.echo(f"plot written to {plot_file}")
    else:
        click.echo("matplotlib not installed (pip install -e '.[bench]'): no plot")
    output.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(output.read_text()) if output.exists() else {}
    existing["operator"] = bench.results
    output.write_text(json.dumps(existing, indent=2) + "\n")
    click.echo(f"written to {output} in {bench.results['took_s']} s")


if __name__ == "__main__":
    main()
