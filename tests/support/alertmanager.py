"""Alertmanager's webhook payload (version 4), as the bridge receives it."""

from __future__ import annotations

from typing import Any


def firing_alert(labels: dict[str, str], fingerprint: str, starts_at: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": labels,
        "annotations": {},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",  # what Alertmanager sends while an alert fires
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def webhook_payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "receiver": "remediator",
        "status": "firing",
        "alerts": list(alerts),
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }
