"""The only place where a planned action touches the cluster (`actions.Executor`), and where
an action recorded as revertible is undone (`reverts`)."""

from .actions import Executor
from .common import ActionFailed, NotNow, Outcome, webhook_url

__all__ = ["ActionFailed", "Executor", "NotNow", "Outcome", "webhook_url"]
