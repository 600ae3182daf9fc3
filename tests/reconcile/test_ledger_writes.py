"""The guard ledger written one batch at a time: entries that arrive while a write is on its
way go together in the next, each caller returns once its own entry is stored, and a failed
write fails exactly the callers whose entries it carried. The API is a narrow fake of the one
call the writer makes (`merge_configmap`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

from remediator.adapters.kube import KubeClient, KubeError
from remediator.core import ledger
from remediator.reconcile import OperatorConfig
from remediator.reconcile.inputs import Inputs

from .fakes import unreachable_kube

NOW = datetime.now(UTC)


class LedgerApi(KubeClient):
    """Records each write of the ledger; the first is held until `release` is set."""

    def __init__(self, fail: bool = False) -> None:
        base = unreachable_kube()
        super().__init__(base.configuration, attempts=1)
        self.writes: list[set[str]] = []
        self.release = asyncio.Event()
        self.fail = fail

    async def merge_configmap(
        self, namespace: str, name: str, data: Mapping[str, str | None]
    ) -> None:
        self.writes.append({k for k, v in data.items() if v is not None})
        await self.release.wait()
        if self.fail:
            raise KubeError(504, "Timeout", "the ledger could not be written")


def entry(index: int) -> ledger.Entry:
    return ledger.entry(
        uid=f"uid-{index}",
        index=0,
        namespace="shop",
        incident=f"inc-{index}",
        policy="restart",
        target=f"Deployment/web-{index}",
        at=NOW,
        cooldown_seconds=600,
    )


async def test_entries_that_arrive_during_a_write_go_together_in_the_next() -> None:
    api = LedgerApi()
    inputs = Inputs(api, OperatorConfig())
    writers = [asyncio.create_task(inputs._write_to_ledger(entry(i))) for i in range(6)]
    await asyncio.sleep(0.05)  # the first write is on its way; the other five wait for it
    assert len(api.writes) == 1
    api.release.set()
    await asyncio.gather(*writers)
    assert len(api.writes) == 2
    assert api.writes[0] | api.writes[1] == {entry(i).key for i in range(6)}
    assert not inputs._ledger_pending


async def test_a_failed_write_fails_the_callers_whose_entries_it_carried() -> None:
    api = LedgerApi(fail=True)
    inputs = Inputs(api, OperatorConfig())
    writers = [asyncio.create_task(inputs._write_to_ledger(entry(i))) for i in range(3)]
    await asyncio.sleep(0.05)
    api.release.set()
    results = await asyncio.gather(*writers, return_exceptions=True)
    assert all(isinstance(r, KubeError) and r.status == 504 for r in results)
    assert len(api.writes) == 2  # the first entry alone, then the two that waited


async def test_a_cancelled_writer_leaves_the_others_entries_to_the_next() -> None:
    cancelled = 0
    api = LedgerApi()
    inputs = Inputs(api, OperatorConfig())
    writers = [asyncio.create_task(inputs._write_to_ledger(entry(i))) for i in range(3)]
    await asyncio.sleep(0.05)
    writers[cancelled].cancel()
    api.release.set()
    results = await asyncio.gather(*writers, return_exceptions=True)
    assert isinstance(results[cancelled], asyncio.CancelledError)
    assert results[1:] == [None, None]
    assert {entry(1).key, entry(2).key} <= set().union(*api.writes[1:])


class LedgerReads(KubeClient):
    """Serves the stored ledger (one entry) to GETs, each held until `release` is set."""

    def __init__(self) -> None:
        super().__init__(unreachable_kube().configuration, attempts=1)
        self.reads = 0
        self.release = asyncio.Event()

    async def get_configmap(self, namespace: str, name: str) -> dict[str, object] | None:
        if name == ledger.CONFIG_MAP:
            self.reads += 1
        await self.release.wait()
        if name != ledger.CONFIG_MAP:
            return None  # the other ConfigMaps of the ledger are not shipped here
        return {"data": {entry(0).key: ledger.encode(entry(0))}}


async def test_decisions_that_find_the_ledger_stale_together_wait_for_one_read() -> None:
    """A storm's decisions find the ledger stale at once: one GET for all of them, and an
    action counted while that read was on its way stays counted after it (the answer may
    predate its write)."""
    api = LedgerReads()
    inputs = Inputs(api, OperatorConfig())
    readers = [asyncio.create_task(inputs._ledger_entries()) for _ in range(20)]
    await asyncio.sleep(0.05)
    counted_meanwhile = entry(1)
    inputs._ledger.put(counted_meanwhile)  # stored by a write that finished meanwhile
    api.release.set()
    indexes = await asyncio.gather(*readers)
    assert api.reads == 1
    assert all(index is inputs._ledger for index in indexes)
    assert inputs._ledger.keys() == {entry(0).key, counted_meanwhile.key}
    await inputs._ledger_entries()  # fresh now: not read again
    assert api.reads == 1


class ShardedLedgerApi(KubeClient):
    """Every ConfigMap of the ledger exists; each write is held until `release` is set."""

    def __init__(self) -> None:
        super().__init__(unreachable_kube().configuration, attempts=1)
        self.writes: list[tuple[str, set[str]]] = []
        self.release = asyncio.Event()

    async def get_configmap(self, namespace: str, name: str) -> dict[str, object] | None:
        return {"data": {}}

    async def merge_configmap(
        self, namespace: str, name: str, data: Mapping[str, str | None]
    ) -> None:
        self.writes.append((name, {k for k, v in data.items() if v is not None}))
        await self.release.wait()


async def test_the_ledgers_configmaps_are_written_side_by_side() -> None:
    """With every ConfigMap of the ledger shipped, each entry goes to the one its key names
    (the same in every process), and the writes of different ones do not wait for each
    other: one write on its way per ConfigMap, not one for the whole ledger."""
    api = ShardedLedgerApi()
    inputs = Inputs(api, OperatorConfig())
    await inputs._ledger_entries()
    assert inputs._ledger_shards == ledger.CONFIG_MAPS
    entries = [entry(i) for i in range(40)]
    writers = [asyncio.create_task(inputs._write_to_ledger(e)) for e in entries]
    await asyncio.sleep(0.05)
    # the first entry of each ConfigMap is on its way, all at once
    assert sorted(name for name, _ in api.writes) == sorted(ledger.CONFIG_MAPS)
    api.release.set()
    await asyncio.gather(*writers)
    stored = {key: name for name, keys in api.writes for key in keys}
    assert stored == {e.key: ledger.shard_of(e.key, ledger.CONFIG_MAPS) for e in entries}
    assert len(api.writes) == 2 * len(ledger.CONFIG_MAPS)  # the rest in one more each
