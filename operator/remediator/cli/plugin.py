"""`kubectl remediator …`: the incident commander's and the policy author's commands as a
kubectl plugin. kubectl runs the executable `kubectl-remediator` it finds on the PATH with
the arguments that follow `remediator`, its own flags among them unparsed: `--kubeconfig`,
`--context` and `-n` are taken here as kubectl takes them (cli.cluster)."""

from __future__ import annotations

import sys

import click
from click.shell_completion import ShellComplete

from .. import __version__
from .incidents import approve, evidence, reject, report
from .policies import simulate_command, validate


@click.group()
@click.version_option(__version__, prog_name="kubectl-remediator")
def plugin() -> None:
    """Remediator from kubectl: approve or reject a plan, report on an incident, show its
    evidence; validate and simulate policies."""


for command in (approve, reject, report, evidence, simulate_command, validate):
    plugin.add_command(command)


def kubectl_plugin() -> None:
    """The executable `kubectl-remediator`: its usage reads `kubectl remediator ...`, and
    its shell completion is _KUBECTL_REMEDIATOR_COMPLETE (click's, as for `remediator`)."""
    plugin.main(prog_name="kubectl remediator", complete_var="_KUBECTL_REMEDIATOR_COMPLETE")


def kubectl_complete() -> None:
    """The executable `kubectl_complete-remediator`, which kubectl (1.26 and newer) runs to
    complete `kubectl remediator …`: given the words so far and the one being typed, it
    prints one completion a line, then cobra's directive `:4` (no file names)."""
    words = sys.argv[1:]
    incomplete = words.pop() if words else ""
    completer = ShellComplete(plugin, {}, "kubectl remediator", "_KUBECTL_REMEDIATOR_COMPLETE")
    for item in completer.get_completions(words, incomplete):
        click.echo(item.value)
    click.echo(":4")
