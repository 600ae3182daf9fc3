"""A workaround for Kopf 1.45: after a restart with thousands of indexed objects the operator
took minutes, at 100 % CPU, before it ran a single handler.

Kopf runs no resource handler until every index is filled. While the initial listings are
indexed, each listed object has a toggle in one `ToggleSet` (Kopf's "operator indexed"), and
each object's worker, once it has indexed its object, waits on that set's condition for
"all indexed". `ToggleSet.make_toggle` and `drop_toggle` wake *every* waiter each time a
toggle is added or dropped, although the set's state cannot have changed while other toggles
are still off: n objects cost about n² wake-ups. With the bench's 12,500 Incidents no handler
had run three minutes after a restart (py-spy: 80 % of the samples in `Condition.notify_all`
from these two methods); with 2,700 objects the first handler ran after 38 s.

Patched here, the two methods (and `drop_toggles`) wake the waiters only when the set's state
changes, which is all the set's waiters (`ToggleSet.wait_for`) wait for. The toggles' own
waiters (`Toggle.wait_for`) wait for the toggle's state, which adding or dropping it does not
change, and `Toggle.turn_to` still wakes everybody as before. Should Kopf's internals differ
from what this expects (another version), nothing is patched and a warning says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import structlog

log = structlog.get_logger("remediator.operator")


def _fits(toggles: Any, toggle: Any) -> bool:
    """Whether Kopf's ToggleSet is the one this workaround was written for."""
    probe = toggles(all)
    return (
        isinstance(getattr(probe, "_condition", None), asyncio.Condition)
        and isinstance(getattr(probe, "_toggles", None), set)
        and all(
            callable(getattr(toggles, method, None))
            for method in ("make_toggle", "drop_toggle", "drop_toggles", "is_on")
        )
        and callable(toggle)
    )


def install() -> bool:
    """Patch Kopf's ToggleSet (once per process); whether it is patched."""
    from kopf._cogs.aiokits import aiotoggles

    toggles: Any = aiotoggles.ToggleSet
    if getattr(toggles, "_remediator_quiet", False):
        return True
    if not _fits(toggles, aiotoggles.Toggle):
        log.warning(
            "Kopf's ToggleSet is not the one expected: not patched; a restart with thousands "
            "of indexed objects may take minutes before the first handler runs"
        )
        return False

    async def make_toggle(self: Any, value: bool = False, /, *, name: str | None = None) -> Any:
        toggle = aiotoggles.Toggle(value, name=name, condition=self._condition)
        async with self._condition:
            before = self.is_on()
            self._toggles.add(toggle)
            if self.is_on() != before:
                self._condition.notify_all()
        return toggle

    async def drop_toggle(self: Any, toggle: Any) -> None:
        async with self._condition:
            before = self.is_on()
            self._toggles.discard(toggle)
            if self.is_on() != before:
                self._condition.notify_all()

    async def drop_toggles(self: Any, dropped: Iterable[Any]) -> None:
        async with self._condition:
            before = self.is_on()
            self._toggles.difference_update(dropped)
            if self.is_on() != before:
                self._condition.notify_all()

    toggles.make_toggle = make_toggle
    toggles.drop_toggle = drop_toggle
    toggles.drop_toggles = drop_toggles
    toggles._remediator_quiet = True
    return True
