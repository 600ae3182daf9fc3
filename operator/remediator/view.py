"""What the operator knows of Incidents and RemediationPolicies between API calls.

The reconciler used to LIST every Incident (twice) for the guards of each decision and every
policy of the namespace for each match: O(incidents) per decision, O(n²) under a storm. It
now reads two Kopf indexes instead (`handlers/indexes.py`), which Kopf keeps from the watch
streams it holds anyway. Why this is as safe as the listings were:

- **Derived from the API, correct after restarts.** An index holds only what the watch
  stream says is stored in the API (the Incident's status is still the one source of
  truth); nothing is remembered across processes. Kopf fills every index from its initial
  LIST and calls no resource handler before all of them are filled; `ready` is set by the
  first handler call, and until then (the ticker can run earlier) every read falls back to
  the API, exactly as before.
- **Never older than this process's own writes.** Every status this process writes is
  recorded here at once (`wrote`), with the resourceVersion the API answered, and wins over
  the index until the watch delivers that very resourceVersion (watch events arrive in
  order, so anything the index holds before it is older). So an action this operator just
  applied counts for the cooldown and rate limits before its watch event arrives — sooner
  than a LIST issued at the same moment could show it. Should a watch restart skip that
  event, the entry yields to the index after `HORIZON` seconds.
- **Other writers are seen with watch latency** (milliseconds), the same window a LIST taken
  just before acting always had: guards were never a lock between incidents (an `Applying`
  action never counted), and only one replica acts at a time (peering).
- **Policies** are read from the index for matching and gating: an edit made milliseconds
  ago may be missed, as it could be by a LIST made a moment earlier. The pause switch
  (ConfigMap) and the Incident itself are still read from the API on every decision.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from .core import guards
from .core.lifecycle import ACTIVE
from .core.models import Incident, IncidentStatus, RemediationPolicy

HORIZON = 30.0  # seconds a written status wins over an index that has not caught up

Key = tuple[str, str]


@dataclass(frozen=True)
class IncidentSummary:
    """What guards and the ticker need of one Incident (small: thousands are kept)."""

    namespace: str
    name: str
    resource_version: str
    phase: str
    respond_by: datetime | None
    past: tuple[guards.PastAction, ...]
    revert_at: tuple[datetime, ...]  # of Applied actions that revert by time

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE


def summarize(namespace: str, name: str, rv: str, status: IncidentStatus) -> IncidentSummary:
    past = tuple(
        guards.PastAction(
            namespace=namespace,
            target=a.target,
            policy=status.policy or "",
            incident=name,
            at=at,
        )
        for a in status.actions
        if (at := guards.changed_at(a)) is not None
    )
    return IncidentSummary(
        namespace=namespace,
        name=name,
        resource_version=rv,
        phase=status.phase,
        respond_by=status.respond_by,
        past=past,
        revert_at=tuple(
            a.revert_at for a in status.actions if a.state == "Applied" and a.revert_at
        ),
    )


def summarize_body(body: Mapping[str, Any]) -> IncidentSummary | None:
    try:
        incident = Incident.model_validate(body)
    except ValidationError:
        return None
    meta = incident.metadata
    return summarize(meta.namespace, meta.name, meta.resource_version or "", incident.status)


def valid_policy(body: Mapping[str, Any]) -> RemediationPolicy | None:
    try:
        return RemediationPolicy.model_validate(body)
    except ValidationError:
        return None  # reported on the policy itself by its own handler


@dataclass
class ClusterView:
    """The two Kopf indexes and this process's own writes over them."""

    incidents: Mapping[Any, Iterable[IncidentSummary]] | None = None
    policies: Mapping[Any, Iterable[RemediationPolicy]] | None = None
    ready: bool = False
    _written: dict[Key, tuple[IncidentSummary, float]] = field(default_factory=dict)
    # What the guards read, kept by the index handler (`indexed`) so that a decision reads
    # the few incidents that can refuse it, not every incident: the incidents that acted
    # on a target, that acted under a policy, and those remediating now.
    _guarding: dict[Key, IncidentSummary] = field(default_factory=dict)
    _by_target: dict[tuple[str, str], set[Key]] = field(default_factory=dict)
    _by_policy: dict[tuple[str, str], set[Key]] = field(default_factory=dict)
    _active: set[Key] = field(default_factory=set)

    def attach(
        self,
        incidents: Mapping[Any, Iterable[IncidentSummary]],
        policies: Mapping[Any, Iterable[RemediationPolicy]],
    ) -> None:
        self.incidents, self.policies = incidents, policies

    @property
    def usable(self) -> bool:
        return self.ready and self.incidents is not None and self.policies is not None

    # ------------------------------------------------------------------ writes
    def wrote(self, summary: IncidentSummary) -> None:
        """This process wrote this status (the API answered with its resourceVersion)."""
        self._written[(summary.namespace, summary.name)] = (summary, time.monotonic())

    def observed(self, namespace: str, name: str, rv: str) -> None:
        """The watch delivered this version (called by the index handler, in order)."""
        mine = self._written.get((namespace, name))
        if mine is not None and mine[0].resource_version == rv:
            del self._written[(namespace, name)]

    def indexed(self, namespace: str, name: str, rv: str, summary: IncidentSummary | None) -> None:
        """The watch delivered this version, summarized (None: not a valid Incident)."""
        self.observed(namespace, name, rv)
        self._unguard((namespace, name))
        if summary is not None and (summary.past or summary.active):
            key = (namespace, name)
            self._guarding[key] = summary
            for action in summary.past:
                self._by_target.setdefault((namespace, action.target), set()).add(key)
                self._by_policy.setdefault((namespace, action.policy), set()).add(key)
            if summary.active:
                self._active.add(key)

    def _unguard(self, key: Key) -> None:
        summary = self._guarding.pop(key, None)
        if summary is None:
            return
        for action in summary.past:
            for index, by in (
                (self._by_target, (key[0], action.target)),
                (self._by_policy, (key[0], action.policy)),
            ):
                keys = index.get(by)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[by]
        self._active.discard(key)

    def forget_write(self, namespace: str, name: str) -> None:
        """What this process recorded as written did not reach the API."""
        self._written.pop((namespace, name), None)

    def forget(self, namespace: str, name: str) -> None:
        """The incident is gone."""
        self._written.pop((namespace, name), None)
        self._unguard((namespace, name))

    # ------------------------------------------------------------------- reads
    def _prune(self) -> None:
        """Writes whose watch events never came (a restarted watch) yield to the index."""
        now = time.monotonic()
        for key, (_, at) in list(self._written.items()):
            if now - at > HORIZON:
                del self._written[key]

    def summaries(self, namespace: str | None = None) -> Iterator[IncidentSummary]:
        """Every Incident (of `namespace`), this process's newer writes first."""
        assert self.incidents is not None
        self._prune()
        for key, values in self.incidents.items():
            if namespace is not None and key[0] != namespace:
                continue
            if key in self._written:
                continue
            yield from values
        for (ns, _), (summary, _) in self._written.items():
            if namespace is None or ns == namespace:
                yield summary

    def guard_inputs(
        self, namespace: str, target: str, policy: str
    ) -> tuple[list[guards.PastAction], int]:
        """What `guards.check_guards` needs, read from the incidents that can matter: the
        past actions in `namespace` on `target` or under `policy`, and how many incidents
        remediate now, anywhere (this process's newer writes win, as in `summaries`)."""
        self._prune()
        keys = self._by_target.get((namespace, target), set()) | self._by_policy.get(
            (namespace, policy), set()
        )
        written = {key: summary for key, (summary, _) in self._written.items()}
        history: list[guards.PastAction] = []
        for key in keys:
            if key not in written:
                history.extend(self._guarding[key].past)
        active = sum(1 for key in self._active if key not in written)
        for (ns, _), summary in written.items():
            active += summary.active
            if ns == namespace:
                history.extend(a for a in summary.past if a.target == target or a.policy == policy)
        return history, active

    def candidates(self, namespace: str, alertname: str) -> list[RemediationPolicy]:
        """The namespace's valid policies that may match an alert of this name: those
        that list it, and those that list no alert name (`matching.matches` decides)."""
        assert self.policies is not None
        named = self.policies.get((namespace, "alertname", alertname), ())
        return [*named, *self.policies.get((namespace, "any-alertname"), ())]

    def policy(self, namespace: str, name: str) -> RemediationPolicy | None:
        assert self.policies is not None
        return next(iter(self.policies.get((namespace, name), ())), None)
