"""The Alertmanager bridge: webhook notifications in, one Incident per alert out.

`POST /alerts` takes Alertmanager's webhook payload (version 4). A request is checked in
this order, and every rejection is a 4xx with a JSON body and one log line naming why:
credentials (401), size (413), JSON (400), schema and limits (422). Then every alert is
routed, named and created as an Incident; an Incident that exists already (a resend, a
`repeat_interval` repeat, the other member of an HA pair) is left alone, unless the alert
is now resolved, which sets its `spec.alertStatus` to `resolved`. The answer is 200 only
once every Incident of the request is persisted; 503 when the Kubernetes API is
unavailable (so Alertmanager retries), 502 when it refuses for another reason (RBAC, a
missing namespace). `GET /healthz` is always 200; `GET /readyz` is 200 when the
Kubernetes API answers discovery for the Incident group.

Served standalone (`remediator bridge`) or inside the operator (`remediator run
--bridge-port`), on the event loop of its process.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import signal
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from . import metrics
from .adapters.kube import GROUP, VERSION, KubeClient, KubeError
from .core.alerts import (
    DEFAULT_PROTECTED,
    DEFAULT_SEVERITY_MAP,
    DEFAULT_UNKNOWN_SEVERITY,
    MAX_ALERTS,
    Alert,
    Payload,
    PayloadError,
    incident_for,
    parse_payload,
    route,
)
from .core.models import Severity

log = structlog.get_logger("remediator.bridge")

MiB = 1024 * 1024
Result = Literal["created", "updated", "unchanged", "skipped"]
RESULTS: tuple[Result, ...] = ("created", "updated", "unchanged", "skipped")
UNAVAILABLE = (aiohttp.ClientError, TimeoutError, OSError)


@dataclass(frozen=True)
class BridgeConfig:
    """How the bridge authenticates, limits and routes. At least one credential is needed."""

    token: str = ""
    basic_user: str | None = None
    basic_password: str | None = None
    default_namespace: str | None = None
    allowed_namespaces: frozenset[str] = frozenset()
    protected_namespaces: frozenset[str] = DEFAULT_PROTECTED
    severity_map: Mapping[str, Severity] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    # an alert whose severity is not recognised: fail closed (P1 needs approval by default)
    default_severity: Severity = DEFAULT_UNKNOWN_SEVERITY
    max_body_bytes: int = MiB
    max_alerts: int = MAX_ALERTS
    host: str = "127.0.0.1"
    port: int = 9095
    concurrency: int = 16  # Incidents written at once per request
    ready_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.token and not (self.basic_user and self.basic_password):
            raise ValueError("the bridge needs a bearer token or basic-auth credentials")
        if (self.basic_user is None) != (self.basic_password is None):
            raise ValueError("basic auth needs both a user and a password")

    @staticmethod
    def read_secret(path: Path | str) -> str:
        """A token or password from a file (a mounted Secret), without surrounding blanks."""
        secret = Path(path).read_text(encoding="utf-8").strip()
        if not secret:
            raise ValueError(f"{path} is empty")
        return secret


CONFIG = web.AppKey("config", BridgeConfig)
KUBE = web.AppKey("kube", KubeClient)


def make_app(kube: KubeClient, config: BridgeConfig) -> web.Application:
    # The body is read (and limited) by the handler itself, so that 413 is ours.
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=[count_requests])
    app[CONFIG] = config
    app[KUBE] = kube
    app.router.add_post("/alerts", alerts)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


PATHS = frozenset({"/alerts", "/healthz", "/readyz"})


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer counted by path and status code in `remediator_bridge_requests_total`."""
    path = request.path if request.path in PATHS else "other"  # bounded label values
    started = time.perf_counter()
    code = "500"
    try:
        response = await handler(request)
        code = str(response.status)
        return response
    except web.HTTPException as e:  # 404, 405 from the router
        code = str(e.status)
        raise
    finally:
        metrics.BRIDGE_REQUESTS.labels(path=path, code=code).inc()
        metrics.BRIDGE_REQUEST_DURATION.labels(path=path).observe(time.perf_counter() - started)


# ------------------------------------------------------------------------------ probes
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    kube, config = request.app[KUBE], request.app[CONFIG]
    try:
        await asyncio.wait_for(
            kube.request("GET", f"/apis/{GROUP}/{VERSION}"), timeout=config.ready_timeout
        )
    except (KubeError, *UNAVAILABLE) as e:
        log.warning("not ready: the Kubernetes API does not answer", error=str(e) or repr(e))
        return web.json_response({"status": "unavailable", "error": str(e) or repr(e)}, status=503)
    return web.json_response({"status": "ok"})


# ------------------------------------------------------------------------------ alerts
def _reject(
    request: web.Request,
    status: int,
    reason: str,
    message: str,
    details: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    log.warning(
        "alerts rejected", status=status, reason=reason, message=message, remote=request.remote
    )
    body: dict[str, Any] = {"error": reason, "message": message}
    if details is not None:
        body["details"] = details
    return web.json_response(body, status=status, headers=headers)


def authorized(header: str | None, config: BridgeConfig) -> bool:
    """Bearer token, or basic auth when configured; constant-time comparisons."""
    if not header:
        return False
    scheme, _, credentials = header.partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if scheme == "bearer" and config.token:
        # aiohttp decodes header bytes that are not UTF-8 with surrogateescape: encode them
        # back the same way (a plain encode() raises on them: a 500 for a bad header)
        given_token = credentials.encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given_token, config.token.encode())
    if scheme == "basic" and config.basic_user and config.basic_password:
        try:
            given = aiohttp.BasicAuth.decode(header)
        except ValueError:
            return False
        user_ok = hmac.compare_digest(given.login.encode(), config.basic_user.encode())
        password_ok = hmac.compare_digest(given.password.encode(), config.basic_password.encode())
        return user_ok & password_ok
    return False


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is longer than `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


async def alerts(request: web.Request) -> web.Response:
    kube, config = request.app[KUBE], request.app[CONFIG]
    if not authorized(request.headers.get("Authorization"), config):
        challenge = 'Bearer realm="remediator"' if config.token else 'Basic realm="remediator"'
        return _reject(
            request,
            401,
            "unauthorized",
            "missing or invalid credentials",
            headers={"WWW-Authenticate": challenge},
        )
    raw = await _read_limited(request, config.max_body_bytes)
    if raw is None:
        return _reject(
            request,
            413,
            "payload-too-large",
            f"the body is larger than {config.max_body_bytes} bytes",
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        return _reject(request, 400, "invalid-json", f"the body is not JSON: {e}")
    try:
        payload = parse_payload(data, max_alerts=config.max_alerts)
    except PayloadError as e:
        return _reject(request, 422, "invalid-payload", str(e), details=e.errors)
    if payload.truncated_alerts:
        log.warning(
            "Alertmanager truncated the notification: some alerts were not sent",
            truncated_alerts=payload.truncated_alerts,
            receiver=payload.receiver,
            group_key=payload.group_key,
        )
    return await _deliver(request, kube, config, payload)


async def _deliver(
    request: web.Request, kube: KubeClient, config: BridgeConfig, payload: Payload
) -> web.Response:
    semaphore = asyncio.Semaphore(config.concurrency)

    async def one(alert: Alert) -> tuple[Result, str]:
        async with semaphore:
            return await deliver_alert(kube, config, alert)

    outcomes = await asyncio.gather(*(one(a) for a in payload.alerts), return_exceptions=True)
    counts: Counter[str] = Counter()
    incidents: list[dict[str, str]] = []
    unavailable: list[str] = []
    refused: list[str] = []  # the API refused the Incident itself: a payload problem
    failed: list[str] = []
    for alert, outcome in zip(payload.alerts, outcomes, strict=True):
        metrics.BRIDGE_ALERTS.labels(
            status=alert.status,
            result="error" if isinstance(outcome, BaseException) else outcome[0],
        ).inc()
        where = f"alert {alert.alertname} ({alert.fingerprint})"
        if isinstance(outcome, KubeError) and not outcome.transient:
            (refused if outcome.status in (400, 422) else failed).append(f"{where}: {outcome}")
        elif isinstance(outcome, (KubeError, *UNAVAILABLE)):
            unavailable.append(f"{where}: {outcome or repr(outcome)}")
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            result, incident = outcome
            counts[result] += 1
            incidents.append({"incident": incident, "result": result})
    summary: dict[str, Any] = {r: counts[r] for r in RESULTS}
    if unavailable:
        return _reject(
            request,
            503,
            "kubernetes-unavailable",
            f"{len(unavailable)} of {len(payload.alerts)} alerts not persisted, retry: "
            + unavailable[0],
        )
    if failed:
        return _reject(
            request,
            502,
            "kubernetes-refused",
            f"{len(failed)} of {len(payload.alerts)} alerts not persisted: {failed[0]}",
        )
    if refused:
        return _reject(
            request,
            422,
            "incident-invalid",
            f"{len(refused)} of {len(payload.alerts)} alerts make invalid Incidents: {refused[0]}",
        )
    log.info(
        "alerts received",
        receiver=payload.receiver,
        status=payload.status,
        alerts=len(payload.alerts),
        **summary,
    )
    return web.json_response({**summary, "incidents": incidents})


async def deliver_alert(kube: KubeClient, config: BridgeConfig, alert: Alert) -> tuple[Result, str]:
    """Persist one alert as its Incident: create, or on 409 record a resolution."""
    namespace = route(
        alert.labels,
        config.allowed_namespaces,
        config.default_namespace,
        config.protected_namespaces,
    )
    if namespace is None:
        log.warning(
            "alert skipped: no namespace to route it to",
            alertname=alert.alertname,
            fingerprint=alert.fingerprint,
            namespace_label=alert.labels.get("namespace"),
        )
        return "skipped", ""
    try:
        return await _persist(kube, config, alert, namespace)
    except KubeError as e:
        # `*` in the allow-list admits a namespace label naming no namespace at all: that is
        # the alert's problem, not the bridge's (a 502 would make Alertmanager resend it for
        # ever). Like a namespace that is not allowed: the default namespace, else skipped.
        # A missing default namespace is a misconfiguration, and still a 502.
        if not (e.status == 404 and f'namespaces "{namespace}" not found' in e.message):
            raise
        if namespace == config.default_namespace:
            raise
    log.warning(
        "alert rerouted: its namespace does not exist",
        alertname=alert.alertname,
        fingerprint=alert.fingerprint,
        namespace_label=namespace,
        default_namespace=config.default_namespace,
    )
    if not config.default_namespace:
        return "skipped", ""
    return await _persist(kube, config, alert, config.default_namespace)


async def _persist(
    kube: KubeClient, config: BridgeConfig, alert: Alert, namespace: str
) -> tuple[Result, str]:
    """Create the alert's Incident, or find it. An Incident under the alert's name that
    asks for something else (someone created it first, with another severity or target)
    never takes the alert: it goes to a second name, fixed for this request but not
    computable without the bridge's credential, so a resend still finds it and nobody
    else can take that one first. The bridge's names are also reserved for it at
    admission where the operator's webhook runs (`--bridge-user`)."""
    body = incident_for(
        alert,
        namespace=namespace,
        mapping=config.severity_map,
        default_severity=config.default_severity,
    )
    name = body["metadata"]["name"]
    written = await _persist_as(kube, alert, namespace, body)
    if written is not None:
        return written
    second = _second_name(name, body, config)
    log.warning(
        "an Incident the bridge did not write holds the alert's name; using another",
        incident=f"{namespace}/{name}",
        instead=second,
        alertname=alert.alertname,
        fingerprint=alert.fingerprint,
    )
    body["metadata"]["name"] = second
    written = await _persist_as(kube, alert, namespace, body)
    if written is not None:
        return written
    raise KubeError(
        409,
        "Conflict",
        f"Incidents {namespace}/{name} and {second} exist and were not written by the bridge",
    )


def _second_name(name: str, body: Mapping[str, Any], config: BridgeConfig) -> str:
    """The alert's second name: keyed by the bridge's credential and the request."""
    secret = (config.token or config.basic_password or "").encode()
    spec = {k: v for k, v in body["spec"].items() if k != "alertStatus"}  # resolutions too
    request = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    return f"{name}-{hmac.new(secret, request, 'sha256').hexdigest()[:10]}"


def _same_request(existing: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Whether the stored Incident asks for exactly what the bridge would write (apart from
    `alertStatus`): only then is it the alert's Incident."""
    stored = dict(existing.get("spec") or {})
    wanted = dict(body["spec"])
    stored.pop("alertStatus", None)
    wanted.pop("alertStatus", None)
    if set(stored) - set(wanted):
        return False  # e.g. an explicit spec.target the bridge never sets
    return all(stored.get(key) == value for key, value in wanted.items())


async def _persist_as(
    kube: KubeClient, alert: Alert, namespace: str, body: dict[str, Any]
) -> tuple[Result, str] | None:
    """Create the Incident under the body's name, or record a resolution on it; None when
    an Incident of that name exists that the bridge did not write."""
    name = body["metadata"]["name"]
    ref = f"{namespace}/{name}"
    bound = log.bind(incident=ref, alertname=alert.alertname, fingerprint=alert.fingerprint)
    for _ in range(3):  # create; on 409 look; if it vanished meanwhile, create again
        try:
            await kube.create_custom(namespace, "incidents", body)
        except KubeError as e:
            if e.status != 409:
                raise
        else:
            bound.info("incident created", alert_status=alert.status)
            return "created", ref
        existing = await kube.get_custom(namespace, "incidents", name)
        if existing is None:
            continue
        if not _same_request(existing, body):
            return None
        if alert.status != "resolved":
            return "unchanged", ref
        if (existing.get("spec") or {}).get("alertStatus") == "resolved":
            return "unchanged", ref
        await kube.patch(
            kube.custom_path(namespace, "incidents", name), {"spec": {"alertStatus": "resolved"}}
        )
        bound.info("incident marked resolved")
        return "updated", ref
    raise KubeError(409, "Conflict", f"incident {ref} kept vanishing while being written")


# ------------------------------------------------------------------------------ serving
async def start(kube: KubeClient, config: BridgeConfig) -> web.AppRunner:
    """Serve the bridge on the running loop until `runner.cleanup()`."""
    runner = web.AppRunner(make_app(kube, config), handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    log.info("bridge listening", host=config.host, port=config.port)
    return runner


async def serve_forever(
    kube: KubeClient,
    config: BridgeConfig,
    *,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> None:
    """The standalone bridge (and its /metrics when a port is given): serve until SIGINT or
    SIGTERM, then close."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    runner = await start(kube, config)
    exposition = None if metrics_port is None else await metrics.start(metrics_host, metrics_port)
    try:
        await stopping.wait()
    finally:
        log.info("bridge stopping")
        await runner.cleanup()
        if exposition is not None:
            await exposition.cleanup()
        await kube.close()
