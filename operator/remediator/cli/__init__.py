"""The `remediator` command: one module per group of subcommands.

`run` and `bridge` (`cli.serve`), the policy author's `crds`, `validate` and `simulate`
(`cli.policies`), the incident commander's `approve`, `reject`, `report` and `evidence`
(`cli.incidents`); `demo` and `sandbox` come from the development tools
(remediator-devtools, through the entry-point group `remediator.commands`), which the image
does not carry. `kubectl_plugin` (`cli.plugin`) is the executable `kubectl-remediator`.
"""

from __future__ import annotations

import click

from .. import __version__
from .incidents import approve, evidence, reject, report
from .plugin import kubectl_plugin
from .policies import crds, simulate_command, validate
from .serve import bridge, run

DEVTOOLS = "remediator.commands"  # the entry-point group of remediator-devtools' commands


@click.group()
@click.version_option(__version__, prog_name="remediator")
def main() -> None:
    """Remediator: alerts into safe, audited remediation on Kubernetes."""


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

    commands = (run, bridge, crds, validate, simulate_command, approve, reject, report, evidence)
    for command in commands:
        main.add_command(command)
    # `demo` and `sandbox` live in remediator-devtools (with the emulator): not in the image
    loaded = {ep.name: ep for ep in entry_points(group=DEVTOOLS)}
    for name in ("demo", "sandbox"):
        main.add_command(loaded[name].load() if name in loaded else _missing_devtools(name))


_register()

__all__ = ["kubectl_plugin", "main"]
