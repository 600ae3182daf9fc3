"""The guard ledger's index: what the guards ask of thousands of entries, without a scan,
answered as a scan would answer it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from remediator.core import ledger

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def _entry(i: int, *, namespace: str, target: str, policy: str, uid: str) -> ledger.Entry:
    return ledger.entry(
        uid=uid,
        index=i % 3,
        namespace=namespace,
        incident=f"inc-{i}",
        policy=policy,
        target=target,
        at=NOW - timedelta(minutes=i % 50),
        cooldown_seconds=300,
    )


def test_the_index_answers_as_a_scan_does_through_puts_replacements_and_pops() -> None:
    rng = random.Random(7)
    index = ledger.Index()
    scanned: dict[str, ledger.Entry] = {}
    for i in range(2000):
        e = _entry(
            i,
            namespace=rng.choice(["shop", "pay"]),
            target=f"Deployment/{rng.choice('abcdef')}",
            policy=rng.choice(["p1", "p2", "p3"]),
            uid=f"uid-{rng.randrange(700)}",  # the same key again: a replaced entry
        )
        index.put(e)
        scanned[e.key] = e
        if rng.random() < 0.2:  # expired, or released
            gone = rng.choice(sorted(scanned))
            assert index.pop(gone) is scanned.pop(gone)
    assert index.keys() == set(scanned) and len(index) == len(scanned)
    for namespace in ("shop", "pay", "none"):
        for target in ("Deployment/a", "Deployment/f", "Deployment/z"):
            for policy in ("p1", "p3", "p9"):
                found = index.concerning(namespace, target, policy)
                expected = [
                    e
                    for e in scanned.values()
                    if e.action.namespace == namespace
                    and (e.action.target == target or e.action.policy == policy)
                ]
                assert sorted(e.key for e in found) == sorted(e.key for e in expected)
    for uid in ("uid-0", "uid-5", "uid-699", "uid-none"):
        assert index.keys_of(uid) == {k for k in scanned if k.rpartition(".")[0] == uid}
    assert index.pop("absent") is None


def test_an_entry_moved_to_another_scope_leaves_the_old_one() -> None:
    index = ledger.Index()
    first = _entry(0, namespace="shop", target="Deployment/a", policy="p1", uid="u")
    moved = _entry(0, namespace="shop", target="Deployment/b", policy="p2", uid="u")
    index.put(first)
    index.put(moved)  # the same key (a re-applied step), another target and policy
    assert index.concerning("shop", "Deployment/a", "p1") == []
    assert index.concerning("shop", "Deployment/b", "p9") == [moved]
