"""The `remediator` command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from . import __version__

if TYPE_CHECKING:
    from .bridge import BridgeConfig


@click.group()
@click.version_option(__version__, prog_name="remediator")
def main() -> None:
    """Remediator: alerts into safe, audited remediation on Kubernetes."""


# -------------------------------------------------------------------------- the bridge
_kubeconfig_option = click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    default=None,
    help="Kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster).",
)
_log_format_option = click.option(
    "--log-format", type=click.Choice(["console", "json"]), default="console", show_default=True
)


def _metrics_options(command: Callable[..., None]) -> Callable[..., None]:
    """--metrics-port/--metrics-host, shared by `run` and `bridge`."""
    command = click.option(
        "--metrics-host", default="0.0.0.0", show_default=True, help="Address /metrics listens on."
    )(command)
    return click.option(
        "--metrics-port",
        type=int,
        default=None,
        help="Serve the Prometheus metrics on this port at /metrics (default: not served).",
    )(command)


def _bridge_options(prefix: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The bridge's options; `prefix` ("bridge-" in `run`) keeps them apart from others."""
    p, n = prefix, prefix.replace("-", "_")
    options = [
        click.option(
            f"--{p}port",
            f"{n}port",
            type=int,
            default=None if p else 9095,
            show_default=not p,
            help="Port of the Alertmanager bridge" + (" (default: no bridge)." if p else "."),
        ),
        click.option(
            f"--{p}host",
            f"{n}host",
            default="0.0.0.0",
            show_default=True,
            help="Address the bridge listens on.",
        ),
        click.option(
            f"--{p}token-file",
            f"{n}token_file",
            type=click.Path(exists=True, dir_okay=False),
            default=None,
            help="File holding the bearer token Alertmanager sends (a mounted Secret).",
        ),
        click.option(
            f"--{p}basic-auth-user",
            f"{n}basic_auth_user",
            default=None,
            help="Accept basic auth as this user (with the password file).",
        ),
        click.option(
            f"--{p}basic-auth-password-file",
            f"{n}basic_auth_password_file",
            type=click.Path(exists=True, dir_okay=False),
            default=None,
        ),
        click.option(
            f"--{p}default-namespace",
            f"{n}default_namespace",
            default=None,
            help="Namespace of Incidents whose alert names no allowed namespace "
            "(default: such alerts are skipped).",
        ),
        click.option(
            f"--{p}allow-namespace",
            f"{n}allow_namespace",
            multiple=True,
            help="Namespace an alert's `namespace` label may route to (repeatable; "
            "`*`: any but the protected ones).",
        ),
        click.option(
            f"--{p}severity",
            f"{n}severity",
            multiple=True,
            metavar="VALUE=P0..P3",
            help="Map a severity/priority label value to a severity (repeatable; "
            "over the defaults page=P0 critical=P1 warning=P2 info=P3).",
        ),
        click.option(
            f"--{p}unknown-severity",
            f"{n}unknown_severity",
            type=click.Choice(["P0", "P1", "P2", "P3"]),
            default="P1",
            show_default=True,
            help="Severity of an alert whose severity/priority label is missing or not"
            " recognised (fail closed: P1 needs approval by default).",
        ),
        click.option(
            f"--{p}max-body-bytes",
            f"{n}max_body_bytes",
            type=click.IntRange(min=1),
            default=1024 * 1024,
            show_default=True,
        ),
        click.option(
            f"--{p}max-alerts",
            f"{n}max_alerts",
            type=click.IntRange(min=1),
            default=1000,
            show_default=True,
            help="Alerts accepted in one request.",
        ),
    ]

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def _bridge_config(
    options: dict[str, Any], prefix: str, protected: tuple[str, ...]
) -> BridgeConfig | None:
    """The BridgeConfig the options describe; None when no port is given."""
    from .bridge import BridgeConfig
    from .core.alerts import merge_severity_map
    from .core.models import SEVERITIES, Severity

    def get(name: str) -> Any:
        return options[prefix.replace("-", "_") + name]

    if get("port") is None:
        return None
    token_file, password_file = get("token_file"), get("basic_auth_password_file")
    if not token_file and not (get("basic_auth_user") and password_file):
        raise click.UsageError(
            f"the bridge needs --{prefix}token-file (or --{prefix}basic-auth-user and "
            f"--{prefix}basic-auth-password-file)"
        )
    literal: dict[str, Severity] = {s: s for s in SEVERITIES}
    overrides: dict[str, Severity] = {}
    for item in get("severity"):
        value, _, severity = item.partition("=")
        if not value or severity.upper() not in literal:
            raise click.BadParameter(
                f"{item!r}: use VALUE=P0..P3", param_hint=f"--{prefix}severity"
            )
        overrides[value] = literal[severity.upper()]
    try:
        return BridgeConfig(
            token=BridgeConfig.read_secret(token_file) if token_file else "",
            basic_user=get("basic_auth_user"),
            basic_password=BridgeConfig.read_secret(password_file) if password_file else None,
            default_namespace=get("default_namespace"),
            allowed_namespaces=frozenset(get("allow_namespace")),
            protected_namespaces=frozenset(protected),
            severity_map=merge_severity_map(overrides),
            default_severity=get("unknown_severity"),
            max_body_bytes=get("max_body_bytes"),
            max_alerts=get("max_alerts"),
            host=get("host"),
            port=get("port"),
        )
    except ValueError as e:
        raise click.UsageError(str(e)) from None


CRD_HEADER = "# Generated by `remediator crds` from remediator.core.models; do not edit.\n"


def render_crd(definition: dict[str, Any]) -> str:
    """One CRD as the YAML file `remediator crds` writes (the drift test compares these)."""
    return CRD_HEADER + yaml.safe_dump(definition, sort_keys=False)


@main.command()
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("crds"),
    show_default=True,
    help="Where to write one <plural>.<group>.yaml file per CRD.",
)
def crds(output_dir: Path) -> None:
    """Generate the CustomResourceDefinitions from the pydantic models."""
    from .core.crds import all_crds

    output_dir.mkdir(parents=True, exist_ok=True)
    for definition in all_crds():
        path = output_dir / f"{definition['metadata']['name']}.yaml"
        path.write_text(render_crd(definition), encoding="utf-8")
        click.echo(f"wrote {path}")


@main.command()
@_kubeconfig_option
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Watch only these namespaces (repeatable); default: all namespaces.",
)
@click.option(
    "--operator-namespace",
    default="remediator-system",
    show_default=True,
    help="Namespace of the ConfigMap remediator-config (the pause switch).",
)
@click.option(
    "--dry-run", is_flag=True, help="Record what every plan would change; change nothing."
)
@click.option(
    "--protected-namespace",
    "protected",
    multiple=True,
    default=("kube-system", "kube-public", "kube-node-lease"),
    show_default=True,
    help="Namespaces where no action is ever taken (repeatable).",
)
@click.option(
    "--max-concurrent",
    type=int,
    default=5,
    show_default=True,
    help="Remediations in progress at once, cluster-wide.",
)
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="Time zone of business hours (P3 deadlines).",
)
@click.option("--identity", default=None, help="Name in the audit trail (default: hostname).")
@click.option(
    "--priority",
    type=int,
    default=None,
    help="Peering priority (default: random, so that one of several replicas acts).",
)
@click.option(
    "--standalone/--peering",
    default=True,
    show_default=True,
    help="Run without Kopf peering (one replica) or with it (several replicas).",
)
@click.option(
    "--peering-lifetime",
    type=click.IntRange(min=2),
    default=60,
    show_default=True,
    help="Seconds a replica's peering record counts as alive without a keep-alive: how "
    "long a standby waits before taking over from a replica that died.",
)
@click.option(
    "--tick-seconds",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="How often deadlines, retries and reverts are checked.",
)
@click.option(
    "--retry-seconds",
    type=click.FloatRange(min=0.05),
    default=5.0,
    show_default=True,
    help="Longest wait before retrying an action the cluster said 'not now' to.",
)
@_log_format_option
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
@click.option(
    "--webhook-host", default="127.0.0.1", show_default=True, help="Address the webhooks listen on."
)
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
@click.option(
    "--manage-webhooks/--no-manage-webhooks",
    default=False,
    show_default=True,
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
@_metrics_options
@_bridge_options("bridge-")
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

    from . import logs
    from .reconcile import OperatorConfig
    from .runtime import RunSettings

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
        bridge=_bridge_config(bridge_options, "bridge-", protected),
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
    from .handlers.registry import REGISTRY
    from .main import handlers  # noqa: F401  (registers the Kopf handlers)

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


@main.command()
@_kubeconfig_option
@_bridge_options("")
@click.option(
    "--protected-namespace",
    "protected",
    multiple=True,
    default=("kube-system", "kube-public", "kube-node-lease"),
    show_default=True,
    help="Namespaces `*` in --allow-namespace does not open (repeatable).",
)
@_log_format_option
@_metrics_options
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

    from . import logs
    from .adapters.kube import KubeClient, load_configuration
    from .bridge import serve_forever

    logs.configure(log_format)
    config = _bridge_config(options, "", protected)
    assert config is not None  # the standalone command always has a port
    asyncio.run(
        serve_forever(
            KubeClient(load_configuration(kubeconfig)),
            config,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
        )
    )


@main.command()
@click.argument("incident")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--reason", default="", help="Why (recorded in the audit trail).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None)
def approve(incident: str, namespace: str, reason: str, kubeconfig: str | None) -> None:
    """Approve the current plan of INCIDENT (your identity is stamped by the API server)."""
    _decide(incident, namespace, "approve", reason, kubeconfig)


@main.command()
@click.argument("incident")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--reason", default="", help="Why (recorded in the audit trail).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None)
def reject(incident: str, namespace: str, reason: str, kubeconfig: str | None) -> None:
    """Reject the current plan of INCIDENT; it will not be applied."""
    _decide(incident, namespace, "reject", reason, kubeconfig)


def _decide(
    incident: str, namespace: str, decision: str, reason: str, kubeconfig: str | None
) -> None:
    import asyncio

    from .approvals import create_approval

    try:
        name, plan_hash = asyncio.run(
            create_approval(incident, namespace, decision, reason, kubeconfig)
        )
    except LookupError as e:
        raise click.ClickException(str(e)) from None
    click.echo(
        f"approval.remediator.dev/{name} created: {decision} plan {plan_hash} of "
        f"incident {namespace}/{incident}"
    )


DEVTOOLS = "remediator.commands"  # the entry-point group of remediator-devtools' commands


def _missing_devtools(name: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def missing(args: tuple[str, ...]) -> None:
        raise click.ClickException(
            f"`remediator {name}` comes with the development tools, which are not installed:"
            " run `make demo` (it sets them up), or `pip install -e emulator -e devtools`"
        )

    missing.help = f"(needs the development tools: `make demo`) {name}"
    return missing


def _register() -> None:
    from importlib.metadata import entry_points

    from .commands import COMMANDS

    for command in COMMANDS:  # validate, simulate, report
        main.add_command(command)
    # `demo` and `sandbox` live in remediator-devtools (with the emulator): not in the image
    loaded = {ep.name: ep for ep in entry_points(group=DEVTOOLS)}
    for name in ("demo", "sandbox"):
        main.add_command(loaded[name].load() if name in loaded else _missing_devtools(name))


_register()
