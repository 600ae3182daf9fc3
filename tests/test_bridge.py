"""The Alertmanager bridge, served on loopback, writing to the API emulator with the CRDs."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client
from structlog.testing import capture_logs

from kube_emulator import Sandbox
from remediator import bridge
from remediator.adapters.kube import KubeClient, load_configuration
from remediator.bridge import BridgeConfig
from remediator.core.alerts import incident_name
from remediator.reconcile import OperatorConfig
from remediator_devtools.testing import OperatorThread
from support.alertmanager import FINGERPRINT, alert, payload
from support.crds import install_crds
from support.policies import GROUP, VERSION
from support.ports import free_port
from support.waiting import wait_healthy

TOKEN = "s3cret-token-for-tests"
NAMESPACES = ("shop", "alerts", "payments", "kube-system-ish")
ROOT = Path(__file__).resolve().parents[1]


def resolved(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["status"] = "resolved"
    for one in body["alerts"]:
        one["status"] = "resolved"
        one["endsAt"] = "2024-05-01T10:05:00Z"
    return body


NAME = incident_name(FINGERPRINT, datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC))


# ------------------------------------------------------------------------ fixtures
@dataclass
class Kube:
    box: Sandbox
    api: client.ApiClient

    def incidents(self, namespace: str) -> list[dict[str, Any]]:
        result: Any = client.CustomObjectsApi(self.api).list_namespaced_custom_object(
            GROUP, VERSION, namespace, "incidents"
        )
        return list(result["items"])

    def all_incidents(self) -> dict[str, list[str]]:
        return {
            ns: sorted(i["metadata"]["name"] for i in self.incidents(ns))
            for ns in NAMESPACES
            if self.incidents(ns)
        }

    def incident(self, namespace: str, name: str) -> dict[str, Any]:
        result: Any = client.CustomObjectsApi(self.api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, "incidents", name
        )
        return dict(result)

    def writes(self, verb: str | None = None) -> list[Any]:
        return [
            w
            for w in self.box.writes()
            if w.resource == "incidents" and w.changed and (verb is None or w.verb == verb)
        ]


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[Kube]:
    with Sandbox(
        kubeconfig=tmp_path / "kubeconfig", controllers=False, anonymous_is_admin=False
    ) as box:
        api: Any = client.ApiClient(load_configuration(str(box.kubeconfig)))
        install_crds(api)
        for ns in NAMESPACES:
            client.CoreV1Api(api).create_namespace(
                client.V1Namespace(metadata=client.V1ObjectMeta(name=ns))
            )
        yield Kube(box, api)
        api.close()


BASE = BridgeConfig(
    token=TOKEN,
    default_namespace="alerts",
    allowed_namespaces=frozenset({"shop", "payments"}),
    host="127.0.0.1",
)


@dataclass
class Bridge:
    url: str
    session: aiohttp.ClientSession

    async def post(
        self, body: Any, token: str | None = TOKEN, **kwargs: Any
    ) -> tuple[int, dict[str, Any]]:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if "data" not in kwargs:
            kwargs["data"] = json.dumps(body)
        async with self.session.post(f"{self.url}/alerts", headers=headers, **kwargs) as r:
            return r.status, await r.json()

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        async with self.session.get(f"{self.url}{path}") as r:
            return r.status, await r.json()


StartBridge = Callable[..., Awaitable[Bridge]]


@pytest.fixture
async def start_bridge(kube: Kube) -> AsyncIterator[StartBridge]:
    """Serve the real aiohttp app on a free loopback port (a TCPSite, as in production)."""
    runners: list[Any] = []
    clients: list[KubeClient] = []
    session = aiohttp.ClientSession()

    async def start(**overrides: Any) -> Bridge:
        cfg = replace(BASE, port=free_port(), **overrides)
        kube_client = KubeClient(load_configuration(str(kube.box.kubeconfig)), attempts=2)
        clients.append(kube_client)
        runners.append(await bridge.start(kube_client, cfg))
        return Bridge(f"http://127.0.0.1:{cfg.port}", session)

    yield start
    await session.close()
    for runner in runners:
        await runner.cleanup()
    for kube_client in clients:
        await kube_client.close()


@pytest.fixture
async def am(start_bridge: StartBridge) -> Bridge:
    return await start_bridge()


# --------------------------------------------------------------------------- tests
async def test_probes(am: Bridge) -> None:
    assert await am.get("/healthz") == (200, {"status": "ok"})
    assert await am.get("/readyz") == (200, {"status": "ok"})


async def test_a_firing_alert_becomes_an_incident(am: Bridge, kube: Kube) -> None:
    status, body = await am.post(payload())
    assert status == 200
    assert body["created"] == 1
    assert (body["updated"], body["unchanged"], body["skipped"]) == (0, 0, 0)
    assert body["incidents"] == [{"incident": f"shop/{NAME}", "result": "created"}]
    # persisted before the answer: readable right away
    incident = kube.incident("shop", NAME)
    spec = incident["spec"]
    assert spec["source"] == "alertmanager"
    assert spec["alertname"] == "HighErrorRate"
    assert spec["severity"] == "P1"  # critical
    assert spec["summary"] == "5xx above 5%"
    assert spec["labels"] == alert()["labels"]
    assert spec["annotations"] == alert()["annotations"]
    assert spec["fingerprint"] == FINGERPRINT
    assert spec["startsAt"].startswith("2024-05-01T10:00:00.123456")
    assert spec["alertStatus"] == "firing"
    assert incident["metadata"]["labels"] == {"remediator.dev/source": "alertmanager"}


async def test_resends_and_ha_duplicates_make_one_incident(am: Bridge, kube: Kube) -> None:
    assert (await am.post(payload()))[0] == 200
    status, body = await am.post(payload())  # repeat_interval resend
    assert (status, body["created"], body["unchanged"]) == (200, 0, 1)
    # both members of an HA pair, at once
    results = await asyncio.gather(*(am.post(payload()) for _ in range(4)))
    assert all(status == 200 for status, _ in results)
    assert kube.all_incidents() == {"shop": [NAME]}
    assert len(kube.writes("create")) == 1


async def test_resolution_sets_alert_status_once(am: Bridge, kube: Kube) -> None:
    await am.post(payload())
    status, body = await am.post(resolved(payload()))
    assert (status, body["updated"]) == (200, 1)
    assert kube.incident("shop", NAME)["spec"]["alertStatus"] == "resolved"
    # a resent resolution, and a late firing duplicate (prometheus/alertmanager#4008)
    assert (await am.post(resolved(payload())))[1]["unchanged"] == 1
    assert (await am.post(payload()))[1]["unchanged"] == 1
    assert kube.incident("shop", NAME)["spec"]["alertStatus"] == "resolved"
    assert [w.verb for w in kube.writes()] == ["create", "patch"]


async def test_a_resolution_never_seen_firing_is_recorded_resolved(am: Bridge, kube: Kube) -> None:
    status, body = await am.post(resolved(payload()))
    assert (status, body["created"]) == (200, 1)
    assert kube.incident("shop", NAME)["spec"]["alertStatus"] == "resolved"


async def test_the_same_alert_firing_again_later_is_a_new_incident(am: Bridge, kube: Kube) -> None:
    await am.post(payload())
    await am.post(payload(alert(startsAt="2024-05-02T08:00:00Z")))
    assert len(kube.all_incidents()["shop"]) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "wrong", "longer", "basic-scheme", "no-scheme", "empty"],
)
async def test_without_valid_credentials_nothing_is_created(
    am: Bridge, kube: Kube, headers: dict[str, str]
) -> None:
    with capture_logs() as logs:
        status, body = await am.post(payload(), token=None, headers=headers)
    assert status == 401
    assert body["error"] == "unauthorized"
    assert kube.writes() == []
    assert [e["reason"] for e in logs if e["event"] == "alerts rejected"] == ["unauthorized"]


async def test_basic_auth(start_bridge: StartBridge, kube: Kube) -> None:
    am = await start_bridge(token="", basic_user="alertmanager", basic_password="pw")

    def basic(user: str, password: str) -> dict[str, str]:
        return {
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        }

    assert (await am.post(payload(), token=None, headers=basic("alertmanager", "no")))[0] == 401
    assert (await am.post(payload(), token=None, headers=basic("someone", "pw")))[0] == 401
    assert (await am.post(payload(), token=TOKEN))[0] == 401  # no token configured
    assert (await am.post(payload(), token=None, headers=basic("alertmanager", "pw")))[0] == 200
    assert kube.all_incidents() == {"shop": [NAME]}


async def test_oversize_bodies_get_413(start_bridge: StartBridge, kube: Kube) -> None:
    am = await start_bridge(max_body_bytes=2048)
    big = payload(alert(annotations={"description": "x" * 3000}))
    with capture_logs() as logs:
        status, body = await am.post(big)
    assert (status, body["error"]) == (413, "payload-too-large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        data = json.dumps(big).encode()
        for i in range(0, len(data), 500):
            yield data[i : i + 500]

    status, body = await am.post(None, data=chunks())
    assert status == 413
    assert kube.writes() == []
    assert [e["reason"] for e in logs if e["event"] == "alerts rejected"] == ["payload-too-large"]


@pytest.mark.parametrize(
    "data",
    [b"{not json", b"", b"\xff\xfe\x00", b"[" * 100_000],
    ids=["syntax", "empty", "not-utf8", "too-deep"],
)
async def test_malformed_json_gets_400(am: Bridge, kube: Kube, data: bytes) -> None:
    status, body = await am.post(None, data=data)
    assert (status, body["error"]) == (400, "invalid-json")
    assert kube.writes() == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (payload(version="3"), "version"),
        ({k: v for k, v in payload().items() if k != "receiver"}, "receiver"),
        (payload(alert(startsAt="soon")), "alerts.0.startsAt"),
        (payload(alert(), alert(fingerprint="")), "alerts.1.fingerprint"),
        (payload(alert(labels={"severity": "P1"})), "alerts.0.labels"),
        (payload(alert(labels={"alertname": "A", "x": "v" * 2000})), "alerts.0.labels.x"),
        (payload(*[alert()] * 11), "alerts"),
        ("a string", ""),
    ],
    ids=[
        "version",
        "receiver",
        "startsAt",
        "fingerprint",
        "alertname",
        "label-size",
        "too-many",
        "not-object",
    ],
)
async def test_schema_errors_get_422_naming_the_field(
    start_bridge: StartBridge, kube: Kube, data: Any, field: str
) -> None:
    am = await start_bridge(max_alerts=10)
    with capture_logs() as logs:
        status, body = await am.post(data)
    assert (status, body["error"]) == (422, "invalid-payload")
    assert field in [d["loc"] for d in body["details"]]
    assert field in body["message"]
    assert kube.writes() == []
    assert [e["reason"] for e in logs if e["event"] == "alerts rejected"] == ["invalid-payload"]


async def test_routing(am: Bridge, kube: Kube) -> None:
    alerts = [
        alert(fingerprint="a1", labels={"alertname": "A", "namespace": "payments"}),
        alert(fingerprint="a2", labels={"alertname": "A", "namespace": "kube-system-ish"}),
        alert(fingerprint="a3", labels={"alertname": "A"}),
    ]
    status, body = await am.post(payload(*alerts))
    assert (status, body["created"]) == (200, 3)
    assert {ns: len(names) for ns, names in kube.all_incidents().items()} == {
        "payments": 1,
        "alerts": 2,  # not allowed, and no namespace label: the default namespace
    }


async def test_unroutable_alerts_are_skipped(start_bridge: StartBridge, kube: Kube) -> None:
    am = await start_bridge(default_namespace=None)
    alerts = [alert(), alert(fingerprint="b2", labels={"alertname": "A", "namespace": "other"})]
    with capture_logs() as logs:
        status, body = await am.post(payload(*alerts))
    assert (status, body["created"], body["skipped"]) == (200, 1, 1)
    assert kube.all_incidents() == {"shop": [NAME]}
    assert [e["namespace_label"] for e in logs if "skipped" in e["event"]] == ["other"]


async def test_severity_mapping_is_configurable(start_bridge: StartBridge, kube: Kube) -> None:
    am = await start_bridge(severity_map={"critical": "P0"}, default_severity="P2")
    alerts = [alert(), alert(fingerprint="c2", labels={"alertname": "B", "severity": "odd"})]
    await am.post(payload(*alerts))
    severities = sorted(
        i["spec"]["severity"] for ns in ("shop", "alerts") for i in kube.incidents(ns)
    )
    assert severities == ["P0", "P2"]


async def test_truncated_alerts_are_logged(am: Bridge) -> None:
    with capture_logs() as logs:
        status, _ = await am.post(payload(truncatedAlerts=7))
    assert status == 200
    assert [e["truncated_alerts"] for e in logs if "truncated" in e["event"]] == [7]


async def test_a_missing_namespace_is_a_server_side_error(
    start_bridge: StartBridge, kube: Kube
) -> None:
    am = await start_bridge(default_namespace="does-not-exist")
    status, body = await am.post(payload(alert(labels={"alertname": "A"})))
    assert (status, body["error"]) == (502, "kubernetes-refused")


async def test_kubernetes_down_gets_503(am: Bridge, kube: Kube) -> None:
    kube.box.stop()
    status, body = await am.post(payload())
    assert (status, body["error"]) == (503, "kubernetes-unavailable")
    status, body = await am.get("/readyz")
    assert (status, body["status"]) == (503, "unavailable")
    assert (await am.get("/healthz"))[0] == 200


async def test_kubernetes_at_a_closed_port_gets_503(kube: Kube) -> None:
    kubeconfig = kube.box.kubeconfig_dict()
    kubeconfig["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{free_port()}"
    path = Path(str(kube.box.kubeconfig)).with_name("closed")
    path.write_text(json.dumps(kubeconfig))
    kube_client = KubeClient(load_configuration(str(path)), attempts=2)
    cfg = replace(BASE, port=free_port())
    runner = await bridge.start(kube_client, cfg)
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{cfg.port}"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with session.post(f"{url}/alerts", json=payload(), headers=headers) as r:
                assert r.status == 503
            async with session.get(f"{url}/readyz") as r:
                assert r.status == 503
    finally:
        await runner.cleanup()
        await kube_client.close()


def test_config_needs_credentials(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bearer token or basic-auth"):
        BridgeConfig()
    with pytest.raises(ValueError, match="both a user and a password"):
        BridgeConfig(token="t", basic_user="u")
    (tmp_path / "token").write_text("  abc\n")
    assert BridgeConfig.read_secret(tmp_path / "token") == "abc"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        BridgeConfig.read_secret(tmp_path / "empty")


# --------------------------------------------------------------- as it is deployed
def _post(url: str, body: Any, token: str = TOKEN) -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_operator_serves_the_bridge(kube: Kube) -> None:
    """`remediator run --bridge-port`: the bridge in the operator process, whose
    reconciler then takes the Incident (no policy here: NoPolicy)."""
    port = free_port()
    operator_config = OperatorConfig(
        tick_seconds=0.2, approval_key=b"k", bridge=replace(BASE, port=port)
    )
    assert kube.box.kubeconfig is not None
    with OperatorThread(kube.box.kubeconfig, operator_config):
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        assert _post(f"{url}/alerts", payload(), token="nope")[0] == 401
        status, body = _post(f"{url}/alerts", payload())
        assert (status, body["created"]) == (200, 1)
        deadline = time.monotonic() + 15
        while (kube.incident("shop", NAME).get("status") or {}).get("phase") != "NoPolicy":
            assert time.monotonic() < deadline, kube.incident("shop", NAME).get("status")
            time.sleep(0.1)
    # stopped with the operator
    with pytest.raises(OSError, match="refused"):
        wait_healthy(url, timeout=0)


def test_the_standalone_command(kube: Kube, tmp_path: Path) -> None:
    """`remediator bridge`: its own process, stopped by SIGTERM."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "remediator",
            "bridge",
            f"--kubeconfig={kube.box.kubeconfig}",
            f"--port={port}",
            "--host=127.0.0.1",
            f"--token-file={token_file}",
            "--default-namespace=alerts",
            "--allow-namespace=shop",
            "--severity=critical=P0",
            "--log-format=json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        status, body = _post(f"{url}/alerts", payload())
        assert (status, body["created"]) == (200, 1)
        assert kube.incident("shop", NAME)["spec"]["severity"] == "P0"
        assert _post(f"{url}/alerts", payload(), token="wrong")[0] == 401
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output.decode()
    assert b"alerts rejected" in output
    assert b"bridge stopping" in output


def test_the_command_refuses_to_start_without_credentials(kube: Kube) -> None:
    from click.testing import CliRunner

    from remediator.cli import main

    result = CliRunner().invoke(main, ["bridge", f"--kubeconfig={kube.box.kubeconfig}"])
    assert result.exit_code == 2
    assert "--token-file" in result.output
