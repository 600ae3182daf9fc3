"""Kopf entry point: `kopf run -m remediator.main` (or `remediator run`) registers the handlers."""

from . import handlers

__all__ = ["handlers"]
