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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from remediator.core.guards import RATE_WINDOW, PastAction

CONFIG_MAP = "remediator-ledger"


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


def expired(entries: Iterable[Entry], now: datetime) -> list[str]:
    return [e.key for e in entries if e.until <= now]
