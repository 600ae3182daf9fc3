"""Kopf entry point: `kopf run -m remediator.main` (or `remediator run`) runs the handlers."""

import kopf

from . import handlers
from .handlers.registry import REGISTRY

# `kopf run` uses Kopf's default registry; `remediator run` passes REGISTRY explicitly.
kopf.set_default_registry(REGISTRY)

__all__ = ["REGISTRY", "handlers"]
