"""The incident commander's commands: `approve`, `reject` and `report`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import yaml

from ..core.models import Incident
from ..core.report import render
from .cluster import Cluster, cluster_options, reaching_the_api_server
from .files import read_data
from .options import time_zone


def _decision(command: Callable[..., None]) -> click.Command:
    """`approve` and `reject`: INCIDENT, its cluster and namespace, the reason."""
    for option in (
        click.option("--reason", default="", help="Why (recorded in the audit trail)."),
        cluster_options,
        click.argument("incident"),
    ):
        command = option(command)
    return click.command()(command)


@_decision
def approve(incident: str, cluster: Cluster, reason: str) -> None:
    """Approve the current plan of INCIDENT (your identity is stamped by the API server)."""
    _decide(incident, cluster, "approve", reason)


@_decision
def reject(incident: str, cluster: Cluster, reason: str) -> None:
    """Reject the current plan of INCIDENT; it will not be applied."""
    _decide(incident, cluster, "reject", reason)


def _decide(incident: str, cluster: Cluster, decision: str, reason: str) -> None:
    import asyncio

    from ..approvals import create_approval

    namespace = cluster.namespace
    try:
        with reaching_the_api_server():
            name, plan_hash = asyncio.run(
                create_approval(
                    incident, namespace, decision, reason, cluster.kubeconfig, cluster.context
                )
            )
    except LookupError as e:
        raise click.ClickException(str(e)) from None
    click.echo(
        f"approval.remediator.dev/{name} created: {decision} plan {plan_hash} of "
        f"incident {namespace}/{incident}"
    )


@click.command()
@click.argument("incident", required=False)
@cluster_options
@click.option(
    "--file",
    "incident_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Read the Incident from a file (`kubectl get incident X -o json|yaml`) instead.",
)
@click.option("--timezone", default="UTC", show_default=True, help="Business hours (P3).")
@click.option(
    "-o",
    "--output",
    "output_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the Markdown to this file (default: stdout).",
)
def report(
    incident: str | None,
    cluster: Cluster,
    incident_file: Path | None,
    timezone: str,
    output_file: Path | None,
) -> None:
    """Write a post-incident review of INCIDENT in Markdown, from its status."""
    if incident_file is not None:
        try:
            bodies = read_data(incident_file)
        except (OSError, ValueError, yaml.YAMLError) as e:
            raise click.ClickException(f"{incident_file}: {e}") from None
        if not bodies:
            raise click.ClickException(f"{incident_file}: empty")
        body = bodies[0]
    elif incident:
        body = fetch_incident(incident, cluster)
    else:
        raise click.UsageError("give INCIDENT (read from the cluster) or --file")
    try:
        parsed = Incident.model_validate(body)
    except ValueError as e:
        raise click.ClickException(f"not an Incident: {e}") from None
    captured = None
    if incident and parsed.status.evidence is not None and parsed.status.evidence.secret:
        captured = fetch_evidence(parsed.status.evidence.secret, cluster)
    markdown = render(parsed, now=datetime.now(UTC), tz=time_zone(timezone), evidence=captured)
    if output_file is not None:
        output_file.write_text(markdown, encoding="utf-8")
        click.echo(f"wrote {output_file}")
    else:
        click.echo(markdown, nl=False)


@click.command()
@click.argument("incident")
@cluster_options
@click.option("--logs/--no-logs", default=True, show_default=True, help="Print the logs too.")
@click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def evidence(incident: str, cluster: Cluster, logs: bool, output: str) -> None:
    """Print what INCIDENT's target looked like before the first change (its pods, logs,
    Events, revisions and metrics), from the Secret the capture kept it in."""
    from ..core import evidence as captured

    namespace = cluster.namespace
    parsed = Incident.model_validate(fetch_incident(incident, cluster))
    summary = parsed.status.evidence
    if summary is None:
        raise click.ClickException(
            f"incident {namespace}/{incident} has no evidence: nothing was captured (phase"
            f" {parsed.status.phase}; the policy's evidence.capture decides)"
        )
    if not summary.secret:
        raise click.ClickException(
            f"incident {namespace}/{incident}: the evidence could not be kept; its summary:"
            f" {captured.describe(summary)}"
        )
    document = fetch_evidence(summary.secret, cluster)
    if document is None:
        raise click.ClickException(f"Secret {namespace}/{summary.secret} holds no evidence")
    if output == "json":
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(captured.render(document, logs=logs))


def fetch_evidence(secret: str, cluster: Cluster) -> dict[str, Any] | None:
    """The evidence document kept in `secret` (reading it takes `get` on that Secret)."""
    import asyncio

    from ..adapters.kube import KubeClient, KubeError, load_configuration
    from ..executor.evidence import EvidenceCapture

    namespace = cluster.namespace

    async def get() -> dict[str, Any] | None:
        kube = KubeClient(load_configuration(cluster.kubeconfig, cluster.context))
        try:
            return await EvidenceCapture(kube, None).read(namespace, secret)
        finally:
            await kube.close()

    try:
        with reaching_the_api_server():
            return asyncio.run(get())
    except KubeError as e:
        raise click.ClickException(f"cannot read Secret {namespace}/{secret}: {e}") from None


def fetch_incident(name: str, cluster: Cluster) -> dict[str, Any]:
    import asyncio

    from ..adapters.kube import KubeClient, KubeError, load_configuration

    namespace = cluster.namespace

    async def get() -> dict[str, Any] | None:
        kube = KubeClient(load_configuration(cluster.kubeconfig, cluster.context))
        try:
            return await kube.get_custom(namespace, "incidents", name)
        finally:
            await kube.close()

    try:
        with reaching_the_api_server():
            body = asyncio.run(get())
    except KubeError as e:
        raise click.ClickException(f"cannot read incident {namespace}/{name}: {e}") from None
    if body is None:
        raise click.ClickException(f"incident {namespace}/{name} not found")
    return body
