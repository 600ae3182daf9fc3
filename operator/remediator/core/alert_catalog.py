"""Which labels each alert carries, read from what a repository holds: recorded
Alertmanager payloads, Prometheus rule files and PrometheusRule objects. `remediator
validate` checks policies against it (a target label no alert sets, an unknown alertname).
Purely computational."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

LabelCatalog = Mapping[str, frozenset[str] | None]
"""alertname → every label key its alerts set; None when that cannot be known."""

# Labels Alertmanager/Prometheus always put on an alert.
IMPLICIT_LABELS = frozenset({"alertname"})


_BY_CLAUSE = re.compile(r"\b(?:by|on)\s*\(([^)]*)\)")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_LABEL_REPLACE = re.compile(r"label_replace\s*\([^,]+,\s*\"([A-Za-z_][A-Za-z0-9_]*)\"")


def labels_of_rule(rule: Mapping[str, Any]) -> frozenset[str] | None:
    """The label keys an alerting rule's alerts carry, or None when that is unknowable.

    They are the rule's own `labels` plus what its expression keeps: the labels of the
    `by (...)` clauses, of `label_replace` and of the selectors. An expression without
    an aggregation keeps every label of its series, which a file cannot tell, so None.
    """
    expr = str(rule.get("expr", ""))
    own = frozenset(str(k) for k in (rule.get("labels") or {}))
    by = _BY_CLAUSE.findall(expr)
    if not by:
        return None
    kept = {name.strip() for clause in by for name in clause.split(",") if name.strip()}
    kept |= set(_LABEL_REPLACE.findall(expr))
    for selector in re.findall(r"\{([^}]*)\}", expr):
        kept |= set(_MATCHER.findall(selector))
    return own | frozenset(kept)


def catalog_from(documents: Iterable[Any]) -> dict[str, frozenset[str] | None]:
    """alertname → label keys, from parsed Alertmanager payloads (version 4, or a list of
    alerts), Prometheus rule files (`groups:`) and PrometheusRule objects (`spec.groups`).
    Alerts seen in several places get the union of their labels (None wins: unknowable)."""
    catalog: dict[str, frozenset[str] | None] = {}

    def add(name: str, labels: frozenset[str] | None) -> None:
        if name in catalog:
            before = catalog[name]
            catalog[name] = None if before is None or labels is None else before | labels
        else:
            catalog[name] = labels

    for body in documents:
        alerts: list[Any] = []
        groups: list[Any] = []
        if isinstance(body, list):
            alerts = body
        elif isinstance(body, Mapping):
            if isinstance(body.get("alerts"), list):
                alerts = body["alerts"]
            if isinstance(body.get("groups"), list):
                groups = body["groups"]
            spec = body.get("spec")
            if isinstance(spec, Mapping) and isinstance(spec.get("groups"), list):
                groups = spec["groups"]
        for alert in alerts:
            labels = alert.get("labels") if isinstance(alert, Mapping) else None
            if isinstance(labels, Mapping) and labels.get("alertname"):
                add(str(labels["alertname"]), frozenset(str(k) for k in labels))
        for group in groups:
            rules = group.get("rules") if isinstance(group, Mapping) else None
            for rule in rules or []:
                if isinstance(rule, Mapping) and rule.get("alert"):
                    add(str(rule["alert"]), labels_of_rule(rule))
    return catalog
