"""The emulator's storage: objects, the cluster-wide resourceVersion, watch history, write log.

kube-apiserver's contract with its clients rests on etcd's revision: every write gets a
larger resourceVersion, a watch can resume from any version still in history and gets
410 Gone for one that was compacted away. Clients (Kopf, informers) rely on exactly that,
so the store keeps one counter for all resources and a bounded history of changes.

Stored objects are never mutated after they are committed: readers may hold references,
and writers build a new dict. Everything here runs on the emulator's event loop thread.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

StorageKey = tuple[str, str]  # (group, plural)
ObjectKey = tuple[str, str]  # (namespace or "", name)


@dataclass(frozen=True)
class Change:
    """One committed change: what watches replay and what controllers react to."""

    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    key: StorageKey
    obj: dict[str, Any]
    old: dict[str, Any] | None


@dataclass(frozen=True)
class Action:
    """Who asks to do what to which object: what an audit log records of a request, and
    what an injected fault's rule is matched against."""

    verb: str  # create | update | patch | delete | deletecollection | evict | get | ...
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str
    user: str


@dataclass(frozen=True)
class WriteRecord(Action):
    """One accepted write request, as an audit log would show it (tests count these)."""

    seq: int
    time: float
    dry_run: bool
    changed: bool
    response_dropped: bool = False  # applied, but an injected fault lost the answer


@dataclass(eq=False)
class Watcher:
    key: StorageKey
    queue: asyncio.Queue[Change] = field(default_factory=asyncio.Queue)


class Store:
    def __init__(self, history_size: int = 50_000) -> None:
        self.rv = 1
        self.compacted_rv = 1
        self._objects: dict[StorageKey, dict[ObjectKey, dict[str, Any]]] = {}
        self._history: deque[Change] = deque()
        self._history_size = history_size
        self._watchers: set[Watcher] = set()
        self._listeners: list[Callable[[Change], None]] = []
        self.writes: list[WriteRecord] = []
        self.requests: dict[tuple[str, str, str], int] = {}

    # reads
    def get(self, key: StorageKey, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get(key, {}).get((namespace, name))

    def iter(self, key: StorageKey, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        bucket = self._objects.get(key, {})
        for (ns, _), obj in sorted(bucket.items()):
            if namespace is None or ns == namespace:
                yield obj

    def keys(self) -> list[StorageKey]:
        return list(self._objects)

    def storage_keys(self) -> list[StorageKey]:
        """The resources that have (or had) objects: what cascading deletes walk."""
        return list(self._objects)

    # writes
    def next_rv(self) -> str:
        """Reserve the resourceVersion of the next commit (it is only used by that commit)."""
        return str(self.rv + 1)

    def commit(self, key: StorageKey, obj: dict[str, Any], old: dict[str, Any] | None) -> Change:
        """Store a new or changed object; `obj` must already carry `next_rv()`."""
        self.rv += 1
        meta = obj["metadata"]
        assert meta["resourceVersion"] == str(self.rv), "commit without next_rv()"
        self._objects.setdefault(key, {})[(meta.get("namespace", ""), meta["name"])] = obj
        return self._publish(Change(self.rv, "MODIFIED" if old else "ADDED", key, obj, old))

    def remove(self, key: StorageKey, obj: dict[str, Any]) -> Change:
        """Delete an object; the DELETED event carries the object at a new resourceVersion."""
        self.rv += 1
        meta = obj["metadata"]
        self._objects.get(key, {}).pop((meta.get("namespace", ""), meta["name"]), None)
        final = {**obj, "metadata": {**meta, "resourceVersion": str(self.rv)}}
        return self._publish(Change(self.rv, "DELETED", key, final, obj))

    def drop_resource(self, key: StorageKey) -> list[dict[str, Any]]:
        """Forget every object of a resource (its CRD was deleted)."""
        bucket = self._objects.pop(key, {})
        return list(bucket.values())

    def _publish(self, change: Change) -> Change:
        self._history.append(change)
        while len(self._history) > self._history_size:
            dropped = self._history.popleft()
            self.compacted_rv = dropped.rv
        for watcher in self._watchers:
            if watcher.key == change.key:
                watcher.queue.put_nowait(change)
        for listener in self._listeners:
            listener(change)
        return change

    # watches
    def history_since(self, key: StorageKey, rv: int) -> list[Change] | None:
        """Changes after `rv`, or None when history no longer reaches back that far."""
        if rv < self.compacted_rv:
            return None
        return [c for c in self._history if c.rv > rv and c.key == key]

    def compact(self) -> None:
        """Forget all history, as etcd compaction does: older resourceVersions become 410."""
        self._history.clear()
        self.compacted_rv = self.rv

    def subscribe(self, key: StorageKey) -> Watcher:
        watcher = Watcher(key)
        self._watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def add_listener(self, listener: Callable[[Change], None]) -> None:
        self._listeners.append(listener)

    # audit
    def record_write(self, **fields: Any) -> None:
        self.writes.append(WriteRecord(seq=len(self.writes) + 1, time=time.time(), **fields))

    def count_request(self, verb: str, group: str, resource: str) -> None:
        k = (verb, group, resource)
        self.requests[k] = self.requests.get(k, 0) + 1
