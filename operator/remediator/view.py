"""What the operator knows of Incidents and RemediationPolicies between API calls.

The reconciler used to LIST every Incident (twice) for the guards of each decision and every
policy of the namespace for each match: O(incidents) per decision, O(n²) under a storm. It
now reads this view instead, which the operator's own LIST and WATCH of both resources keeps
(`informer`): a compact summary per Incident, the valid policies by alert name. Why this is
as safe as the listings were:

- **Derived from the API, correct after restarts.** The view holds only what the watch
  stream says is stored in the API (the Incident's status is still the one source of
  truth); nothing is remembered across processes. The operator's startup waits for the
  first listings (`filled`), so no Kopf handler runs before the view is complete; until
  then (the ticker can run earlier) every read falls back to the API, exactly as before.
- **Never older than this process's own writes.** Every status this process writes is
  recorded here at once (`wrote`), with the resourceVersion the API answered, and wins over
  the watched summary until the watch delivers that very resourceVersion (watch events
  arrive in order, so anything held before it is older). So an action this operator just
  applied counts for the cooldown and rate limits before its watch event arrives — sooner
  than a LIST issued at the same moment could show it. Should a watch restart skip that
  event, the entry yields to the watched one after `HORIZON` seconds.
- **Other writers are seen with watch latency** (milliseconds), the same window a LIST taken
  just before acting always had: guards were never a lock between incidents (an `Applying`
  action never counted), and only one replica acts at a time (peering).
- **Policies** are read from the view for matching and gating: an edit made milliseconds
  ago may be missed, as it could be by a LIST made a moment earlier. So are the pause switch
  (ConfigMap) and the HorizontalPodAutoscalers, while their watches are current (else the
  reconciler GETs them, as it always did); the Incident itself comes with its watch event.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from .core.lifecycle import ACTIVE, needs_work, unfinished
from .core.models import Incident, IncidentStatus, RemediationPolicy

HORIZON = 30.0  # seconds a written status wins over a watch that has not caught up

Key = tuple[str, str]
_K = TypeVar("_K")


@dataclass(frozen=True, slots=True)
class IncidentSummary:
    """What guards and the ticker need of one Incident (small: thousands are kept)."""

    namespace: str
    name: str
    resource_version: str
    phase: str
    respond_by: datetime | None
    revert_at: tuple[datetime, ...]  # of Applied actions that revert by time
    needs_work: bool  # `lifecycle.needs_work`: what a replica that takes over reconciles

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE


def summarize(
    namespace: str, name: str, rv: str, status: IncidentStatus, *, needs_work: bool | None = None
) -> IncidentSummary:
    """`needs_work` as the raw body told it (None: judged from the status alone, as for this
    process's own writes)."""
    # The values thousands of summaries share (namespace, phase) are one string each.
    namespace = sys.intern(namespace)
    revert_at = tuple(a.revert_at for a in status.actions if a.state == "Applied" and a.revert_at)
    if needs_work is None:
        needs_work = unfinished(status.phase, reverting=bool(revert_at))
    return IncidentSummary(
        namespace=namespace,
        name=name,
        resource_version=rv,
        phase=sys.intern(status.phase),
        respond_by=status.respond_by,
        revert_at=revert_at,
        needs_work=needs_work,
    )


def summarize_body(body: Mapping[str, Any]) -> IncidentSummary | None:
    try:
        incident = Incident.model_validate(body)
    except ValidationError:
        return None
    meta = incident.metadata
    return summarize(
        meta.namespace,
        meta.name,
        meta.resource_version or "",
        incident.status,
        needs_work=needs_work(body),
    )


def outranked(peers: Mapping[str, Any], identity: str, priority: int, now: datetime) -> bool:
    """Whether a live peer other than `identity` has a priority as high or higher (a
    peering object's status: identity -> priority, lifetime, lastseen)."""
    for peer_identity, peer in peers.items():
        if peer_identity == identity or not isinstance(peer, dict):
            continue
        try:
            seen = datetime.fromisoformat(str(peer.get("lastseen")).replace("Z", "+00:00"))
            alive = (now - seen).total_seconds() < float(peer.get("lifetime", 60))
        except ValueError:
            alive = True
        if alive and int(peer.get("priority", 0)) >= priority:
            return True
    return False


def paused(configmap: Mapping[str, Any] | None) -> bool:
    """What the pause switch's ConfigMap says (none at all: not paused)."""
    data = (configmap or {}).get("data") or {}
    return str(data.get("paused", "false")).lower() == "true"


def valid_policy(body: Mapping[str, Any]) -> RemediationPolicy | None:
    try:
        return RemediationPolicy.model_validate(body)
    except ValidationError:
        return None  # reported on the policy itself by its own handler


@dataclass
class ClusterView:
    """The watched Incidents and policies, and this process's own writes over them."""

    filled: bool = False  # the first listings of both resources are in (`informer`)
    _incidents: dict[Key, IncidentSummary] = field(default_factory=dict)
    _policies: dict[Key, RemediationPolicy] = field(default_factory=dict)
    # the valid policies that name an alert, and those that name none, by namespace
    _by_alertname: dict[Key, dict[str, RemediationPolicy]] = field(default_factory=dict)
    _any_alertname: dict[str, dict[str, RemediationPolicy]] = field(default_factory=dict)
    _written: dict[Key, tuple[IncidentSummary, float]] = field(default_factory=dict)
    # The incidents remediating now (MaxConcurrent counts them). Past actions are not
    # read from here: the guards count the guard ledger (`core.ledger`), which only the
    # operator writes and which outlives deleted Incidents.
    _active: set[Key] = field(default_factory=set)
    # The pause switch and the HPAs, while followed by a current watch (`informer`); None,
    # or a namespace not in `_hpas_known`: not known here, ask the API.
    _paused: bool | None = None
    _hpas: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _hpas_known: set[str | None] = field(default_factory=set)  # None: every namespace
    # Kopf's peering objects (the status: each replica's priority and last keep-alive), by
    # the namespace they serve ("": cluster-wide), while followed; absent: not known.
    _peers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.filled

    # ------------------------------------------------------------ the watch
    def put_incident(
        self, namespace: str, name: str, rv: str, summary: IncidentSummary | None
    ) -> None:
        """The watch (or a listing) delivered this version (None: not a valid Incident,
        which is not kept)."""
        if summary is None:
            self._incidents.pop((namespace, name), None)
        else:
            self._incidents[(namespace, name)] = summary
        self.indexed(namespace, name, rv, summary)

    def drop_incident(self, namespace: str, name: str) -> None:
        """The watch says the incident is gone (or a new listing did not return it)."""
        self._incidents.pop((namespace, name), None)
        self.forget(namespace, name)

    def incident_keys(self, namespace: str | None = None) -> set[Key]:
        return {k for k in self._incidents if namespace is None or k[0] == namespace}

    def put_policy(self, namespace: str, name: str, policy: RemediationPolicy | None) -> None:
        """The watch (or a listing) delivered this policy (None: not valid, not used)."""
        self.drop_policy(namespace, name)
        if policy is None:
            return
        self._policies[(namespace, name)] = policy
        # Matching reads only the policies that can match the alert's name (`candidates`):
        # a policy naming alerts matches no other alert; one naming none may match any.
        for alertname in policy.spec.match.alertnames:
            self._by_alertname.setdefault((namespace, alertname), {})[name] = policy
        if not policy.spec.match.alertnames:
            self._any_alertname.setdefault(namespace, {})[name] = policy

    def drop_policy(self, namespace: str, name: str) -> None:
        policy = self._policies.pop((namespace, name), None)
        if policy is None:
            return
        for alertname in policy.spec.match.alertnames:
            _discard(self._by_alertname, (namespace, alertname), name)
        if not policy.spec.match.alertnames:
            _discard(self._any_alertname, namespace, name)

    def policy_keys(self, namespace: str | None = None) -> set[Key]:
        return {k for k in self._policies if namespace is None or k[0] == namespace}

    def put_pause(self, configmap: Mapping[str, Any] | None) -> None:
        """The pause switch's ConfigMap as the watch delivered it (None: there is none)."""
        self._paused = paused(configmap)

    def pause_unknown(self) -> None:
        self._paused = None

    def put_hpa(self, namespace: str, name: str, hpa: Mapping[str, Any]) -> None:
        """What planning reads of an HPA (its name and spec); the executor reads it again."""
        kept = {"metadata": {"name": name, "namespace": namespace}, "spec": hpa.get("spec") or {}}
        self._hpas.setdefault(namespace, {})[name] = kept

    def drop_hpa(self, namespace: str, name: str) -> None:
        named = self._hpas.get(namespace)
        if named is not None:
            named.pop(name, None)
            if not named:
                del self._hpas[namespace]

    def hpa_keys(self, namespace: str | None = None) -> set[Key]:
        return {
            (ns, name)
            for ns, named in self._hpas.items()
            if namespace is None or ns == namespace
            for name in named
        }

    def hpas_known(self, namespace: str | None) -> None:
        self._hpas_known.add(namespace)

    def hpas_unknown(self, namespace: str | None) -> None:
        self._hpas_known.discard(namespace)

    def put_peering(self, scope: str, peering: Mapping[str, Any] | None) -> None:
        """The peering object of `scope` as the watch delivered it (None: there is none)."""
        self._peers[scope] = dict((peering or {}).get("status") or {})

    def peering_unknown(self, scope: str) -> None:
        self._peers.pop(scope, None)

    def leads(self, scopes: list[str], identity: str, priority: int, now: datetime) -> bool | None:
        """Whether this replica is the one that acts in every peering scope, decided as
        Kopf's peering decides it: no live peer with a higher or the same priority (None:
        a scope's peering object is not known now)."""
        for scope in scopes:
            peers = self._peers.get(scope)
            if peers is None:
                return None
            if outranked(peers, identity, priority, now):
                return False
        return True

    # ------------------------------------------------------------------ writes
    def wrote(self, summary: IncidentSummary) -> None:
        """This process wrote this status (the API answered with its resourceVersion)."""
        self._written[(summary.namespace, summary.name)] = (summary, time.monotonic())

    def observed(self, namespace: str, name: str, rv: str) -> None:
        """The watch delivered this version (called for each watch event, in order)."""
        mine = self._written.get((namespace, name))
        if mine is not None and mine[0].resource_version == rv:
            del self._written[(namespace, name)]

    def indexed(self, namespace: str, name: str, rv: str, summary: IncidentSummary | None) -> None:
        """The watch delivered this version, summarized (None: not a valid Incident)."""
        self.observed(namespace, name, rv)
        if summary is not None and summary.active:
            self._active.add((namespace, name))
        else:
            self._active.discard((namespace, name))

    def forget_write(self, namespace: str, name: str) -> None:
        """What this process recorded as written did not reach the API."""
        self._written.pop((namespace, name), None)

    def forget(self, namespace: str, name: str) -> None:
        """The incident is gone."""
        self._written.pop((namespace, name), None)
        self._active.discard((namespace, name))

    # ------------------------------------------------------------------- reads
    def _prune(self) -> None:
        """Writes whose watch events never came (a restarted watch) yield to the watch."""
        now = time.monotonic()
        for key, (_, at) in list(self._written.items()):
            if now - at > HORIZON:
                del self._written[key]

    def summaries(self, namespace: str | None = None) -> Iterator[IncidentSummary]:
        """Every Incident (of `namespace`), this process's newer writes first."""
        self._prune()
        for key, summary in self._incidents.items():
            if namespace is not None and key[0] != namespace:
                continue
            if key in self._written:
                continue
            yield summary
        for (ns, _), (written, _) in self._written.items():
            if namespace is None or ns == namespace:
                yield written

    def active_remediations(self) -> int:
        """How many incidents remediate now, anywhere (this process's newer writes win, as
        in `summaries`)."""
        self._prune()
        active = len(self._active)  # counted from the few written ones, not every active one
        for key, (summary, _) in self._written.items():
            active += summary.active - (key in self._active)
        return active

    def paused(self) -> bool | None:
        """Whether remediation is paused, as the pause switch's watch says (None: unknown)."""
        return self._paused

    def hpas(self, namespace: str) -> list[dict[str, Any]] | None:
        """The namespace's HPAs, as their watch says (None: not followed now)."""
        if None not in self._hpas_known and namespace not in self._hpas_known:
            return None
        return list(self._hpas.get(namespace, {}).values())

    def candidates(self, namespace: str, alertname: str) -> list[RemediationPolicy]:
        """The namespace's valid policies that may match an alert of this name: those
        that list it, and those that list no alert name (`matching.matches` decides)."""
        named = self._by_alertname.get((namespace, alertname), {})
        return [*named.values(), *self._any_alertname.get(namespace, {}).values()]

    def policy(self, namespace: str, name: str) -> RemediationPolicy | None:
        return self._policies.get((namespace, name))


def _discard(index: dict[_K, dict[str, RemediationPolicy]], key: _K, name: str) -> None:
    named = index.get(key)
    if named is not None:
        named.pop(name, None)
        if not named:
            del index[key]
