"""`remediator sandbox`: the Kubernetes API emulator served for kubectl until interrupted."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from kube_emulator import Sandbox
from remediator.cli.options import setting


@click.command()
@setting(
    "--kubeconfig",
    default=Path("sandbox.kubeconfig"),
    help="Where to write the kubeconfig that points clients at the emulator.",
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option("--port", type=int, default=0, help="Port to listen on (default: a free one).")
@click.option(
    "--no-controllers", is_flag=True, help="Run without the fixture Deployment controller."
)
def sandbox(kubeconfig: Path, port: int, no_controllers: bool) -> None:
    """Serve the Kubernetes API emulator until interrupted."""

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Sandbox(kubeconfig=kubeconfig, port=port, controllers=not no_controllers) as box:
        click.echo(f"Kubernetes API emulator serving on {box.url}")
        click.echo(
            f"kubeconfig written to {kubeconfig}; try: kubectl --kubeconfig {kubeconfig} get ns"
        )
        stop.wait()
    click.echo("stopped")
