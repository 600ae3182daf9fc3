"""Drives one Incident through its lifecycle: gather inputs, let the core decide, act, record.

One module per phase, each adding its methods to the one before: `state` (configuration
and shared state) → `inputs` → `record` → `act` → `admit` → `verify` → `loop` (the
`Reconciler`). Transitions are decided in memory and written to the Incident's status in as
few writes as the safety of the change allows: always before anything outside the Incident
changes, and at the end of every reconcile."""

from .loop import Reconciler
from .record import merge_events
from .state import EVENT_REASONS, OperatorConfig, Wait

__all__ = ["EVENT_REASONS", "OperatorConfig", "Reconciler", "Wait", "merge_events"]
