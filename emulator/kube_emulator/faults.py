"""Fault injection: the failures a production API server gives its clients, on demand.

Tests add rules at runtime (`sandbox.faults.add(...)`) that pick requests by verb, API
group, resource (and subresource), namespace, name and user, and fire at a rate (seeded,
so a run repeats) or a limited number of times. A fired rule answers the request instead
of the verb, before anything is stored:

* `status=500|503|409|429|...`: an error `Status` as kube-apiserver renders it (a 429
  carries `Retry-After`, a 409 is a Conflict);
* `delay=seconds`: the answer is late (alone, or before any other effect);
* `timeout=True`: no answer at all; the connection is held until the client gives up
  (or `hang` seconds pass) and then closed. With `apply_then_drop=True` the write *is*
  applied first and only its answer is lost: the ambiguous case a client cannot tell from
  a failure (the write log marks it `response_dropped`);
* `drop_watch_after=seconds`: a watch stream is closed mid-way (cleanly, or with
  `abrupt=True` without the final chunk, as a broken connection);
* `gone_on_rewatch=True`: a watch resuming from a resourceVersion gets an ERROR event with
  410 Gone, as after etcd compaction: the client must list again.

`injected()` counts what fired, by kind. Rules are added from the test thread and read on
the emulator's loop, hence the lock.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import ApiError, qualified
from .store import Action

# kube-apiserver's reason and message for the statuses it answers with under stress
_REASONS: dict[int, tuple[str, str]] = {
    409: ("Conflict", ""),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected fault"),
    502: ("InternalError", "Internal error occurred: bad gateway (injected fault)"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted"),
}


@dataclass(frozen=True)
class Call(Action):
    """The request a rule is matched against."""

    resource_version: str = ""  # of a watch: where it resumes from ("" or "0": from now)


@dataclass
class FaultRule:
    """One rule: which requests (None matches any), what happens, how often."""

    verb: tuple[str, ...] | None = None
    group: str | None = None
    resource: str | None = None
    subresource: str | None = None  # None: any; "": the main resource only
    namespace: str | None = None
    name: str | None = None
    user: str | None = None
    rate: float = 1.0
    status: int | None = None
    delay: float = 0.0
    timeout: bool = False
    apply_then_drop: bool = False
    hang: float = 30.0
    drop_watch_after: float | None = None
    abrupt: bool = False
    gone_on_rewatch: bool = False
    count: int | None = None
    retry_after: int = 1
    message: str | None = None
    seed: int | None = None
    fired: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    @property
    def kind(self) -> str:
        if self.status is not None:
            return str(self.status)
        if self.apply_then_drop:
            return "apply_then_drop"
        if self.timeout:
            return "timeout"
        if self.gone_on_rewatch:
            return "gone"
        if self.drop_watch_after is not None:
            return "drop_watch"
        return "delay"

    def matches(self, call: Call) -> bool:
        if self.verb is not None and call.verb not in self.verb and "*" not in self.verb:
            return False
        if self.gone_on_rewatch and (call.verb != "watch" or call.resource_version in ("", "0")):
            return False
        if self.drop_watch_after is not None and call.verb != "watch":
            return False
        return (
            _eq(self.group, call.group)
            and _eq(self.resource, call.resource)
            and _eq(self.subresource, call.subresource)
            and _eq(self.namespace, call.namespace)
            and _eq(self.name, call.name)
            and _eq(self.user, call.user)
        )

    def error(self, call: Call) -> ApiError:
        """The error answer of a `status` rule."""
        assert self.status is not None
        code = self.status
        if code == 409:
            return ApiError(
                409,
                "Conflict",
                self.message
                or f"Operation cannot be fulfilled on {qualified(call.resource, call.group)} "
                f'"{call.name}": the object has been modified; please apply your changes to '
                "the latest version and try again",
                details=_details(call),
            )
        reason, message = _REASONS.get(code, ("InternalError", "injected fault"))
        details: dict[str, object] | None = None
        headers: dict[str, str] = {}
        if code == 429:
            details = {"retryAfterSeconds": self.retry_after}
            headers["Retry-After"] = str(self.retry_after)
        elif code == 500:
            details = {"causes": [{"message": "injected fault"}]}
        return ApiError(code, reason, self.message or message, details=details, headers=headers)


class Faults:
    """The rules of one sandbox and what they injected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._injected: dict[str, int] = {}

    def add(
        self,
        *,
        verb: str | Iterable[str] | None = None,
        group: str | None = None,
        resource: str | None = None,
        subresource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        user: str | None = None,
        rate: float = 1.0,
        status: int | None = None,
        delay: float = 0.0,
        timeout: bool = False,
        apply_then_drop: bool = False,
        hang: float = 30.0,
        drop_watch_after: float | None = None,
        abrupt: bool = False,
        gone_on_rewatch: bool = False,
        count: int | None = None,
        retry_after: int = 1,
        message: str | None = None,
        seed: int | None = None,
    ) -> FaultRule:
        """Add a rule; `resource="deployments/scale"` is short for resource + subresource."""
        if resource is not None and "/" in resource:
            resource, subresource = resource.split("/", 1)
        effects = [
            status is not None,
            timeout or apply_then_drop,
            drop_watch_after is not None,
            gone_on_rewatch,
        ]
        if sum(effects) > 1:
            raise ValueError(
                "one effect per rule: status, timeout, drop_watch_after or gone_on_rewatch "
                "(delay combines with any)"
            )
        if not any(effects) and delay <= 0:
            raise ValueError("a fault rule needs an effect")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {rate}")
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error code, not {status}")
        verbs = None if verb is None else (verb,) if isinstance(verb, str) else tuple(verb)
        rule = FaultRule(
            verb=verbs,
            group=group,
            resource=resource,
            subresource=subresource,
            namespace=namespace,
            name=name,
            user=user,
            rate=rate,
            status=status,
            delay=delay,
            timeout=timeout or apply_then_drop,
            apply_then_drop=apply_then_drop,
            hang=hang,
            drop_watch_after=drop_watch_after,
            abrupt=abrupt,
            gone_on_rewatch=gone_on_rewatch,
            count=count,
            retry_after=retry_after,
            message=message,
            seed=seed,
            _random=random.Random(seed),
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear(self) -> None:
        """Remove every rule (the counters stay: they tell what a run injected)."""
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def injected(self) -> dict[str, int]:
        """Faults that fired, by kind: "500", "503", "409", "429", "delay", "timeout",
        "apply_then_drop", "drop_watch" (counted when the stream is dropped), "gone"."""
        with self._lock:
            return dict(self._injected)

    def total(self) -> int:
        with self._lock:
            return sum(self._injected.values())

    def reset_counts(self) -> None:
        with self._lock:
            self._injected.clear()

    # ------------------------------------------------------------ server side
    def decide(self, call: Call) -> FaultRule | None:
        """The rule that fires for this request, if any (counted, except watch drops)."""
        with self._lock:
            if not self._rules:
                return None
            for rule in self._rules:
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if not rule.matches(call):
                    continue
                if rule.rate < 1.0 and rule._random.random() >= rule.rate:
                    continue
                rule.fired += 1
                if rule.drop_watch_after is None:
                    self._count(rule.kind)
                return rule
            return None

    def record(self, kind: str) -> None:
        with self._lock:
            self._count(kind)

    def _count(self, kind: str) -> None:
        self._injected[kind] = self._injected.get(kind, 0) + 1


def _eq(wanted: str | None, actual: str) -> bool:
    return wanted is None or wanted == "*" or wanted == actual


def _details(call: Call) -> dict[str, object]:
    details: dict[str, object] = {"name": call.name, "kind": call.resource}
    if call.group:
        details["group"] = call.group
    return details
