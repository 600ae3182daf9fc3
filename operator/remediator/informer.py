"""The operator's own LIST and WATCH of Incidents and RemediationPolicies, which keep
`view.ClusterView` (what guards, matching and the ticker read between API calls).

They used to be two Kopf indexes. Kopf runs no handler until every index is filled, so
after a restart each listed object waited, body and all, until the last one was indexed:
with 12,500 Incidents every Incident was in memory at once (the process peaked at ~500 MB
and stayed above 400 MB, the freed memory too fragmented to return), and Kopf 1.45 woke
every waiting object each time one more was indexed (n² wake-ups: no handler had run three
minutes after a restart). Here an object is summarized as its page or event arrives and its
body is dropped; Kopf's own watches (for the handlers) wait for nothing and keep nothing.

Per resource and per namespace served (or cluster-wide): a LIST in pages, then a WATCH from
the first page's resourceVersion, so every change after the listing is delivered, in order,
deletions included (a change that a later page showed already is delivered again: harmless).
A watch that ends is started again from the last resourceVersion seen (bookmarks keep it
recent); one the API no longer serves from there (410 Gone) is replaced by a new listing,
after which what that listing did not return is dropped. Errors are retried with backoff.
The operator's startup waits for the first listings (`fill`), so no Kopf handler runs
before the view is complete — as Kopf guaranteed for its indexes.

Three more things are followed the same way: the pause switch (the one ConfigMap, selected
by name) and the HorizontalPodAutoscalers (a scale raises the HPA's minReplicas instead),
which every decision used to GET, and Kopf's peering object (whether this replica leads, so
that Incident events are dispatched at all: `handlers.incidents`). None holds up the start:
until its listing is in, and whenever its watch has failed and not yet been started again,
the view says it does not know; the reconciler then asks the API for the first two, and a
peered replica acts on nothing. A pause switch flipped is seen with watch latency
(milliseconds), as a GET made a moment before the flip would have missed it too.

Incident events (after the first listings) are also told to `on_incident`, which dispatches
the reconciles: Kopf does not watch Incidents.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import structlog

from .adapters.kube import KubeClient, KubeError
from .view import ClusterView, Key, summarize_body, valid_policy

log = structlog.get_logger("remediator.informer")

INCIDENTS, POLICIES = "incidents", "remediationpolicies"
HPAS, PAUSE, PEERING = "horizontalpodautoscalers", "pause", "peering"
REQUIRED = (INCIDENTS, POLICIES)  # the start waits for these; the others are "not known" meanwhile
PAGE = 500  # objects per page of a listing
WATCH_SECONDS = 300  # the API ends a watch after this long; it is started again at once
BACKOFF = (0.1, 0.5, 1.0, 2.0, 5.0)  # seconds before retrying after consecutive failures


class Informer:
    def __init__(
        self,
        kube: KubeClient,
        view: ClusterView,
        namespaces: list[str],
        *,
        page: int = PAGE,
        watch_seconds: int = WATCH_SECONDS,
        pause: tuple[str, str] | None = None,
        hpas: bool = False,
        peering: str | None = None,
    ) -> None:
        """`pause`: the namespace and name of the pause switch's ConfigMap, to follow; `hpas`:
        follow the HorizontalPodAutoscalers of the namespaces served; `peering`: the name of
        Kopf's peering object to follow (a KopfPeering in each namespace served, else the
        ClusterKopfPeering).

        `on_incident(kind, body)`, once set, is told every Incident event after the first
        listings, and each Incident a later listing (after 410 Gone) returns, as "ADDED";
        a deletion ("DELETED") with the body's metadata only when a listing noticed it."""
        self.kube = kube
        self.view = view
        self.page = page
        self.watch_seconds = watch_seconds
        served: list[str | None] = [*namespaces] or [None]  # None: every namespace
        plurals = [INCIDENTS, POLICIES, *([HPAS] if hpas else [])]
        self.scopes = [(plural, namespace) for plural in plurals for namespace in served]
        self._pause = pause
        if pause is not None:
            self.scopes.append((PAUSE, pause[0]))
        self._peering = peering
        if peering is not None:
            self.scopes += [(PEERING, namespace) for namespace in served]
        self.on_incident: Callable[[str, Mapping[str, Any]], None] | None = None
        self._versions: dict[tuple[str, str | None], str] = {}

    async def fill(self, incidents: Callable[[list[dict[str, Any]]], None] | None = None) -> None:
        """The first listing of every scope (retried until it succeeds; the pause switch and
        HPAs are tried once, and followed by `run`); then the view is `filled`, and may be
        read. `incidents` is shown each page of Incidents listed."""
        for scope in self.scopes:
            failures = 0
            while scope not in self._versions:
                try:
                    pages = incidents if scope[0] == INCIDENTS else None
                    self._versions[scope] = await self._list(scope, pages)
                except (KubeError, aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
                    log.warning("could not list", resource=scope[0], error=str(e))
                    if scope[0] not in REQUIRED:
                        break
                    await asyncio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
                    failures += 1
        self.view.filled = True

    async def run(self) -> None:
        """Follow every scope's changes, for as long as the operator runs."""
        await asyncio.gather(*(self._follow(scope) for scope in self.scopes))

    # ------------------------------------------------------------------- one scope
    async def _follow(self, scope: tuple[str, str | None]) -> None:
        plural = scope[0]
        failures = 0
        while True:
            try:
                version = self._versions.get(scope) or await self._list(scope)
                self._versions[scope] = version
                gone = False
                path, query = self._collection(scope)
                async with contextlib.aclosing(
                    self.kube.watch(path, version, query, timeout_seconds=self.watch_seconds)
                ) as events:
                    async for event in events:
                        if not self._event(scope, event):
                            gone = True  # 410 Gone: list again, at once
                            break
                        failures = 0
                if not gone:
                    await asyncio.sleep(BACKOFF[0])  # the API ended the watch: start anew
                continue
            except KubeError as e:
                if e.status == 410:
                    self._versions.pop(scope, None)
                    continue
                failures += 1
                log.warning("watch failed", resource=plural, error=str(e))
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
                failures += 1
                log.warning("watch failed", resource=plural, error=str(e))
            except Exception as e:  # the view must go on following: list again
                failures += 1
                log.exception("watch failed", resource=plural, error=str(e))
                self._versions.pop(scope, None)
            self._unknown(scope)  # until followed again, its readers ask the API
            await asyncio.sleep(BACKOFF[min(failures - 1, len(BACKOFF) - 1)])

    def _collection(self, scope: tuple[str, str | None]) -> tuple[str, dict[str, str]]:
        """The scope's collection path and the query that selects in it."""
        plural, namespace = scope
        if plural == HPAS:
            return self.kube.hpa_collection(namespace), {}
        if plural == PAUSE:
            assert self._pause is not None and namespace is not None
            selector = {"fieldSelector": f"metadata.name={self._pause[1]}"}
            return self.kube.configmap_collection(namespace), selector
        if plural == PEERING:
            assert self._peering is not None
            selector = {"fieldSelector": f"metadata.name={self._peering}"}
            return self.kube.peering_collection(namespace), selector
        return self.kube.custom_collection(plural, namespace), {}

    def _unknown(self, scope: tuple[str, str | None]) -> None:
        """A watch failed: the pause switch and the HPAs are not known here until listed
        again (a small listing; the view never serves what may have changed meanwhile)."""
        if scope[0] in REQUIRED:
            return  # kept, and followed again from the last version seen
        self._versions.pop(scope, None)
        if scope[0] == HPAS:
            self.view.hpas_unknown(scope[1])
        elif scope[0] == PAUSE:
            self.view.pause_unknown()
        elif scope[0] == PEERING:
            self.view.peering_unknown(scope[1] or "")

    def _event(self, scope: tuple[str, str | None], event: Mapping[str, Any]) -> bool:
        """Apply one watch event; False when the watch must start over from a listing."""
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            code = int(obj.get("code") or 0)
            if code == 410:
                self._versions.pop(scope, None)
                return False
            raise KubeError(code, str(obj.get("reason", "")), str(obj.get("message", "")))
        if kind in ("ADDED", "MODIFIED"):
            self._put(scope[0], obj)
        elif kind == "DELETED":
            self._drop(scope[0], _key(obj))
        if scope[0] == INCIDENTS and self.on_incident is not None and kind != "BOOKMARK":
            self.on_incident(str(kind), obj)
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version:
            self._versions[scope] = str(version)
        return True

    async def _list(
        self,
        scope: tuple[str, str | None],
        pages: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> str:
        """List the scope page by page into the view; drop what the listing did not return
        (deleted while no watch was running); the listing's resourceVersion."""
        plural, namespace = scope
        seen: set[Key] = set()
        version = ""
        path, query = self._collection(scope)
        async for items, listed in self.kube.list_pages(path, query, limit=self.page):
            version = version or listed  # the first page's: later pages may be newer
            for obj in items:
                seen.add(self._put(plural, obj))
                if plural == INCIDENTS and self.on_incident is not None:
                    self.on_incident("ADDED", obj)  # its changes in the gap were not told
            if pages is not None:
                pages(items)
            del items
        for key in self._keys(plural, namespace) - seen:
            self._drop(plural, key)
            if plural == INCIDENTS and self.on_incident is not None:
                self.on_incident("DELETED", {"metadata": {"namespace": key[0], "name": key[1]}})
        if plural == HPAS:
            self.view.hpas_known(namespace)
        elif plural in (PAUSE, PEERING) and not seen:
            self._drop(plural, (namespace or "", ""))  # none stored: not paused; no peers
        return version

    def _keys(self, plural: str, namespace: str | None) -> set[Key]:
        if plural == INCIDENTS:
            return self.view.incident_keys(namespace)
        if plural == POLICIES:
            return self.view.policy_keys(namespace)
        if plural == HPAS:
            return self.view.hpa_keys(namespace)
        return set()

    def _put(self, plural: str, obj: Mapping[str, Any]) -> Key:
        namespace, name = key = _key(obj)
        if plural == INCIDENTS:
            rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
            self.view.put_incident(namespace, name, rv, summarize_body(obj))
        elif plural == POLICIES:
            self.view.put_policy(namespace, name, valid_policy(obj))
        elif plural == HPAS:
            self.view.put_hpa(namespace, name, obj)
        elif plural == PAUSE:
            self.view.put_pause(obj)
        elif plural == PEERING:
            self.view.put_peering(namespace, obj)
        return key

    def _drop(self, plural: str, key: Key) -> None:
        if plural == INCIDENTS:
            self.view.drop_incident(*key)
        elif plural == POLICIES:
            self.view.drop_policy(*key)
        elif plural == HPAS:
            self.view.drop_hpa(*key)
        elif plural == PAUSE:
            self.view.put_pause(None)
        elif plural == PEERING:
            self.view.put_peering(key[0], None)


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
