"""What an action's application returns or raises, and the helpers the actions and their
reverts share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..adapters import notify
from ..adapters.kube import KubeClient, KubeError
from ..core import reasons

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
WORKLOAD_ACTIONS = frozenset({"rollback", "restartPods", "scale", "isolatePods"})


@dataclass(frozen=True)
class Outcome:
    state: str  # Applied | Skipped | DryRun | Reverted
    result: str
    revert: dict[str, Any] | None = None
    revert_at: datetime | None = None
    writes: int = 0


class ActionFailed(Exception):  # noqa: N818  (reads as the outcome it reports)
    """The action cannot be applied as planned; the incident fails with this reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class NotNow(Exception):  # noqa: N818
    """The cluster says "not now" (a PodDisruptionBudget); try again later. `forbidden`: it
    said 403, which a kube-apiserver answers for a few seconds after it restarts (until its
    authorizer's caches are filled): retried for a while, then the action fails."""

    def __init__(self, message: str, retry_after: float = 5.0, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.forbidden = forbidden


def refused(e: KubeError, what: str) -> NotNow | ActionFailed:
    """What the API server's refusal of an action's (or a revert's) request means. Its "not
    now" (throttled, busy, or a conflicting write) is tried again later: each step re-reads
    its target and writes only if it still differs, so a retry never changes anything twice.
    A 403 too, for a while: a restarted kube-apiserver refuses everyone until its authorizer
    has synced. Anything else fails."""
    if e.status == 429 or e.status == 409 or e.transient:
        return NotNow(f"{what}: {e}")
    if e.status == 403:
        return NotNow(f"{what}: {e}", retry_after=2.0, forbidden=True)
    return ActionFailed(reasons.ACTION_FAILED, f"{what}: {e}")


def split_target(target: str) -> tuple[str, str]:
    kind, _, name = target.partition("/")
    return kind, name


def after(now: datetime, seconds: Any) -> datetime | None:
    return now + timedelta(seconds=float(seconds)) if seconds else None


async def webhook_url(kube: KubeClient, namespace: str, ref: dict[str, Any]) -> str:
    """The URL in a Secret key, or ActionFailed naming what is missing."""
    try:
        return await notify.secret_url(kube, namespace, ref)
    except notify.SecretUnusable as e:
        raise ActionFailed(e.reason, e.message) from None
