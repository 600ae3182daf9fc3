"""The operator's settings in the tests: fast enough to wait on, webhooks of its own."""

from __future__ import annotations

from typing import Any

from remediator.bridge import BridgeConfig
from remediator.reconcile import OperatorConfig

from .ports import free_port


def operator_config(approval_key: bytes, *, real: bool = False, **overrides: Any) -> OperatorConfig:
    """The operator's settings in a test: ticks and retries a test can wait on, and the
    admission webhooks managed by the operator on a port of its own. `real`: on
    kube-apiserver, which calls webhooks only over HTTPS (a self-signed certificate then;
    the emulator takes plain HTTP)."""
    settings: dict[str, Any] = {
        "tick_seconds": 0.2,
        "retry_seconds": 0.3,
        "approval_key": approval_key,
        "webhook_managed": True,
        "webhook_insecure": not real,
        "webhook_port": free_port(),
        **overrides,
    }
    return OperatorConfig(**settings)


def bridge_config(token: str, namespace: str) -> BridgeConfig:
    """The Alertmanager bridge on a free loopback port, creating Incidents in `namespace`."""
    return BridgeConfig(
        token=token, host="127.0.0.1", port=free_port(), allowed_namespaces=frozenset({namespace})
    )
