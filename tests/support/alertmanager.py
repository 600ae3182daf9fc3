"""Alertmanager's webhook payload (version 4), as the bridge receives it: an example alert
to vary field by field, and the payload that carries alerts."""

from __future__ import annotations

from typing import Any

STARTS = "2024-05-01T10:00:00.123456789Z"  # Alertmanager sends nanoseconds
FINGERPRINT = "c4d2a7e9f0b1a2b3"
STILL_FIRING = "0001-01-01T00:00:00Z"  # the endsAt Alertmanager sends while an alert fires


def alert(**overrides: Any) -> dict[str, Any]:
    """A firing HighErrorRate of Deployment shop/web; `overrides` replace whole fields."""
    body: dict[str, Any] = {
        "status": "firing",
        "labels": {
            "alertname": "HighErrorRate",
            "severity": "critical",
            "namespace": "shop",
            "deployment": "web",
        },
        "annotations": {"summary": "5xx above 5%", "description": "long text"},
        "startsAt": STARTS,
        "endsAt": STILL_FIRING,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": FINGERPRINT,
    }
    body.update(overrides)
    return body


def firing_alert(
    labels: dict[str, Any], fingerprint: str, starts_at: str = "2024-05-01T10:00:00Z"
) -> dict[str, Any]:
    """A firing alert with just these labels and no annotations."""
    return alert(labels=labels, fingerprint=fingerprint, startsAt=starts_at, annotations={})


def payload(*alerts: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A webhook payload carrying `alerts` (none given: the example `alert()`)."""
    body: dict[str, Any] = {
        "receiver": "remediator",
        "status": "firing",
        "alerts": list(alerts) or [alert()],
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
    }
    body.update(overrides)
    return body
