"""`remediator validate`, `simulate` and `report`: the policy reviewer's and the incident
commander's commands. File and cluster I/O here; the decisions are in `core.lint`,
`core.simulate` and `core.review`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import yaml

from .core import alerts
from .core.lint import Document, Finding, catalog_from, lint, parse
from .core.models import SEVERITIES, Incident, RemediationPolicy, Severity
from .core.review import render
from .core.simulate import Options, render_text, simulate

YAML_SUFFIXES = (".yaml", ".yml")
KUSTOMIZATION = ("kustomization.yaml", "kustomization.yml", "Kustomization")


# -------------------------------------------------------------------------- files
def policy_files(paths: Iterable[Path]) -> list[Path]:
    """The YAML files under the paths (directories recursively, sorted), kustomizations
    skipped."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in YAML_SUFFIXES)
        else:
            found.append(path)
    return [p for p in found if p.name not in KUSTOMIZATION]


def read_documents(files: Iterable[Path]) -> tuple[list[Document], list[Finding]]:
    """Every YAML document of the files; a file that does not parse is a finding."""
    documents: list[Document] = []
    problems: list[Finding] = []
    for path in files:
        try:
            bodies = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as e:
            problems.append(Finding("error", "unreadable", str(path), "file", "", str(e)))
            continue
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else "file"
            problems.append(Finding("error", "yaml", str(path), where, "", f"not valid YAML: {e}"))
            continue
        documents += [Document(str(path), i, body) for i, body in enumerate(bodies)]
    return documents, problems


def read_data(path: Path) -> list[Any]:
    """A JSON file (one document) or a YAML file (all its documents)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return [json.loads(text)]
    return [d for d in yaml.safe_load_all(text) if d is not None]


def data_files(paths: Iterable[Path], suffixes: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in suffixes)
        else:
            found.append(path)
    return found


def load_policies(paths: Iterable[Path]) -> tuple[list[RemediationPolicy], list[Finding]]:
    documents, problems = read_documents(policy_files(paths))
    result = parse(documents)
    return [p.policy for p in result.policies], problems + result.findings


def load_objects(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Kubernetes objects from YAML/JSON files; `kind: List` (kubectl get -o yaml) unpacked."""
    objects: list[dict[str, Any]] = []
    for path in data_files(paths, (".yaml", ".yml", ".json")):
        for body in read_data(path):
            if not isinstance(body, dict):
                continue
            if body.get("kind", "").endswith("List") and isinstance(body.get("items"), list):
                objects += [i for i in body["items"] if isinstance(i, dict)]
            else:
                objects.append(body)
    return objects


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        raise click.BadParameter(f"unknown time zone {name!r}") from None


# ----------------------------------------------------------------------- validate
@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--alerts",
    "alert_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Recorded Alertmanager payloads (*.json) or Prometheus rule files (*.yaml) that "
    "tell which labels each alert sets (repeatable); enables the label checks.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def validate(
    paths: tuple[Path, ...], alert_paths: tuple[Path, ...], strict: bool, output: str
) -> None:
    """Check RemediationPolicy files (schema and lint); exit 1 on errors.

    PATHS are files or directories (searched recursively for *.yaml and *.yml;
    kustomization.yaml is skipped). Every message names the file, the object and the
    field. A policy that sets approval mode auto for P0 (or P1) must say so with the
    annotation remediator.dev/allow-auto-p0: "true" (or remediator.dev/allow-auto-p1).
    """
    files = policy_files(paths)
    documents, problems = read_documents(files)
    catalog = None
    if alert_paths:
        recorded: list[Any] = []
        for path in data_files(alert_paths, (".json", ".yaml", ".yml")):
            try:
                recorded += read_data(path)
            except (OSError, ValueError, yaml.YAMLError) as e:
                raise click.ClickException(f"{path}: cannot read alerts: {e}") from None
        catalog = catalog_from(recorded)
    result = lint(documents, catalog)
    result.findings[:0] = problems
    ok = result.ok(strict=strict)
    if output == "json":
        report = {
            "ok": ok,
            "files": [str(f) for f in files],
            "policies": [p.obj for p in result.policies],
            "findings": [f.to_dict() for f in result.findings],
        }
        click.echo(json.dumps(report, indent=2))
    else:
        for finding in result.findings:
            click.echo(str(finding))
        errors, warnings = len(result.errors), len(result.warnings)
        checked = "" if catalog is not None else " (alert label checks skipped: no --alerts)"
        click.echo(
            f"{len(result.policies)} policies in {len(files)} files: {errors} error(s),"
            f" {warnings} warning(s){checked}"
            + (" — warnings count as errors (--strict)" if strict and warnings else "")
        )
    sys.exit(0 if ok else 1)


# ----------------------------------------------------------------------- simulate
@click.command(name="simulate")
@click.option(
    "--alert",
    "alert_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An Alertmanager webhook payload (version 4), as JSON.",
)
@click.option(
    "--policies",
    "policy_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Policy files or directories (repeatable). Default: ./remediations.",
)
@click.option(
    "--state",
    "state_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="YAML/JSON files of the observed objects (Deployments, ReplicaSets, Pods, HPAs, "
    "ConfigMaps; `kubectl get -o yaml` lists work). Without it no plan is computed.",
)
@click.option(
    "--namespace-default",
    "--default-namespace",
    "namespace_default",
    default=None,
    help="Namespace of alerts without an allowed `namespace` label (the bridge's "
    "--default-namespace; default: such alerts are dropped).",
)
@click.option(
    "--allow-namespace",
    "allowed",
    multiple=True,
    default=(alerts.ANY_NAMESPACE,),
    show_default=True,
    help="Namespaces the bridge creates Incidents in (repeatable; * for any unprotected). "
    "Pass the same values as to `remediator bridge`.",
)
@click.option(
    "--severity",
    "severities",
    multiple=True,
    metavar="VALUE=P0..P3",
    help="Map a severity/priority label value to a severity, as `remediator bridge "
    "--severity` (repeatable).",
)
@click.option(
    "--protected-namespace",
    "protected",
    multiple=True,
    default=tuple(sorted(alerts.DEFAULT_PROTECTED)),
    show_default=True,
    help="Namespaces never remediated (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="As if the operator ran with --dry-run.")
@click.option(
    "--now",
    "now_text",
    default=None,
    help="The time to decide at (ISO 8601; default: now). Rollback windows and restart "
    "stamps depend on it.",
)
@click.option("--timezone", default="UTC", show_default=True, help="Business hours (P3).")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def simulate_command(
    alert_path: Path,
    policy_paths: tuple[Path, ...],
    state_paths: tuple[Path, ...],
    namespace_default: str | None,
    allowed: tuple[str, ...],
    protected: tuple[str, ...],
    severities: tuple[str, ...],
    dry_run: bool,
    now_text: str | None,
    timezone: str,
    output: str,
) -> None:
    """Print what the operator would decide for each alert of an Alertmanager payload.

    No cluster is needed: the Incident the bridge would create, the matched policy, the
    target, the plan (from --state), the approval gate and the guards that can be decided
    offline.
    """
    try:
        raw = json.loads(alert_path.read_text(encoding="utf-8"))
        payload = alerts.parse_payload(raw)
    except (ValueError, OSError) as e:
        raise click.ClickException(f"{alert_path}: {e}") from None
    result = run_simulation(
        payload,
        policy_paths or (Path("remediations"),),
        state_paths,
        Options(
            namespace_default=namespace_default,
            allowed_namespaces=frozenset(allowed),
            protected_namespaces=frozenset(protected),
            severity_map=alerts.merge_severity_map(_severity_overrides(severities)),
            dry_run=dry_run,
            timezone=_zone(timezone),
            with_state=bool(state_paths),
        ),
        _parse_time(now_text) if now_text else datetime.now(UTC),
    )
    if output == "json":
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(result), nl=False)


def _severity_overrides(items: Sequence[str]) -> dict[str, Severity]:
    literal: dict[str, Severity] = {s: s for s in SEVERITIES}
    overrides: dict[str, Severity] = {}
    for item in items:
        value, _, severity = item.partition("=")
        if not value or severity.upper() not in literal:
            raise click.BadParameter(f"{item!r}: use VALUE=P0..P3", param_hint="--severity")
        overrides[value] = literal[severity.upper()]
    return overrides


def run_simulation(
    payload: alerts.Payload,
    policy_paths: Sequence[Path],
    state_paths: Sequence[Path],
    options: Options,
    now: datetime,
) -> dict[str, Any]:
    """Load the policies and the state, then decide (what the golden tests call)."""
    for path in policy_paths:
        if not path.exists():
            raise click.ClickException(f"{path}: no such file or directory")
    policies, problems = load_policies(policy_paths)
    for problem in problems:  # the operator ignores an invalid policy; say so
        click.echo(f"warning: policy ignored: {problem}", err=True)
    objects = load_objects(state_paths)
    return simulate(payload, policies, objects, options, now)


# ------------------------------------------------------------------------- report
@click.command()
@click.argument("incident", required=False)
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None)
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
    namespace: str,
    kubeconfig: str | None,
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
        body = fetch_incident(incident, namespace, kubeconfig)
    else:
        raise click.UsageError("give INCIDENT (read from the cluster) or --file")
    try:
        parsed = Incident.model_validate(body)
    except ValueError as e:
        raise click.ClickException(f"not an Incident: {e}") from None
    markdown = render(parsed, now=datetime.now(UTC), tz=_zone(timezone))
    if output_file is not None:
        output_file.write_text(markdown, encoding="utf-8")
        click.echo(f"wrote {output_file}")
    else:
        click.echo(markdown, nl=False)


def fetch_incident(name: str, namespace: str, kubeconfig: str | None) -> dict[str, Any]:
    import asyncio

    from .adapters.kube import KubeClient, KubeError, load_configuration

    async def get() -> dict[str, Any] | None:
        kube = KubeClient(load_configuration(kubeconfig))
        try:
            return await kube.get_custom(namespace, "incidents", name)
        finally:
            await kube.close()

    try:
        body = asyncio.run(get())
    except KubeError as e:
        raise click.ClickException(f"cannot read incident {namespace}/{name}: {e}") from None
    if body is None:
        raise click.ClickException(f"incident {namespace}/{name} not found")
    return body


COMMANDS = (validate, simulate_command, report)
