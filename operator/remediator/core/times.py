"""Time, as the project writes and reads it: one home for each spelling. Purely
computational."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def kube_time(moment: datetime) -> str:
    """`2024-05-01T12:00:00Z`: the form Kubernetes writes timestamps in (whole seconds)."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def precise_time(moment: datetime) -> str:
    """UTC, microseconds, `Z`: one spelling per instant (an alert's identity uses it)."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """An ISO 8601 / RFC 3339 time (`Z` or an offset; naive means UTC); ValueError if not."""
    return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")))


def parse_time_or_none(value: Any) -> datetime | None:
    """`parse_time` for values read from objects: None for anything that is not a time."""
    if isinstance(value, datetime):
        return _aware(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    return _aware(moment).astimezone(UTC)
