"""The workaround for Kopf's wake-ups while its indexes fill (`handlers.kopf_toggles`)."""

from __future__ import annotations

import asyncio

from kopf._cogs.aiokits import aiotoggles

from remediator.handlers import kopf_toggles


def test_the_patch_is_installed_with_the_handlers() -> None:
    assert kopf_toggles.install() is True
    assert aiotoggles.ToggleSet.make_toggle.__module__ == kopf_toggles.__name__


def test_waiters_wake_once_when_the_last_toggle_goes() -> None:
    """Thousands of objects waiting for "all indexed" are woken when that happens, not on
    every toggle added or dropped before it (which made a restart quadratic)."""
    kopf_toggles.install()

    async def run() -> tuple[int, list[bool]]:
        indexed = aiotoggles.ToggleSet(all)
        notified = 0
        notify_all = indexed._condition.notify_all

        def counting() -> None:
            nonlocal notified
            notified += 1
            notify_all()

        indexed._condition.notify_all = counting  # type: ignore[method-assign]
        blocker = await indexed.make_toggle(name="blocker")
        toggles = [await indexed.make_toggle(name=f"object {i}") for i in range(2000)]
        woken: list[bool] = []

        async def wait() -> None:
            await indexed.wait_for(True)
            woken.append(True)

        waiters = [asyncio.create_task(wait()) for _ in range(2000)]
        await asyncio.sleep(0)
        await indexed.drop_toggle(blocker)
        for toggle in toggles[:-1]:
            await indexed.drop_toggle(toggle)
        await asyncio.sleep(0)
        assert not woken and not indexed.is_on()
        await indexed.drop_toggles(toggles[-1:])
        await asyncio.wait_for(asyncio.gather(*waiters), 5)
        return notified, woken

    notified, woken = asyncio.run(run())
    assert len(woken) == 2000
    # the set went off once (the first toggle) and on once (the last one dropped)
    assert notified == 2


def test_a_toggle_turned_on_still_wakes_the_set_waiters() -> None:
    kopf_toggles.install()

    async def run() -> bool:
        paused = aiotoggles.ToggleSet(any)
        toggle = await paused.make_toggle(name="peer")
        waiter = asyncio.create_task(paused.wait_for(True))
        await asyncio.sleep(0)
        await toggle.turn_to(True)
        await asyncio.wait_for(waiter, 1)
        await paused.drop_toggle(toggle)
        return paused.is_off()

    assert asyncio.run(run())
