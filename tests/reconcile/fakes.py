"""What the phase tests share: a client that reaches no cluster, so that a read a phase's
fake inputs do not answer fails the test instead of going anywhere."""

from __future__ import annotations

from kubernetes import client

from remediator.adapters.kube import KubeClient
from support.ports import free_port


def unreachable_kube() -> KubeClient:
    """A client for a port nothing listens on, with no retries: any request fails at once."""
    closed = client.Configuration()
    closed.host = f"http://127.0.0.1:{free_port()}"
    return KubeClient(closed, attempts=1)
