"""The guard ledger: every action the operator starts, kept where Incident creators cannot
erase it.

Cooldowns and rate limits count past actions. Counted from Incidents alone, they reset
when someone deletes the Incidents that acted (anyone who may create Incidents may delete
them). So each action is also written, as it starts (the `Applying` mark), to a ConfigMap in
the operator's own namespace, one key per action, and the guards count the ledger. An entry
is kept until neither the hour of the rate limits nor its policy's cooldown needs it.
Purely computational: the reconciler reads and writes the ConfigMap.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from remediator.core.guards import RATE_WINDOW, PastAction

CONFIG_MAP = "remediator-ledger"
SHARDS = 2
# The ledger's ConfigMaps, as deploy/ ships them: each is written by one writer at a time
# (patches of one object contend for one etcd key), so two let the writes of a storm go side
# by side: on the bench's real cluster the p99 at 50 alerts/s went from 304-414 ms with one
# to 245 ms. Four were no faster and smaller batches made more writes (the storm's
# throughput fell from 74 to 69 remediations/s). Only those that exist are written (an
# operator upgraded before the second was shipped goes on with the first, which it may
# create).
CONFIG_MAPS = (CONFIG_MAP, *(f"{CONFIG_MAP}-{i}" for i in range(1, SHARDS)))

_K = TypeVar("_K")


@dataclass(frozen=True, slots=True)
class Entry:
    key: str  # "<incident uid>.<step index>": a re-applied step overwrites its own entry
    action: PastAction
    until: datetime  # no guard needs it after this


def entry(
    *,
    uid: str,
    index: int,
    namespace: str,
    incident: str,
    policy: str,
    target: str,
    at: datetime,
    cooldown_seconds: float,
) -> Entry:
    keep = max(RATE_WINDOW, timedelta(seconds=cooldown_seconds))
    action = PastAction(
        namespace=namespace, target=target, policy=policy, incident=incident, at=at, uid=uid
    )
    return Entry(key=f"{uid}.{index}", action=action, until=at + keep)


def encode(e: Entry) -> str:
    a = e.action
    return json.dumps(
        {
            "namespace": a.namespace,
            "target": a.target,
            "policy": a.policy,
            "incident": a.incident,
            "at": a.at.isoformat(),
            "until": e.until.isoformat(),
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def decode(data: Mapping[str, str]) -> dict[str, Entry]:
    """The entries of a ConfigMap's data; a key that does not parse is skipped (the ledger
    lives in the operator's namespace: only the operator and cluster admins write it)."""
    entries: dict[str, Entry] = {}
    for key, value in data.items():
        try:
            raw = json.loads(value)
            action = PastAction(
                namespace=str(raw["namespace"]),
                target=str(raw["target"]),
                policy=str(raw["policy"]),
                incident=str(raw["incident"]),
                at=datetime.fromisoformat(raw["at"]),
                uid=key.rpartition(".")[0],
            )
            entries[key] = Entry(key, action, datetime.fromisoformat(raw["until"]))
        except (ValueError, KeyError, TypeError):
            continue
    return entries


def shard_of(key: str, shards: Sequence[str]) -> str:
    """The ConfigMap among `shards` an entry new to the ledger is written to (stable across
    processes: a key's shard never depends on this process)."""
    return shards[zlib.crc32(key.encode()) % len(shards)]


def expired(entries: Iterable[Entry], now: datetime) -> list[str]:
    return [e.key for e in entries if e.until <= now]


class Index:
    """The entries as this process knows them, found by what the guards ask without a scan
    of the whole ledger: the actions of one incident (by uid), and those in a namespace on
    one target or under one policy (thousands of entries are kept for an hour)."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: dict[str, Entry] = {}
        self._by_uid: dict[str, set[str]] = {}
        self._by_scope: dict[tuple[str, str, str], set[str]] = {}
        for e in entries:
            self.put(e)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __getitem__(self, key: str) -> Entry:
        return self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> set[str]:
        return set(self._entries)

    def values(self) -> list[Entry]:
        return list(self._entries.values())

    def put(self, e: Entry) -> None:
        self.pop(e.key)
        self._entries[e.key] = e
        self._by_uid.setdefault(e.action.uid, set()).add(e.key)
        for scope in _scopes(e):
            self._by_scope.setdefault(scope, set()).add(e.key)

    def pop(self, key: str) -> Entry | None:
        e = self._entries.pop(key, None)
        if e is not None:
            _discard(self._by_uid, e.action.uid, key)
            for scope in _scopes(e):
                _discard(self._by_scope, scope, key)
        return e

    def keys_of(self, uid: str) -> set[str]:
        """The keys of the actions of the incident with this uid."""
        return set(self._by_uid.get(uid, ()))

    def concerning(self, namespace: str, target: str, policy: str) -> list[Entry]:
        """The entries of the namespace on `target` or under `policy`."""
        keys = self._by_scope.get((namespace, "target", target), set()) | self._by_scope.get(
            (namespace, "policy", policy), set()
        )
        return [self._entries[key] for key in keys]


def _scopes(e: Entry) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    a = e.action
    return (a.namespace, "target", a.target), (a.namespace, "policy", a.policy)


def _discard(index: dict[_K, set[str]], bucket: _K, key: str) -> None:
    keys = index.get(bucket)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[bucket]
