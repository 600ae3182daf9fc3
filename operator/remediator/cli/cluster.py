"""Which cluster and namespace the incident commands talk to, chosen as kubectl chooses them:
`--kubeconfig` (else $KUBECONFIG, ~/.kube/config, else the in-cluster account), `--context`
(else the kubeconfig's current context) and `-n` (else the context's namespace, else
`default`). So `kubectl remediator approve X --context prod` and `kubectl get incident X
--context prod` address the same incident: kubectl hands a plugin these flags unparsed."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import click

from .options import together

IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str | None
    context: str | None
    namespace_flag: str | None

    @cached_property
    def namespace(self) -> str:
        """`-n`, else the namespace of the chosen context, else `default` (in a pod: the
        pod's own namespace, as kubectl does)."""
        if self.namespace_flag:
            return self.namespace_flag
        from kubernetes import config as k8s_config

        try:
            contexts, current = k8s_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                config_file=self.kubeconfig
            )
        except (k8s_config.ConfigException, FileNotFoundError, TypeError) as e:
            if self.kubeconfig or self.context:
                raise click.ClickException(f"cannot read the kubeconfig: {e}") from None
            if IN_CLUSTER_NAMESPACE.exists():
                return IN_CLUSTER_NAMESPACE.read_text().strip()
            return "default"
        chosen: dict[str, Any] | None = current
        if self.context is not None:
            chosen = next((c for c in contexts if c.get("name") == self.context), None)
            if chosen is None:
                raise click.BadParameter(
                    f"no context {self.context!r} in the kubeconfig", param_hint="--context"
                )
        namespace = ((chosen or {}).get("context") or {}).get("namespace")
        return str(namespace or "default")


@contextmanager
def reaching_the_api_server() -> Iterator[None]:
    """A connection that fails (no server there, a timeout) as one line, not a traceback."""
    import aiohttp

    try:
        yield
    except (aiohttp.ClientError, TimeoutError, OSError) as e:
        raise click.ClickException(f"cannot reach the Kubernetes API server: {e}") from None


def cluster_options(command: Callable[..., None]) -> Callable[..., None]:
    """--kubeconfig, --context and -n/--namespace, handed to the command as `cluster`."""

    @functools.wraps(command)
    def with_cluster(
        *args: Any, kubeconfig: str | None, context: str | None, namespace: str | None, **kw: Any
    ) -> None:
        command(*args, cluster=Cluster(kubeconfig, context, namespace), **kw)

    return together(
        click.option(
            "--kubeconfig",
            type=click.Path(dir_okay=False),
            default=None,
            help="Kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster).",
        ),
        click.option(
            "--context", default=None, help="The kubeconfig context (default: its current one)."
        ),
        click.option(
            "-n",
            "--namespace",
            default=None,
            help="The incident's namespace (default: the context's, else `default`).",
        ),
    )(with_cluster)
