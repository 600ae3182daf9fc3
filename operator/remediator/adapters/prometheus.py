"""Instant PromQL queries against Prometheus, for preconditions and verification.

prometheus-api-client's `PrometheusConnect` is synchronous (requests), so every call runs
in a worker thread (`asyncio.to_thread`) and the operator's event loop never blocks.
Transient failures (connection errors, timeouts, 5xx, 429) are retried a few times with
a short exponential backoff by tenacity, then surface as `PrometheusUnavailable`; a query
Prometheus refuses (400 bad_data, 422 execution error) is a `PromQLError` at once, since
asking again gives the same answer.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from urllib3.util.retry import Retry


class PrometheusError(Exception):
    """Prometheus could not answer the question."""


class PrometheusUnavailable(PrometheusError):  # noqa: N818  (reads as the state it reports)
    """Prometheus is unreachable or failing (connection error, timeout, 5xx)."""


class PromQLError(PrometheusError):
    """Prometheus refused the query (syntax, execution error) or its result is unusable."""


_STATUS = re.compile(r"HTTP Status Code (\d{3})")
_BODY = re.compile(r"\((b['\"].*)\)$", re.DOTALL)


def _status_of(error: PrometheusApiClientException) -> int | None:
    found = _STATUS.search(str(error))
    return int(found.group(1)) if found else None


def _api_error(error: PrometheusApiClientException) -> str:
    """Prometheus' own words from an error response (`"error":"..."`), else the whole text."""
    found = _BODY.search(str(error))  # the message ends with (repr of the response body)
    if found:
        try:
            body = json.loads(ast.literal_eval(found.group(1)))
            return _short(f"{body['errorType']}: {body['error']}")
        except (ValueError, SyntaxError, TypeError, KeyError):
            pass
    return _short(str(error))


def _cause(error: Exception, timeout: float) -> str:
    """Why a request got no answer, in a few words."""
    text = str(error)
    if isinstance(error, requests.Timeout):
        return f"no answer within {timeout:g}s"
    if "Connection refused" in text:
        return "connection refused"
    if isinstance(error, requests.ConnectionError):
        return _short(f"connection failed ({text})", 200)
    return _short(f"{type(error).__name__}: {text}", 200)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def samples_of(result: Any) -> list[float]:
    """The float values of an instant query's `data.result`: one per series of a vector, or
    the single value of a scalar. A range vector (matrix) or a string is a `PromQLError`."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return [_float(result[1])]  # scalar: [timestamp, "value"]
    if not isinstance(result, list):
        raise PromQLError(f"unexpected query result {_short(repr(result))}")
    values = []
    for series in result:
        if not isinstance(series, dict) or "value" not in series:
            if isinstance(series, dict) and "values" in series:
                raise PromQLError("the query returns a range vector; use an instant vector")
            raise PromQLError(f"unexpected series {_short(repr(series))}")
        values.append(_float(series["value"][1]))
    return values


def _float(text: Any) -> float:
    try:
        return float(text)  # Prometheus writes "NaN", "+Inf", "-Inf": float() reads them all
    except (TypeError, ValueError):
        raise PromQLError(f"not a number: {_short(repr(text))}") from None


class PromClient:
    """One Prometheus server; `instant(query)` gives the current value of each series."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 2.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        # Retries are tenacity's job (with backoff, off the event loop), not urllib3's.
        self._connect = PrometheusConnect(
            url=self.url,
            headers=headers,
            retry=Retry(total=0, raise_on_status=False),
            timeout=timeout,
        )

    def close(self) -> None:
        self._connect.close()

    async def instant(self, query: str) -> list[float]:
        """The value of every series the instant query returns now (a scalar: one value)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(PrometheusUnavailable),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.backoff, max=self.max_backoff, jitter=self.backoff
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                result = await asyncio.to_thread(self._query, query)
        return samples_of(result)

    def _query(self, query: str) -> Any:
        try:
            return self._connect.custom_query(query)
        except PrometheusApiClientException as e:
            status = _status_of(e)
            if status is None or status == 429 or status >= 500:
                raise PrometheusUnavailable(
                    f"Prometheus at {self.url} answered {_short(str(e))}"
                ) from None
            raise PromQLError(f"Prometheus refused query {query!r}: {_api_error(e)}") from None
        except (requests.RequestException, ValueError, KeyError) as e:
            # connection refused, timeout, or a body that is not Prometheus' JSON
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} unreachable: {_cause(e, self.timeout)}"
            ) from None
