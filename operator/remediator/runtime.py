"""How one operator process runs: built once, by `remediator run` or by `OperatorThread`,
and handed to the handlers in Kopf's `memo` (as `memo.run`). Nothing here is a process
global: two operators in one process (the tests start several) share no state."""

from __future__ import annotations

from dataclasses import dataclass, field

from .reconcile import OperatorConfig


@dataclass(frozen=True)
class RunSettings:
    config: OperatorConfig = field(default_factory=OperatorConfig)
    kubeconfig: str | None = None
    namespaces: tuple[str, ...] = ()
    standalone: bool = True
    identity: str = ""  # this process's peering identity (Kopf's, shared with the ticker)
    priority: int = 0
    peering_name: str = "default"
    peering_lifetime: int = 60  # seconds a peer counts as alive (Kopf's peering.lifetime)
