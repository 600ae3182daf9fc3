"""Thin Kopf handlers: parse the event, hand it to the reconciler or the core, report back.

Importing this package registers every handler with Kopf.
"""

from . import admission, approvals, incidents, lifecycle, policies

__all__ = ["admission", "approvals", "incidents", "lifecycle", "policies"]
