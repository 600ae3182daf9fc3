"""Hostile input to the Alertmanager bridge, fuzzed: 10,000+ requests, no server error.

The real aiohttp app (`bridge.make_app`) with the real `KubeClient`, writing to the real
API emulator with the generated CRDs installed; one emulator and one app per configuration
for the whole module, so that each case costs a loopback round trip or two. Hypothesis is
derandomized (the same cases in every run) and keeps no example database.

For every request, whatever the body or headers:

* the answer is never a 5xx (the API is up throughout: 503/502 would be our bug);
* a 4xx answer is JSON with an `error` (and a `message`);
* an Incident is only ever written to an allowed namespace or the default one, never to a
  protected one (kube-system, ...), checked on the answer and on the emulator's write log;
* `/healthz` still answers 200 after each test, and the standalone `remediator bridge`
  process survives a fuzz run of its own.

Counts (cases, answers by status, server errors) go to `tests/hostile/figures.py`.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st
from kubernetes import client

from kube_emulator import Sandbox
from remediator import bridge
from remediator.adapters.kube import KubeClient, load_configuration
from remediator.bridge import BridgeConfig
from remediator.core.alerts import DEFAULT_PROTECTED
from support import alertmanager
from support.alertmanager import firing_alert
from support.crds import install_crds
from support.policies import GROUP, VERSION
from support.ports import free_port
from support.waiting import wait_healthy

from . import figures
from .fuzzing import fuzz

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "fuzz-token"
ALLOWED = frozenset({"shop", "payments"})
DEFAULT = "alerts"
PROTECTED = sorted(DEFAULT_PROTECTED)
NAMESPACES = ("shop", "payments", "alerts", "other", "kube-system-ish", *PROTECTED)
STATS: Counter[str] = Counter()


# ------------------------------------------------------------------------------ the world
@dataclass(repr=False)
class App:
    """One bridge configuration, served by a TestServer on the module's event loop."""

    config: BridgeConfig
    client: TestClient[Any, Any]
    allowed: frozenset[str]  # where its Incidents may land


@dataclass(repr=False)
class World:
    box: Sandbox
    api: client.ApiClient
    loop: asyncio.AbstractEventLoop
    kube: KubeClient
    apps: dict[str, App] = field(default_factory=dict)
    seen_writes: int = 0

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def post(self, app: str, data: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return self.run(self._post(self.apps[app], data, headers))

    async def _post(self, app: App, data: bytes, headers: dict[str, str] | None) -> tuple[int, Any]:
        sent = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        if headers is not None:
            sent = headers
        async with app.client.post("/alerts", data=data, headers=sent) as response:
            raw = await response.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
            return response.status, body

    def new_incident_writes(self) -> list[Any]:
        """The Incident writes since the last call (sliced on the emulator's loop)."""
        start = self.seen_writes
        writes = self.box.call(lambda: list(self.box.api.store.writes[start:]))
        self.seen_writes += len(writes)
        return [w for w in writes if w.resource == "incidents"]

    def healthz(self, app: str) -> int:
        async def get() -> int:
            async with self.apps[app].client.get("/healthz") as response:
                return response.status

        status: int = self.run(get())
        return status


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("bridge-fuzz")
    with Sandbox(kubeconfig=tmp / "kubeconfig", controllers=False, anonymous_is_admin=False) as box:
        api: Any = client.ApiClient(load_configuration(str(box.kubeconfig)))
        install_crds(api)
        existing = {n.metadata.name for n in client.CoreV1Api(api).list_namespace().items}
        for ns in NAMESPACES:
            if ns not in existing:
                client.CoreV1Api(api).create_namespace({"metadata": {"name": ns}})
        loop = asyncio.new_event_loop()
        kube = KubeClient(load_configuration(str(box.kubeconfig)), attempts=2)
        w = World(box, api, loop, kube)
        configs = {
            # an allow-list and a default namespace, as deploy/ configures it
            "listed": (
                BridgeConfig(token=TOKEN, default_namespace=DEFAULT, allowed_namespaces=ALLOWED),
                ALLOWED | {DEFAULT},
            ),
            # any namespace but the protected ones, no default
            "any": (
                BridgeConfig(token=TOKEN, allowed_namespaces=frozenset({"*"})),
                frozenset({*NAMESPACES, *existing}) - DEFAULT_PROTECTED,
            ),
            # basic auth, small limits
            "small": (
                BridgeConfig(
                    token="",
                    basic_user="am",
                    basic_password="pw",
                    default_namespace=DEFAULT,
                    allowed_namespaces=ALLOWED,
                    max_body_bytes=4096,
                    max_alerts=3,
                ),
                ALLOWED | {DEFAULT},
            ),
        }

        async def serve(config: BridgeConfig) -> TestClient[Any, Any]:
            test_client: TestClient[Any, Any] = TestClient(
                TestServer(bridge.make_app(kube, config))
            )
            await test_client.start_server()
            return test_client

        for name, (config, allowed) in configs.items():
            w.apps[name] = App(config, loop.run_until_complete(serve(config)), allowed)
        try:
            yield w
        finally:
            for app in w.apps.values():
                loop.run_until_complete(app.client.close())
            loop.run_until_complete(kube.close())
            loop.close()
            # every Incident in the cluster is where the allow-lists permit
            custom = client.CustomObjectsApi(api)
            items = custom.list_cluster_custom_object(GROUP, VERSION, "incidents")["items"]
            STATS["incidents"] += len(items)
            api.close()
            figures.add(
                "bridge_fuzz",
                cases=STATS["cases"],
                server_errors=STATS["5xx"],
                incidents=STATS["incidents"],
                **{f"status_{k[7:]}": v for k, v in STATS.items() if k.startswith("status:")},
            )
            permitted = set().union(*(app.allowed for app in w.apps.values()))
            assert {i["metadata"]["namespace"] for i in items} <= permitted
            assert not {i["metadata"]["namespace"] for i in items} & DEFAULT_PROTECTED


def check(w: World, app: str, status: int, body: Any, sent: Any = None) -> None:
    """The properties every answer has, whatever was sent."""
    STATS["cases"] += 1
    STATS[f"status:{status}"] += 1
    if status >= 500:
        STATS["5xx"] += 1
    assert status < 500, (status, body)
    assert status in (200, 400, 401, 413, 422), (status, body)
    assert isinstance(body, dict), body
    if status >= 400:
        assert isinstance(body.get("error"), str) and body["error"], body
        assert isinstance(body.get("message"), str), body
        return
    allowed = w.apps[app].allowed
    for entry in body["incidents"]:
        if entry["result"] == "skipped":
            assert entry["incident"] == "", entry
            continue
        namespace = entry["incident"].partition("/")[0]
        assert namespace in allowed, entry
        assert namespace not in DEFAULT_PROTECTED, entry
    if app == "any" and isinstance(sent, dict):
        # no default: an Incident is in the namespace its alert names, or there is none
        named = {
            a["labels"].get("namespace")
            for a in sent["alerts"]
            if isinstance(a.get("labels"), dict)
        }
        for entry in body["incidents"]:
            if entry["incident"]:  # "" when skipped
                assert entry["incident"].partition("/")[0] in named, (entry, named)
    for write in w.new_incident_writes():
        assert write.namespace in allowed, write
        assert write.namespace not in DEFAULT_PROTECTED, write


def post_json(w: World, app: str, payload: Any) -> tuple[int, Any]:
    status, body = w.post(app, json.dumps(payload).encode())
    check(w, app, status, body, payload)
    return status, body


# ------------------------------------------------------------------------------ strategies
WEIRD = [
    "\u202e",  # right-to-left override
    "\u202d",
    "\u200f",  # right-to-left mark
    "\u200b",  # zero width space
    "\u200d",  # zero width joiner
    "\ufeff",  # BOM
    "\u0000",
    "\u2028",
    "\u0301",  # combining accent
    "\U0001f525",
    "\U0010ffff",
    "\ud800",  # lone surrogates (sent as \\ud800 escapes)
    "\udfff",
    '"',
    "\\",
    "/",
    "../",
    "${jndi:ldap://x/a}",
    "{{ .Values }}",
    "%s%n",
    "\r\n",
    "\u0430",  # Cyrillic a
]
hostile_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.one_of(st.sampled_from(WEIRD), st.text(max_size=3)), max_size=12).map("".join),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=4),
)
NAMESPACE_ATTEMPTS = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "KUBE-SYSTEM",
    "Kube-System",
    "kube-system ",
    " kube-system",
    "kube-system\n",
    "kube-system\u0000",
    "kube-system/",
    "../kube-system",
    "shop/../kube-system",
    "shop/../../kube-system",
    "..",
    ".",
    "/",
    "shop/",
    "shop,kube-system",
    "shop kube-system",
    "*",
    "",
    "kube-system\u200b",
    "\u202ekube-system",
    "kub\u0435-system",  # Cyrillic e
    "kube\u2010system",  # Unicode hyphen
    "\uff4b\uff55\uff42\uff45-system",  # fullwidth
    "shop\u200b",
    "SHOP",
    "Shop",
    "shop.",
    "shop-",
    "-shop",
    "shop.kube-system",
    "%6b%75%62%65-system",
    "kube-system%00",
    "payments",
    "shop",
    "other",
    "alerts",
    "default",
    "kube-system-ish",
    "a" * 63,
    "a" * 64,
    "a" * 300,
    "kube-system" * 30,
    "does-not-exist",
]
namespace_label = st.one_of(
    st.sampled_from(NAMESPACE_ATTEMPTS),
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
    st.text(alphabet="abkuesytm-./ K\u200b\u202e", max_size=70),
    hostile_text,
)
junk: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included: Python's json writes and reads them
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), hostile_text),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(hostile_text, st.sampled_from(["alerts", "labels"])), children),
    ),
    max_leaves=25,
)
STARTS_EDGES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "0001-01-01T00:59:59+01:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999999Z",
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    "9999-12-31T22:00:00-23:59",
    "2024-02-29T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2024-12-31T23:59:60Z",  # a leap second
    "2024-05-01T10:00:00",  # naive
    "2024-05-01",
    "2024-05-01T10:00:00.123456789123Z",
    "2024-05-01t10:00:00z",
    "2024-05-01 10:00:00Z",
    "+002024-05-01T10:00:00Z",
    "-0001-01-01T00:00:00Z",
    "2024-05-01T10:00:00+24:00",
    "2024-05-01T10:00:00+23:59",
    "2024-05-01T10:00:00-00:00",
    "2024-05-01T10:00:00+00:00:01",
    "1714557600",
    "now",
    "2024-W18-3",
    "",
    "\u0662\u0660\u0662\u0664-05-01T10:00:00Z",  # Arabic-Indic digits
]
starts_at = st.one_of(
    st.sampled_from(STARTS_EDGES),
    st.builds(
        lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
        st.timedeltas(
            min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23)
        ).map(lambda d: timedelta(minutes=d // timedelta(minutes=1))),
    ),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),
    junk,
)
fingerprint = st.one_of(
    st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
    st.sampled_from(
        ["", "0", "a" * 64, "a" * 65, "../x", "ab cd", "\uff21\uff22", "ab\u200b", "-1"]
    ),
    st.text(max_size=70),
    junk,
)
MISSING = object()


def maybe(valid: st.SearchStrategy[Any], wrong: st.SearchStrategy[Any] = junk) -> Any:
    """Mostly valid; sometimes of the wrong type; sometimes absent. (Weighted by hand:
    `one_of` flattens nested alternatives, so junk's many branches would win.)"""
    return st.integers(min_value=0, max_value=9).flatmap(
        lambda i: valid if i < 8 else (wrong if i == 8 else st.just(MISSING))
    )


def labels_strategy() -> st.SearchStrategy[Any]:
    key = st.one_of(
        st.sampled_from(
            ["severity", "priority", "deployment", "Namespace", "NAMESPACE", " namespace", "job"]
        ),
        hostile_text,
        st.text(min_size=250, max_size=300),
    )
    return st.builds(
        lambda alertname, namespace, severity, extra: {
            k: v
            for k, v in {
                **extra,
                "alertname": alertname,
                "namespace": namespace,
                "severity": severity,
            }.items()
            if v is not MISSING
        },
        maybe(st.one_of(st.sampled_from(["HighErrorRate", "A"]), hostile_text)),
        st.one_of(namespace_label, namespace_label, st.just(MISSING), junk),
        maybe(st.sampled_from(["critical", "page", "P0", "p1", "warning", "odd", "PAGE "])),
        st.dictionaries(key, st.one_of(hostile_text, junk, st.text(min_size=1020, max_size=1030))),
    )


def drop_missing(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not MISSING}


alerts_strategy = st.builds(
    lambda *values: drop_missing(
        dict(
            zip(
                [
                    "status",
                    "labels",
                    "annotations",
                    "startsAt",
                    "endsAt",
                    "generatorURL",
                    "fingerprint",
                ],
                values,
                strict=True,
            )
        )
    ),
    maybe(st.sampled_from(["firing", "resolved"]), st.one_of(junk, hostile_text)),
    st.one_of(labels_strategy(), labels_strategy(), junk),
    maybe(
        st.dictionaries(
            st.one_of(st.sampled_from(["summary", "description"]), hostile_text),
            st.one_of(hostile_text, st.text(min_size=4090, max_size=4100)),
        )
    ),
    st.one_of(starts_at, st.just("2024-05-01T10:00:00Z"), st.just(MISSING)),
    maybe(st.one_of(st.just("0001-01-01T00:00:00Z"), starts_at)),
    maybe(st.one_of(st.just("http://prometheus/graph"), hostile_text)),
    st.one_of(fingerprint, fingerprint, st.just(MISSING)),
)
payload_strategy = st.builds(
    lambda *values: drop_missing(
        dict(
            zip(
                [
                    "receiver",
                    "status",
                    "alerts",
                    "groupLabels",
                    "commonLabels",
                    "commonAnnotations",
                    "externalURL",
                    "version",
                    "groupKey",
                    "truncatedAlerts",
                ],
                values,
                strict=True,
            )
        )
    ),
    maybe(st.one_of(st.just("remediator"), hostile_text)),
    maybe(st.sampled_from(["firing", "resolved"])),
    st.one_of(st.lists(alerts_strategy, min_size=1, max_size=4), junk, st.just([])),
    maybe(st.dictionaries(hostile_text, hostile_text, max_size=3)),
    maybe(st.dictionaries(hostile_text, hostile_text, max_size=3)),
    maybe(st.dictionaries(hostile_text, hostile_text, max_size=3)),
    maybe(hostile_text),
    maybe(st.sampled_from(["4", "3", "04", "4 "]), st.one_of(st.just(4), junk)),
    maybe(hostile_text),
    maybe(st.integers(min_value=-5, max_value=2**63), junk),
)


# ------------------------------------------------------------------------------ tests
@fuzz(1500)
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=100).map(str.encode)))
def test_raw_bytes(world: World, data: bytes) -> None:
    status, body = world.post("listed", data)
    check(world, "listed", status, body)


RAW = [
    b"",
    b"null",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e999999",
    b"9" * 5000,  # longer than Python's int-parsing limit
    b"\xef\xbb\xbf{}",  # BOM
    b"\xff\xfe{\x00}\x00",  # UTF-16
    b'"\\ud800"',
    b'{"receiver": "\\udfff\\ud800"}',
    b"[" * 100_000,
    b"{" * 50_000,
    b'{"a":' * 50_000,
    b"[" * 900 + b"]" * 900,
    b'{"alerts": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"alerts": [' + b"{}," * 300_000 + b"{}]}",
    b'{"version": "4", "receiver": "r", "status": "firing", "alerts": [], "x": '
    + b'"'
    + b"a" * (1024 * 1024)
    + b'"}',
    json.dumps(alertmanager.payload(*[firing_alert({"alertname": "A"}, "f1")] * 1001)).encode(),
    json.dumps(
        alertmanager.payload(
            firing_alert({"alertname": "A", **{f"k{i}": "v" for i in range(65)}}, "f2")
        )
    ).encode(),
    json.dumps(alertmanager.payload(firing_alert({"alertname": "A" * 254}, "f3"))).encode(),
    json.dumps(
        alertmanager.payload(firing_alert({"alertname": "A", "x" * 257: "v"}, "f4"))
    ).encode(),
]


@pytest.mark.parametrize("data", RAW, ids=range(len(RAW)))
def test_huge_deep_and_odd_bodies(world: World, data: bytes) -> None:
    status, body = world.post("listed", data)
    check(world, "listed", status, body)
    assert status in (400, 413, 422), (status, body)
    status, body = world.post("small", data, {"Authorization": "Basic YW06cHc="})
    check(world, "small", status, body)
    assert status in (400, 413, 422), (status, body)


@fuzz(2000)
@given(payload=json_values)
def test_arbitrary_json(world: World, payload: Any) -> None:
    post_json(world, "listed", payload)


hostile_alert = st.builds(
    lambda labels, annotations, starts, fp, status, url: alertmanager.alert(
        status=status,
        labels=labels,
        annotations=annotations,
        startsAt=starts,
        generatorURL=url,
        fingerprint=fp,
    ),
    st.builds(
        lambda name, ns, extra: {**extra, "alertname": name, "namespace": ns},
        st.one_of(st.just("HighErrorRate"), hostile_text.filter(lambda t: 0 < len(t) <= 253)),
        namespace_label.filter(lambda t: len(t) <= 1024),
        st.dictionaries(
            hostile_text.filter(lambda t: 0 < len(t) <= 256),
            hostile_text,
            max_size=6,
        ),
    ),
    st.dictionaries(
        st.one_of(st.sampled_from(["summary", "description", "message"]), hostile_text).filter(
            lambda t: 0 < len(t) <= 256
        ),
        hostile_text,
        max_size=4,
    ),
    st.one_of(st.just("2024-05-01T10:00:00Z"), st.sampled_from(STARTS_EDGES), starts_at),
    st.one_of(st.from_regex(r"[0-9A-Za-z]{1,64}", fullmatch=True), fingerprint),
    st.sampled_from(["firing", "resolved"]),
    st.one_of(st.just(""), hostile_text),
)


@fuzz(2000)
@given(
    alerts=st.lists(hostile_alert, min_size=1, max_size=4),
    config=st.sampled_from(["listed", "any"]),
)
def test_hostile_content_in_well_formed_payloads(
    world: World, alerts: list[Any], config: str
) -> None:
    status, body = post_json(world, config, alertmanager.payload(alerts=alerts))
    if status == 200:
        assert len(body["incidents"]) == len(alerts)


@fuzz(2000)
@given(payload=payload_strategy)
def test_mutated_payloads(world: World, payload: Any) -> None:
    post_json(world, "listed", payload)


@fuzz(2000)
@given(
    namespaces=st.lists(namespace_label, min_size=1, max_size=3),
    fp=st.from_regex(r"[0-9a-f]{8}", fullmatch=True),
    starts=st.one_of(st.just("2024-05-01T10:00:00Z"), starts_at),
    config=st.sampled_from(["listed", "any"]),
)
def test_namespace_labels_cannot_reach_other_namespaces(
    world: World, namespaces: list[Any], fp: str, starts: Any, config: str
) -> None:
    alerts = [
        firing_alert({"alertname": "Escape", "namespace": ns}, f"{fp}{i}", starts)
        for i, ns in enumerate(namespaces)
    ]
    status, body = post_json(world, config, alertmanager.payload(alerts=alerts))
    if status == 200:
        for alert, entry in zip(alerts, body["incidents"], strict=True):
            ns = entry["incident"].partition("/")[0] if entry["incident"] else None
            label = alert["labels"]["namespace"]
            if config == "listed":
                assert ns == (label if label in ALLOWED else DEFAULT), (label, entry)
            else:
                assert ns in (label, None), (label, entry)
                assert (
                    entry["result"] != "skipped"
                    or label not in NAMESPACES
                    or (label in DEFAULT_PROTECTED)
                ), (label, entry)


@fuzz(800)
@given(payload=payload_strategy)
def test_small_limits_and_basic_auth(world: World, payload: Any) -> None:
    data = json.dumps(payload).encode()
    status, body = world.post("small", data, {"Authorization": "Basic YW06cHc="})
    check(world, "small", status, body, payload)
    if len(data) > 4096:
        assert status == 413


@fuzz(800)
@given(
    header=st.one_of(
        st.none(),
        st.sampled_from(
            [
                f"Bearer {TOKEN}x",
                f"bearer {TOKEN[:-1]}",
                f"Bearer  {TOKEN}\u200b",
                "Basic YW06cHc",  # truncated base64
                "Basic !!!",
                "Basic " + "A" * 8000,
                "Bearer " + "x" * 7000,
                f"Basic {TOKEN}",
                "Negotiate abc",
                "Bearer",
                "",
            ]
        ),
        st.text(max_size=40),
        st.builds(
            lambda s, t: f"{s} {t}",
            st.sampled_from(["Bearer", "Basic", "bearer"]),
            st.text(max_size=40),
        ),
    ),
    app=st.sampled_from(["listed", "small"]),
)
def test_credentials(world: World, header: str | None, app: str) -> None:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Authorization"] = header
    payload = alertmanager.payload(firing_alert({"alertname": "A", "namespace": "shop"}, "cafe"))
    try:
        status, body = world.post(app, json.dumps(payload).encode(), headers)
    except ValueError:  # aiohttp, the client, refuses to send such a header
        return
    check(world, app, status, body, payload)
    expected_ok = (app == "listed" and header == f"Bearer {TOKEN}") or (
        app == "small" and header == "Basic YW06cHc="
    )
    assert (status == 200) == expected_ok, (header, status, body)


def test_non_ascii_authorization_bytes(world: World) -> None:
    """Raw header bytes that are not ASCII (aiohttp decodes them with surrogateescape)."""

    async def send(app: App, header: bytes) -> tuple[int, Any]:
        server = app.client.server
        reader, writer = await asyncio.open_connection(server.host, server.port)
        body = json.dumps(alertmanager.payload(firing_alert({"alertname": "A"}, "beef"))).encode()
        writer.write(
            b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + b"Authorization: "
            + header
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        await writer.drain()
        raw = await reader.read()
        writer.close()
        head, _, rest = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        try:
            return status, json.loads(rest)
        except ValueError:
            return status, rest

    for app in ("listed", "small"):
        for header in (
            b"Bearer \xff\xfe",
            b"Bearer " + TOKEN.encode() + b"\xc3\xa9",
            b"Basic \xff",
            b"\xff\xff \xff",
            "Bearer ŧøķēň".encode(),
        ):
            status, body = world.run(send(world.apps[app], header))
            check(world, app, status, body)
            assert status == 401, (header, status, body)
        # a header line longer than aiohttp's limit (8190 bytes) is refused by its HTTP
        # parser, before the bridge sees the request: a 400 in plain text, and no harm
        status, body = world.run(send(world.apps[app], b"Bearer " + b"x" * 20_000))
        STATS["cases"] += 1
        STATS[f"status:{status}"] += 1
        assert status == 400, (status, body)
        assert world.healthz(app) == 200


def test_the_bridge_is_healthy_afterwards(world: World) -> None:
    for app in world.apps:
        assert world.healthz(app) == 200
    # and still does its job
    payload = alertmanager.payload(firing_alert({"alertname": "A", "namespace": "shop"}, "f00d"))
    status, body = post_json(world, "listed", payload)
    assert status == 200 and body["incidents"][0]["incident"].startswith("shop/"), body


# ------------------------------------------------------------ the standalone process
@fuzz(600)
@given(payload=st.one_of(payload_strategy, json_values))
def _standalone_case(conn: http.client.HTTPConnection, payload: Any) -> None:
    data = json.dumps(payload).encode()
    conn.request(
        "POST",
        "/alerts",
        body=data,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    raw = response.read()
    STATS["cases"] += 1
    STATS[f"status:{response.status}"] += 1
    if response.status >= 500:
        STATS["5xx"] += 1
    assert response.status < 500, (response.status, raw)
    if response.status >= 400:
        assert json.loads(raw)["error"], raw


def test_the_standalone_process_survives_fuzzing(world: World, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    port = free_port()
    log_file = (tmp_path / "bridge.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "remediator",
            "bridge",
            f"--kubeconfig={world.box.kubeconfig}",
            f"--port={port}",
            "--host=127.0.0.1",
            f"--token-file={token_file}",
            f"--default-namespace={DEFAULT}",
            "--allow-namespace=shop",
            "--allow-namespace=payments",
            "--log-format=json",
        ],
        stdout=log_file,  # a file, not a pipe nobody reads while it fills
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        _standalone_case(conn)
        conn.close()
        assert process.poll() is None, "the bridge process died"
        wait_healthy(f"http://127.0.0.1:{port}", timeout=1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        log_file.close()
    output = (tmp_path / "bridge.log").read_bytes()
    assert process.returncode == 0, output.decode(errors="replace")[-3000:]
    assert b"Traceback" not in output, output.decode(errors="replace")[-3000:]
    for write in world.new_incident_writes():
        assert write.namespace in ALLOWED | {DEFAULT}, write


def test_what_the_fuzzing_found_stays_fixed(world: World) -> None:
    """Each was a 5xx before its fix (see the report of issue 6)."""
    # a startsAt whose UTC spelling is outside years 1..9999: OverflowError, 500 -> 422
    for starts in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"):
        alert = firing_alert({"alertname": "A", "namespace": "shop"}, "0fe", starts)
        status, body = post_json(world, "listed", alertmanager.payload(alert))
        assert status == 422, body
        assert "alerts.0.startsAt" in [d["loc"] for d in body["details"]]
    # `*` allowed, a namespace label naming no namespace: 502 (resent for ever) -> skipped
    alert = firing_alert({"alertname": "A", "namespace": "no-such-namespace"}, "0ff")
    status, body = post_json(world, "any", alertmanager.payload(alert))
    assert (status, body["skipped"]) == (200, 1), body
    # non-UTF-8 bytes in the Authorization header: UnicodeEncodeError, 500 -> 401
    # (test_non_ascii_authorization_bytes)
