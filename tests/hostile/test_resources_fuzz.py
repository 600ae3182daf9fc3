"""Fuzzed Incidents and RemediationPolicies, created through the API with the operator running.

Hypothesis builds specs that are valid, nearly valid and plainly wrong; each is created as
the admin through the emulator, which applies the CRD's schema and calls the operator's
validating webhook. Then:

* a refusal is a 422 whose message names the field (`spec....`);
* a policy is stored exactly when the operator's own model accepts it (the webhook is in
  the path), and an Incident the model accepts is never refused by the schema;
* the operator does not crash-loop: Kopf logs no handler failure storm, every stored
  Incident reaches a terminal or a waiting phase, and afterwards an ordinary incident is
  still remediated.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes import client
from pydantic import ValidationError

from flows.conftest import NS, Cluster
from remediator.core.models import Incident, RemediationPolicy
from remediator.core.models.base import ActionName
from remediator_devtools.testing import OperatorThread
from support.policies import API_VERSION, incident_spec, policy_spec

from . import figures
from .fuzzing import SETTLED, fuzz


class KopfLog(logging.Handler):
    """Counts Kopf's log lines about failing handlers (a retry storm shows up here)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.failures: Counter[str] = Counter()
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "failed" in message and ("Handler" in message or "handler" in message):
            self.failures[message.split(" failed")[0]] += 1
            if len(self.samples) < 5:
                self.samples.append(message[:500])


@pytest.fixture
def kopf_log() -> Iterator[KopfLog]:
    handler = KopfLog()
    logger = logging.getLogger("kopf")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


# --------------------------------------------------------------------------- strategies
text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "\u202e\u200b", "a" * 254, "a" * 4097, "../kube-system", "Web"]),
)
junk: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["a", "name", "kind"]), st.integers(), max_size=2),
)
MISSING = object()


def maybe(valid: st.SearchStrategy[Any], rate: int = 6) -> st.SearchStrategy[Any]:
    """`valid` most of the time, sometimes junk, sometimes absent. (Not `one_of`, which
    flattens nested alternatives and would pick junk's many branches more often.)"""
    return st.integers(min_value=0, max_value=rate + 1).flatmap(
        lambda i: valid if i < rate else (junk if i == rate else st.just(MISSING))
    )


def compact(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not MISSING}


names = st.one_of(
    st.sampled_from(["web", "api", "db", "Web", "web_1", "-web", "a" * 64, "a.b", ""]),
    st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True),
)
durations = st.one_of(
    st.sampled_from(["1s", "5m", "1h30m", "2d", "100ms", "0s", "5", "m", "1y", "-1s", "1.5h"]),
    st.from_regex(r"[0-9]{1,3}(ms|s|m|h|d)", fullmatch=True),
)
times = st.one_of(
    st.sampled_from(
        [
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:00.123456789Z",
            "2024-05-01T10:00:00+02:00",
            "2024-05-01",
            "2024-05-01T10:00:00",
            "2024-13-01T10:00:00Z",
            "2024-02-30T10:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "yesterday",
        ]
    ),
    junk,
)
incident_specs = st.builds(
    lambda **f: compact(**f),
    alertname=maybe(st.one_of(st.just("Fuzzed"), st.just("Ordinary"), text)),
    severity=maybe(st.sampled_from(["P0", "P1", "P2", "P3", "p1", "P4", "critical"])),
    source=maybe(st.sampled_from(["alertmanager", "manual", "human"]), rate=2),
    summary=maybe(text, rate=2),
    labels=maybe(
        st.dictionaries(
            st.sampled_from(["deployment", "workload", "namespace", "app", ""]),
            st.one_of(names, text, junk),
            max_size=3,
        )
    ),
    annotations=maybe(st.dictionaries(text, text, max_size=2), rate=2),
    fingerprint=maybe(st.one_of(st.text(max_size=8), st.just("f" * 65)), rate=2),
    startsAt=maybe(times, rate=2),
    alertStatus=maybe(st.sampled_from(["firing", "resolved", "Firing"]), rate=3),
    target=maybe(
        st.builds(
            lambda **f: compact(**f),
            kind=maybe(st.sampled_from(["Deployment", "StatefulSet", "DaemonSet"])),
            name=maybe(names),
        ),
        rate=1,
    ),
    unknownField=st.integers(0, 9).flatmap(lambda i: junk if i == 0 else st.just(MISSING)),
)
STEP_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "toRevision": st.integers(min_value=-1, max_value=5),
    "onlyIfRolledOutWithin": durations,
    "mode": st.sampled_from(["rolling", "evict", "delete"]),
    "to": st.integers(min_value=-2, max_value=20),
    "by": st.integers(min_value=-3, max_value=5),
    "factor": st.floats(min_value=-1, max_value=12, allow_nan=False),
    "min": st.integers(min_value=-1, max_value=5),
    "max": st.integers(min_value=0, max_value=1001),
    "configMap": names,
    "key": st.sampled_from(["carrier-a", "bad key", "a/b"]),
    "value": text,
    "revertAfter": durations,
    "selector": st.one_of(
        st.just({"matchLabels": {"stop": "true"}}), st.just({"matchLabels": {}}), junk
    ),
    "cronJobs": st.lists(names, max_size=3),
    "resumeAfter": durations,
    "webhookSecretRef": st.one_of(st.just({"name": "hook", "key": "url"}), junk),
    "message": text,
}
ACTIONS = get_args(ActionName)  # every action the policy schema names
steps = st.builds(
    lambda action, fields: {**({} if action is MISSING else {"action": action}), **fields},
    maybe(st.sampled_from([*ACTIONS, "reboot", "Scale"]), rate=8),
    st.dictionaries(st.sampled_from(sorted(STEP_FIELDS)), st.just(None), max_size=3).flatmap(
        lambda keys: st.fixed_dictionaries({k: STEP_FIELDS[k] for k in keys})
    ),
)
expressions = st.builds(
    lambda **f: compact(**f),
    key=maybe(st.sampled_from(["app", "team", "Bad Key", "a/b/c"])),
    operator=maybe(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Regex", "Like"])),
    values=maybe(st.lists(st.sampled_from(["a", "(", "[a-z]+", "x{2,1}", "(?P<n>a)"]), max_size=2)),
)
policy_specs = st.builds(
    lambda **f: compact(**f),
    match=maybe(
        st.builds(
            lambda **f: compact(**f),
            alertnames=maybe(st.lists(st.sampled_from(["Fuzzed", "", "Other"]), max_size=2)),
            severities=maybe(st.lists(st.sampled_from(["P0", "P2", "P9"]), max_size=2), rate=2),
            labels=maybe(st.dictionaries(st.sampled_from(["app", "Bad Key"]), text, max_size=1)),
            expressions=maybe(st.lists(expressions, max_size=2), rate=2),
        ),
        rate=10,
    ),
    priority=maybe(st.integers(min_value=-2000, max_value=2000), rate=2),
    target=maybe(
        st.builds(
            lambda **f: compact(**f),
            kind=maybe(st.sampled_from(["Deployment", "StatefulSet", "Pod"])),
            nameFromLabel=maybe(st.sampled_from(["deployment", "workload", "Bad Key"]), rate=2),
            name=st.one_of(st.just(MISSING), st.just(MISSING), names),
        ),
        rate=10,
    ),
    steps=maybe(st.lists(steps, max_size=3), rate=10),
    approval=maybe(
        st.fixed_dictionaries(
            {},
            optional={
                "P0": st.fixed_dictionaries(
                    {"mode": st.sampled_from(["auto", "required", "never"])},
                    optional={"approvers": st.integers(min_value=0, max_value=6)},
                ),
                "P2": st.fixed_dictionaries({"mode": st.sampled_from(["auto", "notifyOnly"])}),
                "approverGroups": st.lists(text, max_size=2),
            },
        ),
        rate=2,
    ),
    guards=maybe(
        st.fixed_dictionaries(
            {},
            optional={
                "cooldown": durations,
                "maxActionsPerTargetPerHour": st.integers(min_value=0, max_value=101),
                "preconditions": st.lists(
                    st.fixed_dictionaries(
                        {
                            "query": st.sampled_from(["up", ""]),
                            "operator": st.sampled_from(["<", "=~"]),
                            "threshold": st.floats(allow_nan=False, allow_infinity=False),
                        }
                    ),
                    max_size=1,
                ),
            },
        ),
        rate=2,
    ),
    dryRun=maybe(st.booleans(), rate=2),
    unknownField=st.integers(0, 9).flatmap(lambda i: junk if i == 0 else st.just(MISSING)),
)


good_text = st.text(max_size=20).filter(lambda t: "\x00" not in t)
valid_incident_specs = st.builds(
    lambda alertname, severity, labels, summary, status, target: {
        "alertname": alertname,
        "severity": severity,
        "labels": labels,
        "summary": summary,
        "alertStatus": status,
        **({"target": {"kind": "Deployment", "name": target}} if target else {}),
    },
    st.one_of(st.sampled_from(["Fuzzed", "Ordinary", "NoSuchPolicy"]), good_text.filter(bool)),
    st.sampled_from(["P0", "P1", "P2", "P3"]),
    st.dictionaries(st.sampled_from(["deployment", "workload", "app"]), names, max_size=2),
    good_text,
    st.sampled_from(["firing", "firing", "resolved"]),
    st.one_of(st.none(), st.sampled_from(["web", "api", "missing"])),
)
VALID_STEPS = [
    {"action": "restartPods"},
    {"action": "restartPods", "mode": "evict"},
    {"action": "rollback"},
    {"action": "scale", "by": 1, "max": 4},
    {"action": "scale", "to": 0},
    {"action": "scale", "factor": 1.5, "min": 1},
    {"action": "circuitBreaker", "configMap": "flags", "key": "carrier-a", "value": "open"},
    {"action": "suspendCronJobs", "cronJobs": ["nightly"]},
    {"action": "isolatePods", "revertAfter": "1m"},
    {"action": "notify", "webhookSecretRef": {"name": "hook", "key": "url"}},
]
valid_policy_specs = st.builds(
    lambda alertnames, target, steps, approval, dry_run: {
        "match": {"alertnames": alertnames},
        "target": target,
        "steps": steps,
        "approval": approval,
        "dryRun": dry_run,
    },
    st.lists(st.sampled_from(["Fuzzed", "Other"]), max_size=2),
    st.sampled_from(
        [{"nameFromLabel": "deployment"}, {"name": "api"}, {"kind": "StatefulSet", "name": "db"}]
    ),
    st.lists(st.sampled_from(VALID_STEPS), min_size=1, max_size=3),
    st.sampled_from(
        [
            {},
            {"P2": {"mode": "auto"}},
            {"P0": {"mode": "required", "approvers": 2}},
            {"P2": {"mode": "notifyOnly"}},
        ]
    ),
    st.booleans(),
)


def half(a: st.SearchStrategy[Any], b: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.booleans().flatmap(lambda first: a if first else b)


# --------------------------------------------------------------------------- helpers
def create(cluster: Cluster, plural: str, kind: str, name: str, spec: Any) -> tuple[int, str]:
    """Create as the admin: (201, "") or (status, the API's message)."""
    body = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}
    try:
        cluster.custom.create_namespaced_custom_object(
            "remediator.dev", "v1alpha1", NS, plural, body
        )
    except client.ApiException as e:
        try:
            message = str(json.loads(e.body)["message"])
        except (ValueError, KeyError, TypeError):
            message = str(e.body)
        return e.status, message
    return 201, ""


def model_error(model: Callable[[Any], Any], kind: str, name: str, spec: Any) -> str:
    """Why the operator's model refuses this object ("" when it accepts it)."""
    try:
        model(
            {
                "apiVersion": API_VERSION,
                "kind": kind,
                "metadata": {"name": name, "namespace": NS},
                "spec": spec,
            }
        )
    except ValidationError as e:
        return str(e)
    return ""


def names_a_field(message: str) -> bool:
    return "spec" in message


# --------------------------------------------------------------------------- the test
def test_fuzzed_incidents_and_policies_are_refused_by_field_and_never_crash_the_operator(
    cluster: Cluster, operator: OperatorThread, kopf_log: KopfLog
) -> None:
    cluster.deployment("web")
    cluster.policy("ordinary", policy_spec({"action": "restartPods"}, alert="Ordinary"))
    stats: Counter[str] = Counter()
    drift: list[tuple[str, Any, str]] = []

    def judge(plural: str, kind: str, model: Callable[[Any], Any], spec: Any) -> None:
        key = "policy" if kind == "RemediationPolicy" else "incident"
        name = f"fz-{key[0]}{stats[key]}"
        stats[key] += 1
        status, message = create(cluster, plural, kind, name, spec)
        stats[f"{key}:{status}"] += 1
        if status >= 500:
            stats["5xx"] += 1
        assert status in (201, 422), (status, message, spec)
        if status == 422:
            assert names_a_field(message), (message, spec)
            # The schema may be stricter than the model (pydantic's lax mode takes `8` for a
            # datetime): harmless, the operator never sees what the API refused. Counted.
            sent = {k: v for k, v in spec.items() if k != "unknownField"}  # pruned anyway
            if not model_error(model, kind, name, sent):
                stats[f"{key}:stricter-schema"] += 1
            return
        # what the operator will read is what was stored (pruned): the model must take it
        stored = cluster.get(plural, name)
        error = model_error(model, kind, name, stored["spec"])
        if error:
            drift.append((key, stored["spec"], f"stored, but the model refuses it: {error}"))

    @fuzz(250)
    @given(spec=half(valid_policy_specs, policy_specs))
    def policies(spec: Any) -> None:
        judge("remediationpolicies", "RemediationPolicy", RemediationPolicy.model_validate, spec)

    @fuzz(300)
    @given(spec=half(valid_incident_specs, incident_specs))
    def incidents(spec: Any) -> None:
        judge("incidents", "Incident", Incident.model_validate, spec)

    try:
        policies()
        incidents()
    finally:
        figures.add(
            "resource_fuzz",
            cases=stats["policy"] + stats["incident"],
            server_errors=stats["5xx"],
            **{k.replace(":", "_"): v for k, v in stats.items() if ":" in k},
        )
    assert drift == [], "\n".join(map(str, drift[:5]))

    # every stored incident settles: terminal, or waiting for a person or a deadline
    deadline = time.monotonic() + 60
    unsettled: dict[str, Any] = {}
    while time.monotonic() < deadline:
        unsettled = {}
        for item in cluster.custom.list_namespaced_custom_object(
            "remediator.dev", "v1alpha1", NS, "incidents"
        )["items"]:
            phase = (item.get("status") or {}).get("phase")
            if phase not in SETTLED:
                unsettled[item["metadata"]["name"]] = item.get("status")
        if not unsettled:
            break
        time.sleep(0.5)
    assert unsettled == {}, list(unsettled.items())[:5]

    # no crash loop: a normal incident is still remediated
    cluster.incident("after-the-fuzz", incident_spec(alert="Ordinary", deployment="web"))
    body = cluster.wait_phase("after-the-fuzz", "Remediated", "Failed", "Blocked", timeout=30)
    assert body["status"]["phase"] in ("Remediated", "Blocked"), body["status"]

    # and Kopf saw no storm of failing handlers
    assert sum(kopf_log.failures.values()) <= 5, (kopf_log.failures, kopf_log.samples)
