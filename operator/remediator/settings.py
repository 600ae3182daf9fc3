"""Process-wide settings of `remediator run`, set once before Kopf starts."""

from __future__ import annotations

from .reconcile import OperatorConfig

config = OperatorConfig()
kubeconfig: str | None = None
namespaces: list[str] = []
standalone: bool = True
identity: str = ""  # this process's peering identity (Kopf's, shared with the ticker)
priority: int = 0
peering_name: str = "default"
peering_lifetime: int = 60  # seconds a peer counts as alive (Kopf's settings.peering.lifetime)
