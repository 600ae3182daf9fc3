"""Operator start and stop: Kopf settings, the API client, the reconciler and its ticker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import secrets
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import structlog
from pydantic import ValidationError

from .. import metrics
from ..adapters.kube import KubeClient, KubeError, load_configuration
from ..core.lifecycle import needs_work
from ..core.models import GROUP
from ..core.models import Incident as IncidentModel
from ..informer import Informer
from ..reconcile import OperatorConfig, Reconciler
from ..runtime import RunSettings
from .incidents import Dispatcher
from .registry import REGISTRY

log = structlog.get_logger("remediator.operator")

LIST_PAGE = 500  # Incidents per page of the ticker's LIST, and of Kopf's initial listings
# Incidents the ticker's LIST reads between two turns of the event loop: a page at once was
# ~100 ms without one (with 12,500 Incidents, alerts then waited up to a second, every 30 s)
RESYNC_SLICE = 50


@kopf.on.login(registry=REGISTRY)
def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    """Log in with the same kubeconfig or service account the reconciler's client uses."""
    run: RunSettings = memo.run
    configuration = load_configuration(run.kubeconfig)
    token = configuration.get_api_key_with_prefix("BearerToken", alias="authorization") or ""
    return kopf.ConnectionInfo(
        server=configuration.host,
        scheme="Bearer" if token else None,
        token=token.removeprefix("Bearer ") or None,
        ca_path=configuration.ssl_ca_cert,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
        insecure=not configuration.verify_ssl,
    )


@kopf.on.startup(registry=REGISTRY)
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    run: RunSettings = memo.run
    # Keep Kopf's bookkeeping in annotations: the Incident status schema is ours.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = 30  # Kopf's own warnings and errors become Events
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # Kopf's initial listings in pages (the API's limit/continue), not one response holding
    # every Incident: a 12,500-Incident listing is ~35 MB of JSON and ~5x that parsed.
    settings.watching.chunk_size = LIST_PAGE
    # An object's worker (holding the last body it handled) ends after half a second without
    # events rather than five: after a restart's listing, that is every object at once (with
    # 12,500 Incidents: 210 MB of RSS at 5 s, 130 MB at 0.5 s). A later event starts a new
    # worker (a task and a queue: microseconds).
    settings.queueing.idle_timeout = 0.5
    settings.peering.lifetime = run.peering_lifetime
    config: OperatorConfig = run.config
    if not config.approval_key:
        # Without a shared key approvals cannot be verified across restarts or replicas;
        # a random one keeps them sealed (fail closed) for this process's lifetime.
        config = dataclasses.replace(config, approval_key=secrets.token_bytes(32))
        log.warning(
            "no approval key configured: approvals made before a restart will not "
            "verify; mount one with --approval-key-file"
        )
    memo.approval_key = config.approval_key
    memo.bridge_users = config.bridge_users
    # Kopf serves the admission handlers; only a managed server is registered with the API
    # server. Unregistered, approvals are never sealed and so never count (fail closed).
    settings.admission.server = SelfSignedWebhookServer(
        addr=config.webhook_host,
        port=config.webhook_port,
        host=config.webhook_url_host or config.webhook_host,
        insecure=config.webhook_insecure or not config.webhook_managed,
        certfile=config.webhook_cert,
        pkeyfile=config.webhook_key,
    )
    if config.webhook_managed:
        settings.admission.managed = GROUP
    kube = KubeClient(load_configuration(run.kubeconfig))
    memo.reconciler = Reconciler(kube, config)
    if config.bridge is not None:  # alerts are taken while the view fills
        from .. import bridge

        memo.bridge = await bridge.start(kube, config.bridge)
    metrics.INCIDENTS.reset()  # a view of this cluster only, filled by the ticker
    if config.metrics_port is not None:
        memo.metrics = await metrics.start(config.metrics_host, config.metrics_port)
    # Kopf starts its watches, and so calls handlers, only once this returns, and Incident
    # events are dispatched only after the first listings: the view of Incidents and
    # policies is complete before any reconcile reads it. The listing is the metrics' first
    # view too (the ticker's own LIST comes `resync_seconds` later).
    informer = Informer(
        kube,
        memo.reconciler.view,
        list(run.namespaces),
        pause=(config.namespace, config.config_map),
        hpas=True,
        peering=None if run.standalone else run.peering_name,
    )
    views: dict[tuple[str, str], metrics.IncidentView] = {}
    listed_at = time.monotonic()
    await informer.fill(lambda page: metrics.IncidentsCollector.add_views(views, page))
    metrics.INCIDENTS.replace_views(views, listed_at)
    memo.dispatcher = dispatcher = Dispatcher(memo.reconciler, lambda: _leads(memo.reconciler, run))
    informer.on_incident = dispatcher.event
    memo.informer = asyncio.create_task(informer.run())
    memo.ticker = asyncio.create_task(tick(memo.reconciler, run, dispatcher))
    log.info("operator started", dry_run=config.dry_run, namespaces=list(run.namespaces))


class SelfSignedWebhookServer(kopf.WebhookServer):
    """Kopf's HTTPS webhook server; without a certificate given, it serves a self-signed one
    for its host and address, and registers that certificate as the webhooks' CA bundle.

    Kopf makes such a certificate itself only with the `certbuilder` and `oscrypto` extras
    (oscrypto cannot read OpenSSL 3's version string); this makes it with `cryptography`."""

    @staticmethod
    def build_certificate(
        hostnames: Collection[str], password: str | None = None
    ) -> tuple[bytes, bytes]:
        return self_signed_certificate(hostnames, password)


def self_signed_certificate(
    hostnames: Collection[str], password: str | None = None, days: int = 365
) -> tuple[bytes, bytes]:
    """A self-signed serving certificate (its own CA) for `hostnames` (names and IPs, as
    Kopf passes them), and its private key; both PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hostnames):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            names.append(x509.DNSName(host))
            continue
        if not ip.is_unspecified:
            names.append(x509.IPAddress(ip))
    common = next((str(n.value) for n in names), "remediator-webhooks")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ),
    )


@kopf.on.cleanup(registry=REGISTRY)
async def stop(memo: kopf.Memo, **_: Any) -> None:
    runner = memo.get("bridge")
    if runner is not None:  # stop taking alerts before the API client closes
        await runner.cleanup()
    runner = memo.get("metrics")
    if runner is not None:
        await runner.cleanup()
    for name in ("ticker", "informer"):
        task = memo.get(name)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    dispatcher = memo.get("dispatcher")
    if dispatcher is not None:
        await dispatcher.stop()
    reconciler = memo.get("reconciler")
    if reconciler is not None:
        await reconciler.kube.close()
        if reconciler.prom is not None:
            reconciler.prom.close()


async def tick(reconciler: Reconciler, run: RunSettings, dispatcher: Dispatcher) -> None:
    """Revisit incidents whose next step is due by time: deadlines, retries, reverts; and,
    as this replica starts to lead (at the start too), every incident that may have work
    (`Dispatcher.sweep`).

    Each tick reads the view of incidents (no API request); every `resync_seconds`, and
    while the view is not filled, it LISTs them instead (a safety net, and the metrics'
    full view: a deleted incident leaves the gauges at the next listing). The first LIST
    comes `resync_seconds` after the start, whose listing of the view was the first."""
    namespaces = list(run.namespaces)
    running: set[asyncio.Task[None]] = set()
    resync_at = time.monotonic() + reconciler.config.resync_seconds

    def revisit(namespace: str, name: str) -> None:
        task = asyncio.create_task(_safely(reconciler, namespace, name))
        running.add(task)
        task.add_done_callback(running.discard)

    leading = False
    first = True
    while True:
        if not first:
            await asyncio.sleep(reconciler.config.tick_seconds)
        first = False
        if not _leads(reconciler, run):
            leading = False
            continue  # a standby replica: Kopf's handlers are paused, and so is the ticker
        if not leading:
            leading = True
            swept = dispatcher.sweep()
            log.info("leading: reconciling every incident that may have work", incidents=swept)
            continue
        view = reconciler.view
        if view.usable and time.monotonic() < resync_at:
            now = datetime.now(UTC)
            for summary in list(view.summaries()):
                if namespaces and summary.namespace not in namespaces:
                    continue
                if reconciler.busy(summary.namespace, summary.name):
                    continue
                if reconciler.due_summary(summary, now):
                    revisit(summary.namespace, summary.name)
            continue
        resync_at = time.monotonic() + reconciler.config.resync_seconds
        await _resync(reconciler, namespaces, revisit)


async def _resync(
    reconciler: Reconciler, namespaces: list[str], revisit: Callable[[str, str], None]
) -> None:
    """The ticker's full LIST: the metrics' view, and every incident due by time. Read page
    by page (`LIST_PAGE` Incidents), each page done with before the next is asked for: the
    whole listing at once is ~5x its JSON in memory (over 150 MB with 12,500 Incidents), a
    peak the process keeps as RSS long after."""
    listed_at = time.monotonic()
    views: dict[tuple[str, str], metrics.IncidentView] = {}
    due: list[tuple[str, str]] = []
    try:
        for namespace in namespaces or [None]:  # type: ignore[list-item]
            async for page, _ in reconciler.kube.list_custom_pages(
                "incidents", namespace, limit=LIST_PAGE
            ):
                metrics.IncidentsCollector.add_views(views, page)
                now = datetime.now(UTC)
                for i, body in enumerate(page, 1):
                    if i % RESYNC_SLICE == 0:
                        await asyncio.sleep(0)  # alerts and reconciles go on meanwhile
                    if not needs_work(body):
                        continue  # finished (a cheap look first: most incidents are)
                    try:
                        incident = IncidentModel.model_validate(body)
                    except ValidationError:
                        continue
                    if reconciler.due(incident, now):
                        due.append((incident.metadata.namespace, incident.metadata.name))
                del page
    except (TimeoutError, KubeError, OSError) as e:
        log.warning("ticker could not list incidents", error=str(e))
        return
    metrics.INCIDENTS.replace_views(views, listed_at)
    for namespace, name in due:
        if not reconciler.busy(namespace, name):
            revisit(namespace, name)


def _leads(reconciler: Reconciler, run: RunSettings) -> bool:
    """Whether this replica is the one that acts, decided as Kopf's peering decides it: no
    live peer with a higher or the same priority in the peering object, which the view
    follows by watch. Not known (not listed yet, or its watch failed): no, rather than act
    twice."""
    if run.standalone:
        return True
    scopes = list(run.namespaces) or [""]
    now = datetime.now(UTC)
    return bool(reconciler.view.leads(scopes, run.identity, run.priority, now))


async def _safely(reconciler: Reconciler, namespace: str, name: str) -> None:
    try:
        await reconciler.reconcile(namespace, name)
    except Exception as e:  # the ticker must survive one incident's trouble
        log.exception("reconcile failed", incident=f"{namespace}/{name}", error=str(e))
