"""Operator start and stop: Kopf settings, the API client, the reconciler and its ticker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import kopf
import structlog
from pydantic import ValidationError

from .. import metrics
from ..adapters.kube import KubeClient, KubeError, load_configuration
from ..core.models import GROUP
from ..core.models import Incident as IncidentModel
from ..reconciler import OperatorConfig, Reconciler
from .registry import REGISTRY

log = structlog.get_logger("remediator.operator")


@kopf.on.login(registry=REGISTRY)
def login(**_: Any) -> kopf.ConnectionInfo:
    """Log in with the same kubeconfig or service account the reconciler's client uses."""
    from .. import settings

    configuration = load_configuration(settings.kubeconfig)
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
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **indexes: Any) -> None:
    from .. import settings as operator_settings

    # Keep Kopf's bookkeeping in annotations: the Incident status schema is ours.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = 30  # Kopf's own warnings and errors become Events
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.peering.lifetime = operator_settings.peering_lifetime
    config: OperatorConfig = operator_settings.config
    if not config.approval_key:
        # Without a shared key approvals cannot be verified across restarts or replicas;
        # a random one keeps them sealed (fail closed) for this process's lifetime.
        config = dataclasses.replace(config, approval_key=secrets.token_bytes(32))
        log.warning(
            "no approval key configured: approvals made before a restart will not "
            "verify; mount one with --approval-key-file"
        )
    memo.approval_key = config.approval_key
    # Kopf serves the admission handlers; only a managed server is registered with the API
    # server. Unregistered, approvals are never sealed and so never count (fail closed).
    settings.admission.server = kopf.WebhookServer(
        addr=config.webhook_host,
        port=config.webhook_port,
        host=config.webhook_url_host or config.webhook_host,
        insecure=config.webhook_insecure or not config.webhook_managed,
        certfile=config.webhook_cert,
        pkeyfile=config.webhook_key,
    )
    if config.webhook_managed:
        settings.admission.managed = GROUP
    kube = KubeClient(load_configuration(operator_settings.kubeconfig))
    memo.reconciler = Reconciler(kube, config)
    # Kopf passes its indexes (handlers/indexes.py) by name, empty until it has listed
    memo.reconciler.view.attach(indexes["incident_index"], indexes["policy_index"])
    memo.view = memo.reconciler.view  # the index handlers note what the watch delivered
    memo.ticker = asyncio.create_task(tick(memo.reconciler, operator_settings.namespaces))
    if config.bridge is not None:
        from .. import bridge

        memo.bridge = await bridge.start(kube, config.bridge)
    metrics.INCIDENTS.reset()  # a view of this cluster only, filled by the ticker
    if config.metrics_port is not None:
        memo.metrics = await metrics.start(config.metrics_host, config.metrics_port)
    log.info("operator started", dry_run=config.dry_run, namespaces=operator_settings.namespaces)


@kopf.on.cleanup(registry=REGISTRY)
async def stop(memo: kopf.Memo, **_: Any) -> None:
    runner = memo.get("bridge")
    if runner is not None:  # stop taking alerts before the API client closes
        await runner.cleanup()
    runner = memo.get("metrics")
    if runner is not None:
        await runner.cleanup()
    ticker = memo.get("ticker")
    if ticker is not None:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
    reconciler = memo.get("reconciler")
    if reconciler is not None:
        await reconciler.kube.close()
        if reconciler.prom is not None:
            reconciler.prom.close()


async def tick(reconciler: Reconciler, namespaces: list[str]) -> None:
    """Revisit incidents whose next step is due by time: deadlines, retries, reverts.

    Each tick reads Kopf's index of incidents (no API request); every `resync_seconds`, and
    until the indexes are filled, it LISTs them instead (a safety net, and the metrics'
    full view: a deleted incident leaves the gauges at the next listing)."""
    running: set[asyncio.Task[None]] = set()
    resync_at = 0.0
    while True:
        await asyncio.sleep(reconciler.config.tick_seconds)
        if not await _active(reconciler):
            continue  # a standby replica: Kopf's handlers are paused, and so is the ticker
        view = reconciler.view
        if view.usable and time.monotonic() < resync_at:
            now = datetime.now(UTC)
            for summary in list(view.summaries()):
                if namespaces and summary.namespace not in namespaces:
                    continue
                if reconciler.busy(summary.namespace, summary.name):
                    continue
                if reconciler.due_summary(summary, now):
                    task = asyncio.create_task(_safely(reconciler, summary.namespace, summary.name))
                    running.add(task)
                    task.add_done_callback(running.discard)
            continue
        resync_at = time.monotonic() + reconciler.config.resync_seconds
        listed_at = time.monotonic()
        try:
            bodies: list[dict[str, Any]] = []
            for namespace in namespaces or [None]:  # type: ignore[list-item]
                bodies.extend(await reconciler.kube.list_custom("incidents", namespace))
        except (TimeoutError, KubeError, OSError) as e:
            log.warning("ticker could not list incidents", error=str(e))
            continue
        metrics.INCIDENTS.replace(bodies, listed_at)
        now = datetime.now(UTC)
        for body in bodies:
            try:
                incident = IncidentModel.model_validate(body)
            except ValidationError:
                continue
            meta = incident.metadata
            if reconciler.busy(meta.namespace, meta.name):
                continue
            if reconciler.due(incident, now):
                task = asyncio.create_task(_safely(reconciler, meta.namespace, meta.name))
                running.add(task)
                task.add_done_callback(running.discard)


async def _active(reconciler: Reconciler) -> bool:
    """Whether this replica is the one that acts, decided as Kopf's peering decides it: no
    live peer with a higher or the same priority in the shared peering object."""
    from .. import settings as operator_settings

    if operator_settings.standalone:
        return True
    name = operator_settings.peering_name
    paths = (
        [
            f"/apis/kopf.dev/v1/namespaces/{ns}/kopfpeerings/{name}"
            for ns in operator_settings.namespaces
        ]
        if operator_settings.namespaces
        else [f"/apis/kopf.dev/v1/clusterkopfpeerings/{name}"]
    )
    now = datetime.now(UTC)
    for path in paths:
        try:
            peering = await reconciler.kube.get_or_none(path)
        except (TimeoutError, KubeError, OSError) as e:
            log.warning("ticker could not read the peering object", error=str(e))
            return False  # unsure whether we lead: do nothing rather than act twice
        for identity, peer in ((peering or {}).get("status") or {}).items():
            if identity == operator_settings.identity or not isinstance(peer, dict):
                continue
            try:
                seen = datetime.fromisoformat(str(peer.get("lastseen")).replace("Z", "+00:00"))
                alive = (now - seen).total_seconds() < float(peer.get("lifetime", 60))
            except ValueError:
                alive = True
            if alive and int(peer.get("priority", 0)) >= operator_settings.priority:
                return False
    return True


async def _safely(reconciler: Reconciler, namespace: str, name: str) -> None:
    try:
        await reconciler.reconcile(namespace, name)
    except Exception as e:  # the ticker must survive one incident's trouble
        log.exception("reconcile failed", incident=f"{namespace}/{name}", error=str(e))
