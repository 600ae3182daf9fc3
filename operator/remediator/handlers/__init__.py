"""Thin Kopf handlers: parse the event, hand it to the reconciler or the core, report back.

Importing this package registers every handler with Kopf (and works around a Kopf slowness
at restarts with many indexed objects: `kopf_toggles`).
"""

from . import admission, approvals, incidents, indexes, kopf_toggles, lifecycle, policies

kopf_toggles.install()

__all__ = [
    "admission",
    "approvals",
    "incidents",
    "indexes",
    "kopf_toggles",
    "lifecycle",
    "policies",
]
