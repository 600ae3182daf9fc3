"""The three subjects the bench measures side by side, each a process of its own (so its
RSS and CPU are its own), each given alerts its own way:

- `floor` (`remediator_devtools.floor`): the fewest requests a remediation can make; gets
  alerts by `POST /alerts` and creates the Incidents itself;
- `bare_kopf` (`remediator_devtools.bare_kopf` under `kopf run`): the afternoon operator;
  the bench creates its Incidents, as an alert source would;
- `remediator` (`remediator run` with its bridge): gets Alertmanager payloads on the bridge.

Every alert acts on a Deployment of its own, in the subject's own namespace.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from .floor import incident
from .kubeapi import KubeClient, namespaced

CLK_TCK = os.sysconf("SC_CLK_TCK")
TOKEN = "bench-token"
ALERTNAMES = 8  # the policies the bench's alerts spread over (each may act 1,000 times an hour)
LOAD_NAMESPACE = "bench-load"  # where the two operators are restarted with many Incidents


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Subject:
    key: str
    namespace: str
    kubeconfig: Path
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    async def send(self, session: aiohttp.ClientSession, alerts: list[tuple[str, str]]) -> None:
        """(target Deployment, Incident name) pairs, in one request where the subject takes
        several."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the process
    def start(self) -> Subject:
        self.port = free_port()
        self.restarts += 1
        log = (self.workdir / f"{self.key}-{self.restarts}.log").open("wb")
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, env=env
        )
        return self

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.key} exited; see its log in {self.workdir}")
            try:
                with urllib.request.urlopen(self.health_url(), timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.key} did not come up in {timeout} s")
            time.sleep(0.1)

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

    def quiet(self, timeout: float = 60, window: float = 0.5, busy: float = 0.05) -> float:
        """Wait until the process used under `busy` CPU-seconds in each of two windows in a
        row (10 %); returns when its last busy window ended (monotonic)."""
        deadline = time.monotonic() + timeout
        calm, last = 0, self.cpu_seconds()
        ended = time.monotonic()
        while time.monotonic() < deadline and calm < 2:
            time.sleep(window)
            now = self.cpu_seconds()
            if now - last < busy:
                calm += 1
            else:
                calm, ended = 0, time.monotonic()
            last = now
        return ended


@dataclass
class Floor(Subject):
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "remediator_devtools.floor",
            "--kubeconfig",
            str(self.kubeconfig),
            "--port",
            str(self.port),
        ]

    async def send(self, session: aiohttp.ClientSession, alerts: list[tuple[str, str]]) -> None:
        body = {
            "alerts": [{"namespace": self.namespace, "target": t, "incident": n} for t, n in alerts]
        }
        async with session.post(f"http://127.0.0.1:{self.port}/alerts", json=body) as answer:
            if answer.status != 200:
                raise RuntimeError(f"the floor answered {answer.status}: {await answer.text()}")


@dataclass
class BareKopf(Subject):
    alerts: KubeClient | None = None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "kopf",
            "run",
            "-m",
            "remediator_devtools.bare_kopf",
            "--standalone",
            "--namespace",
            self.namespace,
            "--liveness",
            self.health_url(),
        ]

    async def send(self, session: aiohttp.ClientSession, alerts: list[tuple[str, str]]) -> None:
        # the alert source creates the Incident (its request counts as the remediation's)
        api = KubeClient(self.kubeconfig, "alerts", connections=64)
        try:
            path = namespaced("remediator.dev", "v1alpha1", self.namespace, "incidents")
            await asyncio.gather(
                *(api.create(path, incident(self.namespace, n, t)) for t, n in alerts)
            )
        finally:
            await api.close()


@dataclass
class Remediator(Subject):
    max_concurrent: int = 1000
    serial: int = 0

    def command(self) -> list[str]:
        token = self.workdir / "bridge-token"
        token.write_text(TOKEN)
        return [
            sys.executable,
            "-m",
            "remediator",
            "run",
            "--kubeconfig",
            str(self.kubeconfig),
            "--namespace",
            self.namespace,
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
            self.namespace,
        ]

    async def send(self, session: aiohttp.ClientSession, alerts: list[tuple[str, str]]) -> None:
        payload = {
            "receiver": "remediator",
            "status": "firing",
            "alerts": [self._alert(t) for t, _ in alerts],
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "version": "4",
            "groupKey": "{}:{}",
            "truncatedAlerts": 0,
        }
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for attempt in range(5):  # as Alertmanager does: a 5xx is retried
            async with session.post(
                f"http://127.0.0.1:{self.port}/alerts", json=payload, headers=headers
            ) as answer:
                if answer.status == 200:
                    return
                if answer.status < 500 or attempt == 4:
                    raise RuntimeError(
                        f"the bridge answered {answer.status}: {await answer.text()}"
                    )
            await asyncio.sleep(0.2 * (attempt + 1))

    def _alert(self, target: str) -> dict[str, Any]:
        self.serial += 1
        return {
            "status": "firing",
            "labels": {
                "alertname": f"BenchAlert{self.serial % ALERTNAMES}",
                "severity": "warning",
                "namespace": self.namespace,
                "deployment": target,
            },
            "annotations": {"summary": f"bench alert on {target}"},
            "startsAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": f"{self.serial:016x}",
        }


def policy(namespace: str, index: int) -> dict[str, Any]:
    """A P2 `auto` policy with one `scale` step (by one), for Remediator's alerts."""
    return {
        "apiVersion": "remediator.dev/v1alpha1",
        "kind": "RemediationPolicy",
        "metadata": {"name": f"bench-scale-{index}", "namespace": namespace},
        "spec": {
            "match": {"alertnames": [f"BenchAlert{index}"], "severities": ["P2"]},
            "target": {"kind": "Deployment", "nameFromLabel": "deployment"},
            "steps": [{"action": "scale", "by": 1, "max": 10}],
            "guards": {"maxActionsPerPolicyPerHour": 1000},
        },
    }
