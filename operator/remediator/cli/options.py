"""Options several commands share (one definition each), and the bridge's configuration
from them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from ..core.models import SEVERITIES, Severity
from ..core.times import parse_time

if TYPE_CHECKING:
    from ..bridge import BridgeConfig


class SeverityMapping(click.ParamType[tuple[str, Severity]]):
    """`VALUE=P0..P3`: an alert's severity/priority label value and the severity it means
    (`--severity critical=P0`), as one (value, severity) pair."""

    name = "VALUE=P0..P3"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, Severity]:
        if isinstance(value, tuple):
            return value
        label, _, severity = str(value).partition("=")
        literal: dict[str, Severity] = {s: s for s in SEVERITIES}
        if not label or severity.upper() not in literal:
            self.fail(f"{value!r}: use VALUE=P0..P3", param, ctx)
        return label, literal[severity.upper()]


SEVERITY_MAPPING = SeverityMapping()

Decorator = Callable[[Callable[..., None]], Callable[..., None]]


def setting(*decls: str, default: Any, help: str, **more: Any) -> Decorator:
    """An option whose default `--help` shows."""
    return click.option(*decls, default=default, show_default=True, help=help, **more)


def existing_paths(*decls: str, help: str) -> Decorator:
    """A repeatable option of files or directories that must exist."""
    return click.option(
        *decls, multiple=True, type=click.Path(exists=True, path_type=Path), help=help
    )


def together(*decorators: Decorator) -> Decorator:
    """Several options as one decorator, in the order written (as stacked decorators)."""

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return decorate


def protected_option(help: str) -> Decorator:
    """--protected-namespace (repeatable), the system namespaces by default."""
    return setting(
        "--protected-namespace",
        "protected",
        default=("kube-system", "kube-public", "kube-node-lease"),
        help=help,
        multiple=True,
    )


kubeconfig_option = click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    default=None,
    help="Kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster).",
)
log_format_option = click.option(
    "--log-format", type=click.Choice(["console", "json"]), default="console", show_default=True
)


def metrics_options(command: Callable[..., None]) -> Callable[..., None]:
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


SECRET_FILE = click.Path(exists=True, dir_okay=False)


def bridge_options(prefix: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The bridge's options; `prefix` ("bridge-" in `run`) keeps them apart from others."""
    p, n = prefix, prefix.replace("-", "_")

    def opt(name: str, **settings: Any) -> Decorator:
        return click.option(f"--{p}{name}", f"{n}{name.replace('-', '_')}", **settings)

    options: list[Decorator] = [
        opt(
            "port",
            type=int,
            default=None if p else 9095,
            show_default=not p,
            help="Port of the Alertmanager bridge" + (" (default: no bridge)." if p else "."),
        ),
        opt("host", default="0.0.0.0", show_default=True, help="Address the bridge listens on."),
        opt(
            "token-file",
            type=SECRET_FILE,
            help="File holding the bearer token Alertmanager sends (a mounted Secret).",
        ),
        opt("basic-auth-user", help="Accept basic auth as this user (with the password file)."),
        opt("basic-auth-password-file", type=SECRET_FILE),
        opt(
            "default-namespace",
            default=None,
            help="Namespace of Incidents whose alert names no allowed namespace "
            "(default: such alerts are skipped).",
        ),
        opt(
            "allow-namespace",
            multiple=True,
            help="Namespace an alert's `namespace` label may route to (repeatable; "
            "`*`: any but the protected ones).",
        ),
        opt(
            "severity",
            multiple=True,
            type=SEVERITY_MAPPING,
            help="Map a severity/priority label value to a severity (repeatable; "
            "over the defaults page=P0 critical=P1 warning=P2 info=P3).",
        ),
        opt(
            "unknown-severity",
            type=click.Choice(["P0", "P1", "P2", "P3"]),
            default="P1",
            show_default=True,
            help="Severity of an alert whose severity/priority label is missing or not"
            " recognised (fail closed: P1 needs approval by default).",
        ),
        opt(
            "max-body-bytes",
            show_default=True,
            default=1024 * 1024,
            help="Largest request body accepted (bytes).",
            type=click.IntRange(min=1),
        ),
        opt(
            "max-alerts",
            show_default=True,
            default=1000,
            help="Alerts accepted in one request.",
            type=click.IntRange(min=1),
        ),
    ]
    return together(*options)


def bridge_config(
    options: dict[str, Any], prefix: str, protected: tuple[str, ...]
) -> BridgeConfig | None:
    """The BridgeConfig the options describe; None when no port is given."""
    from ..bridge import BridgeConfig
    from ..core.alerts import merge_severity_map

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
    try:
        return BridgeConfig(
            token=BridgeConfig.read_secret(token_file) if token_file else "",
            basic_user=get("basic_auth_user"),
            basic_password=BridgeConfig.read_secret(password_file) if password_file else None,
            default_namespace=get("default_namespace"),
            allowed_namespaces=frozenset(get("allow_namespace")),
            protected_namespaces=frozenset(protected),
            severity_map=merge_severity_map(dict(get("severity"))),
            default_severity=get("unknown_severity"),
            max_body_bytes=get("max_body_bytes"),
            max_alerts=get("max_alerts"),
            host=get("host"),
            port=get("port"),
        )
    except ValueError as e:
        raise click.UsageError(str(e)) from None


def parse_now(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time") from None


def time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        raise click.BadParameter(f"unknown time zone {name!r}") from None


# ----------------------------------------------------------------------- validate
