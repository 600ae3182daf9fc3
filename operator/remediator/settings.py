"""Process-wide settings of `remediator run`, set once before Kopf starts."""

from __future__ import annotations

from .reconciler import OperatorConfig

config = OperatorConfig()
kubeconfig: str | None = None
namespaces: list[str] = []
