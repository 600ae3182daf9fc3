"""The webhook POST of notifications: JSON, Slack-compatible, retried with tenacity.

Connection errors, timeouts, 429 and 5xx are retried with exponential backoff; any other
answer (a 4xx: wrong URL, revoked token) surfaces at once as `NotifyError`, as does the
last failure once the attempts are spent. Only http(s) URLs are posted to.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from .kube import USER_AGENT


class NotifyError(Exception):
    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def transient(self) -> bool:
        return self.status in (0, 429) or self.status >= 500


def _retryable(error: BaseException) -> bool:
    return isinstance(error, NotifyError) and error.transient


def check_url(url: str) -> str:
    """The URL, stripped, if it is http(s) with a host; else NotifyError (not retried)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotifyError("the webhook URL is not an http(s) URL", status=400)
    return url


def redact(url: str) -> str:
    """Scheme and host only: webhook URLs carry their secret in the path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else "<invalid URL>"


async def post_json(
    url: str,
    body: dict[str, Any],
    *,
    attempts: int = 3,
    timeout_seconds: float = 5.0,
    backoff: float = 0.2,
) -> int:
    """POST `body` as JSON; the status of the accepting answer (2xx)."""
    url = check_url(url)
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=backoff, max=5.0, jitter=backoff),
        retry=retry_if_exception(_retryable),
        reraise=True,
    )
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        headers={"User-Agent": USER_AGENT},
    ) as session:
        async for attempt in retrying:
            with attempt:
                return await _once(session, url, body)
    raise AssertionError("unreachable")  # pragma: no cover


async def _once(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> int:
    try:
        async with session.post(url, json=body) as response:
            if response.status >= 300:
                text = (await response.text(errors="replace"))[:200]
                raise NotifyError(
                    f"{redact(url)} answered {response.status} {response.reason or ''}"
                    f"{': ' + text if text else ''}".rstrip(),
                    status=response.status,
                )
            return response.status
    except (TimeoutError, aiohttp.ClientError) as e:
        raise NotifyError(f"{redact(url)}: {type(e).__name__}: {e}".rstrip(": ")) from None
