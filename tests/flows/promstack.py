"""The real Prometheus and Alertmanager binaries, on loopback, for the flow tests.

Debian's packages (`make debs`): `prometheus` scrapes every second a tiny exporter the test
controls (`Exporter`), and `prometheus-alertmanager` runs without clustering. Each process
gets its own free port, config file, data folder and log file (shown when it fails to
start), and is terminated when its context ends.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from support.ports import free_port

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
HINT = "`make debs` as root installs Debian's packages `prometheus` and `prometheus-alertmanager`"
DEFAULT_LABELS: Mapping[str, str] = {"service": "web"}


@dataclass
class Exporter:
    """Serves `/metrics` in the Prometheus text format, with gauges the test sets.

    One series per gauge, labelled `labels[name]` (default `service="web"`)."""

    gauges: dict[str, float] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def render(self) -> bytes:
        gauges, labels = dict(self.gauges), dict(self.labels)  # copies: the test writes
        lines = []
        for name, value in sorted(gauges.items()):
            pairs = ",".join(
                f'{key}="{val}"' for key, val in sorted(labels.get(name, DEFAULT_LABELS).items())
            )
            lines.append(f"# TYPE {name} gauge\n{name}{{{pairs}}} {value}\n")
        return "".join(lines).encode()

    def start(self) -> Exporter:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.render()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@dataclass
class Prometheus:
    url: str
    exporter: Exporter

    def query(self, promql: str) -> list[float]:
        address = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        result = _get_json(address)["data"]["result"]
        return [float(series["value"][1]) for series in result]

    def set(
        self,
        name: str,
        value: float,
        timeout: float = 10,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Set the gauge and wait until Prometheus has scraped that value; the metric's name."""
        if labels is not None:
            self.exporter.labels[name] = dict(labels)
        self.exporter.gauges[name] = value
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.query(name) == [value]:
                return name
            time.sleep(0.1)
        raise AssertionError(f"Prometheus did not see {name}={value} within {timeout}s")

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts of Prometheus's rules (pending and firing)."""
        alerts: list[dict[str, Any]] = _get_json(f"{self.url}/api/v1/alerts")["data"]["alerts"]
        return alerts


@dataclass
class Alertmanager:
    url: str
    log: Path

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the series of `name` on /metrics whose labels include `labels`."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:
            text = response.read().decode()
        total = 0.0
        pattern = re.compile(rf"^{re.escape(name)}(?:\{{(.*)\}})?\s+(\S+)$")
        for line in text.splitlines():
            match = pattern.match(line)
            if match is None:
                continue
            found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1) or ""))
            if all(found.get(key) == value for key, value in labels.items()):
                total += float(match.group(2))
        return total

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds whose labels include `labels`."""
        alerts: list[dict[str, Any]] = _get_json(f"{self.url}/api/v2/alerts")
        return [a for a in alerts if all(a["labels"].get(k) == v for k, v in labels.items())]


def _start(
    name: str, argv: list[str], log_path: Path, ready: Callable[[], bool], timeout: float = 30
) -> subprocess.Popen[bytes]:
    """Start a process and wait until `ready()`; fail with the end of its log."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"{name} exited with {process.returncode}:\n" + log_path.read_text()[-2000:]
                )
            try:
                if ready():
                    return process
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{name} was not ready within {timeout} s:\n" + log_path.read_text()[-2000:]
                )
            time.sleep(0.2)
    except BaseException:
        _stop(process)
        raise


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def run_prometheus(
    folder: Path,
    *,
    rules: Sequence[Mapping[str, Any]] = (),
    alertmanagers: Sequence[str] = (),
) -> Iterator[Prometheus]:
    """Prometheus scraping a fresh `Exporter` every second; `rules` (alerting rules, one
    group evaluated every second) are sent to the `alertmanagers` (host:port)."""
    assert PROMETHEUS is not None, HINT
    folder.mkdir(parents=True, exist_ok=True)
    exporter = Exporter().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "exporter",
                "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}],
            }
        ],
    }
    if rules:
        rule_file = folder / "rules.yml"
        rule_file.write_text(
            yaml.safe_dump({"groups": [{"name": "tests", "interval": "1s", "rules": list(rules)}]})
        )
        config["rule_files"] = [str(rule_file)]
    if alertmanagers:
        config["alerting"] = {
            "alertmanagers": [{"api_version": "v2", "static_configs": [{"targets": alertmanagers}]}]
        }
    config_file = folder / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    server = Prometheus(url, exporter)
    try:
        process = _start(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url={url}/",
            ],
            folder / "prometheus.log",
            lambda: server.query('up{job="exporter"}') == [1.0],
        )
        try:
            yield server
        finally:
            _stop(process)
    finally:
        exporter.stop()


@contextmanager
def run_alertmanager(
    folder: Path, config: Mapping[str, Any], port: int = 0
) -> Iterator[Alertmanager]:
    """Alertmanager with `config` (alertmanager.yml as a dict), clustering disabled."""
    assert ALERTMANAGER is not None, HINT
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    config_file = folder / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(dict(config)))
    server = Alertmanager(url, folder / "alertmanager.log")

    def ready() -> bool:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return bool(response.status == 200)

    process = _start(
        "alertmanager",
        [
            ALERTMANAGER,
            f"--config.file={config_file}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}/",
            "--cluster.listen-address=",
        ],
        server.log,
        ready,
    )
    try:
        yield server
    finally:
        _stop(process)
