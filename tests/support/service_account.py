"""The operator as deployed acts: as its ServiceAccount, through a `RecordingProxy`.

The RBAC tests (tests/deploy/test_rbac.py: the roles grant exactly what it uses;
tests/hostile/test_rbac_hostile.py: each rule removed is noticed) run the operator as the
ServiceAccount `remediator-system:remediator` (on the real control plane a TokenRequest
token, with only the roles the test created), and read what it asked and how the API
server answered from the proxy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kube_emulator import Sandbox
from real.backend import RealBox
from remediator.reconcile import OperatorConfig
from remediator_devtools.testing import OperatorThread

from .recording_proxy import RecordingProxy

SA_NAMESPACE, SA_NAME = "remediator-system", "remediator"
SERVICE_ACCOUNT = f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}"


def service_account_kubeconfig(box: Sandbox | RealBox, path: Path) -> Path:
    """A kubeconfig of the ServiceAccount, straight to the API server: on the real cluster
    a TokenRequest token with only the roles the test created (`RealBox`'s own would bind
    it to cluster-admin)."""
    if isinstance(box, RealBox):
        return box.plane.service_account_kubeconfig(SA_NAMESPACE, SA_NAME, path)
    return box.kubeconfig_for_service_account(SA_NAMESPACE, SA_NAME, path)


@dataclass
class ProxiedOperator:
    proxy: RecordingProxy
    operator: OperatorThread


@contextmanager
def operator_as_service_account(
    box: Sandbox | RealBox, tmp_path: Path, config: OperatorConfig, **thread_options: Any
) -> Iterator[ProxiedOperator]:
    """Run the operator with `config` as the ServiceAccount, through a recording proxy (on
    the real cluster: plain HTTP in, HTTPS with the cluster's CA out, the token passed on).
    `thread_options` go to `OperatorThread` (peering, liveness_port)."""
    kubeconfig = service_account_kubeconfig(box, tmp_path / "operator.kubeconfig")
    if isinstance(box, RealBox):
        upstream, ca_file = box.plane.api.configuration.host, box.plane.pki / "ca.crt"
    else:
        upstream, ca_file = str(box.url), None
    with RecordingProxy(upstream, ca_file) as proxy:
        document = yaml.safe_load(kubeconfig.read_text())
        document["clusters"][0]["cluster"] = {"server": proxy.url}
        kubeconfig.write_text(yaml.safe_dump(document))
        operator = OperatorThread(kubeconfig, config, **thread_options).start()
        try:
            yield ProxiedOperator(proxy, operator)
        finally:
            operator.stop()
