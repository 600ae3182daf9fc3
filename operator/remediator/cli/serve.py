"""The long-running commands: `run` (the operator, with the bridge inside it if asked) and
`bridge` (the Alertmanager bridge alone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .options import (
    bridge_config,
    bridge_options,
    kubeconfig_option,
    log_format_option,
    metrics_options,
    protected_option,
    setting,
)


@click.command()
@kubeconfig_option
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Watch only these namespaces (repeatable); default: all namespaces.",
)
@setting(
    "--operator-namespace",
    default="remediator-system",
    help="Namespace of the ConfigMap remediator-config (the pause switch).",
)
@click.option(
    "--dry-run", is_flag=True, help="Record what every plan would change; change nothing."
)
@protected_option("Namespaces where no action is ever taken (repeatable).")
@setting("--max-concurrent", default=5, help="Remediations in progress at once, cluster-wide.")
@setting("--timezone", default="UTC", help="Time zone of business hours (P3 deadlines).")
@click.option("--identity", default=None, help="Name in the audit trail (default: hostname).")
@click.option(
    "--priority",
    type=int,
    default=None,
    help="Peering priority (default: random, so that one of several replicas acts).",
)
@setting(
    "--standalone/--peering",
    default=True,
    help="Run without Kopf peering (one replica) or with it (several replicas).",
)
@setting(
    "--peering-lifetime",
    default=60,
    type=click.IntRange(min=2),
    help="Seconds a replica's peering record counts as alive without a keep-alive: how "
    "long a standby waits before taking over from a replica that died.",
)
@setting(
    "--tick-seconds",
    default=1.0,
    type=click.FloatRange(min=0.05),
    help="How often deadlines, retries and reverts are checked.",
)
@setting(
    "--retry-seconds",
    default=5.0,
    type=click.FloatRange(min=0.05),
    help="Longest wait before retrying an action the cluster said 'not now' to.",
)
@log_format_option
@click.option(
    "--approval-key-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Key that seals approver identities (mount it from a Secret, "
    "the same for every replica). Default: random per process.",
)
@click.option(
    "--webhook-port",
    type=int,
    default=None,
    help="Port of the admission webhooks (default: a free one).",
)
@setting("--webhook-host", default="127.0.0.1", help="Address the webhooks listen on.")
@click.option(
    "--webhook-url-host",
    default=None,
    help="Host name the API server calls the webhooks by (e.g. the Service's DNS).",
)
@click.option(
    "--webhook-insecure",
    is_flag=True,
    help="Serve the webhooks over plain HTTP (only for a local API server, e.g. the emulator).",
)
@click.option("--webhook-cert", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--webhook-key", type=click.Path(exists=True, dir_okay=False), default=None)
@setting(
    "--manage-webhooks/--no-manage-webhooks",
    default=False,
    help="Register the webhook configurations with the API server (Kopf-managed).",
)
@click.option(
    "--prometheus-url",
    envvar="REMEDIATOR_PROMETHEUS_URL",
    default=None,
    help="Prometheus for policies' preconditions and verify checks "
    "(e.g. http://prometheus:9090); without it such policies fail closed.",
)
@click.option(
    "--notify-allow-host",
    "notify_allow_hosts",
    multiple=True,
    metavar="HOST",
    help="Let notifications reach this host although it resolves to a link-local address "
    "(refused by default: that is where cloud metadata services live). Repeatable.",
)
@click.option(
    "--bridge-user",
    "bridge_users",
    multiple=True,
    metavar="USER",
    help="An identity the Alertmanager bridge writes Incidents as (e.g. "
    "system:serviceaccount:remediator-system:remediator); with one given, the bridge's "
    "names (am-…) are reserved for these at admission. Repeatable.",
)
@click.option(
    "--liveness",
    "liveness_endpoint",
    default=None,
    metavar="URL",
    help="Serve Kopf's health probe here (e.g. http://0.0.0.0:8080/healthz).",
)
@metrics_options
@bridge_options("bridge-")
def run(
    kubeconfig: str | None,
    namespaces: tuple[str, ...],
    operator_namespace: str,
    dry_run: bool,
    protected: tuple[str, ...],
    max_concurrent: int,
    timezone: str,
    identity: str | None,
    priority: int | None,
    standalone: bool,
    peering_lifetime: int,
    tick_seconds: float,
    retry_seconds: float,
    log_format: str,
    approval_key_file: str | None,
    webhook_port: int | None,
    webhook_host: str,
    webhook_url_host: str | None,
    webhook_insecure: bool,
    webhook_cert: str | None,
    webhook_key: str | None,
    manage_webhooks: bool,
    prometheus_url: str | None,
    notify_allow_hosts: tuple[str, ...],
    bridge_users: tuple[str, ...],
    liveness_endpoint: str | None,
    metrics_port: int | None,
    metrics_host: str,
    **bridge_options: Any,
) -> None:
    """Run the operator (and, with --bridge-port, the Alertmanager bridge)."""
    import asyncio
    import socket

    import kopf

    from .. import logs
    from ..reconcile import OperatorConfig
    from ..runtime import RunSettings

    logs.configure(log_format)
    config = OperatorConfig(
        namespace=operator_namespace,
        protected_namespaces=frozenset(protected),
        max_concurrent=max_concurrent,
        dry_run=dry_run,
        timezone=timezone,
        identity=identity or f"remediator@{socket.gethostname()}",
        approval_key=Path(approval_key_file).read_bytes().strip() if approval_key_file else b"",
        webhook_managed=manage_webhooks,
        webhook_port=webhook_port,
        webhook_host=webhook_host,
        webhook_url_host=webhook_url_host,
        webhook_insecure=webhook_insecure,
        webhook_cert=webhook_cert,
        webhook_key=webhook_key,
        prometheus_url=prometheus_url,
        bridge=bridge_config(bridge_options, "bridge-", protected),
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        tick_seconds=tick_seconds,
        retry_seconds=retry_seconds,
        notify_allowed_hosts=frozenset(notify_allow_hosts),
        bridge_users=frozenset(bridge_users),
    )
    import os
    import random

    # Kopf pauses every replica when two share a priority: each replica gets its own (the
    # highest acts, the others stand by), and the ticker checks the same peering object.
    run = RunSettings(
        config=config,
        kubeconfig=kubeconfig,
        namespaces=tuple(namespaces),
        standalone=standalone,
        identity=os.environ.get("POD_ID") or f"{socket.gethostname()}@{os.getpid()}",
        priority=priority if priority is not None else random.randint(1, 1_000_000),
        peering_lifetime=peering_lifetime,
    )
    from ..handlers.registry import REGISTRY
    from ..main import handlers  # noqa: F401  (registers the Kopf handlers)

    asyncio.run(
        kopf.operator(
            standalone=standalone,
            namespaces=list(namespaces),
            clusterwide=not namespaces,
            liveness_endpoint=liveness_endpoint,
            registry=REGISTRY,
            identity=run.identity or None,  # type: ignore[arg-type]
            priority=run.priority,
            # Only with --peering: a peering name makes Kopf's peering mandatory, and without
            # the kopf.dev CRDs Kopf then pauses every handler ("peering CRD is missing").
            peering_name=None if standalone else run.peering_name,
            memo=kopf.Memo(run=run),
        )
    )


@click.command()
@kubeconfig_option
@bridge_options("")
@protected_option("Namespaces `*` in --allow-namespace does not open (repeatable).")
@log_format_option
@metrics_options
def bridge(
    kubeconfig: str | None,
    protected: tuple[str, ...],
    log_format: str,
    metrics_port: int | None,
    metrics_host: str,
    **options: Any,
) -> None:
    """Serve the Alertmanager bridge alone: webhook notifications become Incidents."""
    import asyncio

    from .. import logs
    from ..adapters.kube import KubeClient, load_configuration
    from ..bridge import serve_forever

    logs.configure(log_format)
    config = bridge_config(options, "", protected)
    assert config is not None  # the standalone command always has a port
    asyncio.run(
        serve_forever(
            KubeClient(load_configuration(kubeconfig)),
            config,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
        )
    )
