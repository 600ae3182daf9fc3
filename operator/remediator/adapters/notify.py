"""Sending notifications: the webhook URL from the Secret a policy names (`secret_url`), the
POST (`post_json`: JSON, Slack-compatible, retried with tenacity), and what became of it as
one line for the Incident's trail (`deliver`).

Connection errors, timeouts, 429 and 5xx are retried with exponential backoff; any other
answer (a 4xx: wrong URL, revoked token) surfaces at once as `NotifyError`, as does the
last failure once the attempts are spent. Only http(s) URLs are posted to.

What a notification tells goes into the Incident's status and Events, which more people
read than the Secret the URL came from, so it tells nothing secret: a URL is shown as its
scheme, host and port only (never its user:password, path or query), an answer as its
status code only (never its body, which an internal service may fill with anything), and
redirects are not followed (a 3xx is a failure). Link-local addresses, which include the
cloud metadata services, are refused, for a host name by what it resolves to at connect
time; `allowed_hosts` (the operator's `--notify-allow-host`) lets named hosts through.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ..core import reasons
from .kube import USER_AGENT, KubeClient, KubeError


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


# cloud metadata services outside the link-local ranges (AWS over IPv6, Alibaba Cloud)
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
)


def refused_address(address: str) -> bool:
    """Whether notifications may not go to this IP address (link-local, metadata, none)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip in METADATA_ADDRESSES


def check_url(url: str, allowed_hosts: Collection[str] = ()) -> str:
    """The URL, stripped, if it is http(s) with a host that notifications may reach; else
    NotifyError (not retried)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotifyError("the webhook URL is not an http(s) URL", status=400)
    host = parts.hostname
    if host not in allowed_hosts and _is_ip(host) and refused_address(host):
        raise NotifyError(
            f"{redact(url)}: a link-local or metadata address is refused"
            " (the operator's --notify-allow-host lets a host through)",
            status=400,
        )
    return url


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def redact(url: str) -> str:
    """Scheme, host and port only: webhook URLs carry their secret in the path, the query
    or the user:password before the host."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "<invalid URL>"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}/…"


class GuardedResolver(ThreadedResolver):
    """Name resolution that leaves out refused addresses, at connect time (a name that
    resolves somewhere else by then is judged by where it goes)."""

    def __init__(self, allowed_hosts: Collection[str] = ()) -> None:
        super().__init__()
        self.allowed_hosts = frozenset(allowed_hosts)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        if host in self.allowed_hosts:
            return results
        kept = [r for r in results if not refused_address(r["host"])]
        if not kept:
            raise RefusedAddress(f"{host} resolves only to link-local or metadata addresses")
        return kept


class RefusedAddress(OSError):  # noqa: N818  (reads as what happened)
    """A host name that resolves only to addresses notifications may not reach."""


async def post_json(
    url: str,
    body: dict[str, Any],
    *,
    attempts: int = 3,
    timeout_seconds: float = 5.0,
    backoff: float = 0.2,
    allowed_hosts: Collection[str] = (),
) -> int:
    """POST `body` as JSON; the status of the accepting answer (2xx)."""
    url = check_url(url, allowed_hosts)
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=backoff, max=5.0, jitter=backoff),
        retry=retry_if_exception(_retryable),
        reraise=True,
    )
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        headers={"User-Agent": USER_AGENT},
        connector=aiohttp.TCPConnector(resolver=GuardedResolver(allowed_hosts)),
    ) as session:
        async for attempt in retrying:
            with attempt:
                return await _once(session, url, body)
    raise AssertionError("unreachable")  # pragma: no cover


async def _once(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> int:
    try:
        async with session.post(url, json=body, allow_redirects=False) as response:
            if 300 <= response.status < 400:
                raise NotifyError(
                    f"{redact(url)} answered {response.status}: redirects are not followed",
                    status=400,
                )
            if response.status >= 300:
                # the status only: the body may hold anything the service chose to say
                raise NotifyError(
                    f"{redact(url)} answered {response.status}", status=response.status
                )
            return response.status
    except aiohttp.ClientConnectorError as e:
        if isinstance(e.os_error, RefusedAddress):
            raise NotifyError(
                f"{redact(url)}: {e.os_error} (refused; the operator's --notify-allow-host"
                " lets a host through)",
                status=400,
            ) from None
        raise NotifyError(f"{redact(url)}: {type(e).__name__}") from None
    except (TimeoutError, aiohttp.ClientError, OSError) as e:
        # the kind of failure only: a client error's text can repeat the URL
        raise NotifyError(f"{redact(url)}: {type(e).__name__}") from None


class SecretUnusable(Exception):  # noqa: N818  (reads as what it found)
    """The Secret a policy names for its webhook URL is missing, or its key is."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


async def secret_url(kube: KubeClient, namespace: str, ref: dict[str, Any]) -> str:
    """The URL in a Secret key (`data`, base64), or SecretUnusable naming what is missing."""
    name, key = ref["name"], ref["key"]
    secret = await kube.get_secret(namespace, name)
    if secret is None:
        raise SecretUnusable(reasons.SECRET_NOT_FOUND, f"Secret {name} not found in {namespace}")
    encoded = (secret.get("data") or {}).get(key)
    if encoded is None:
        raise SecretUnusable(reasons.SECRET_NOT_FOUND, f"Secret {name} has no key {key}")
    try:
        return base64.b64decode(encoded, validate=True).decode().strip()
    except (binascii.Error, UnicodeDecodeError):
        raise SecretUnusable(
            reasons.ACTION_FAILED, f"Secret {name} key {key} is not base64-encoded text"
        ) from None


@dataclass(frozen=True)
class Delivery:
    """What became of one notification: `told` ends the sentence "<phase> …" for the
    trail, e.g. "notified to https://hooks.example:443 (Secret slack)"."""

    sent: bool
    told: str
    status: int = 0


async def deliver(
    kube: KubeClient,
    namespace: str,
    ref: dict[str, Any],
    body: dict[str, Any],
    *,
    attempts: int = 3,
    allowed_hosts: Collection[str] = (),
) -> Delivery:
    """Send `body` to the URL in the Secret `ref` names; never raises for the webhook's or the
    Secret's faults (they are the Delivery's `told`, with nothing secret in it)."""
    try:
        url = await secret_url(kube, namespace, ref)
        code = await post_json(url, body, attempts=attempts, allowed_hosts=allowed_hosts)
    except (SecretUnusable, NotifyError) as e:
        error = e.message
    except KubeError as e:
        error = str(e)
    else:
        return Delivery(True, f"notified to {redact(url)} (Secret {ref['name']})", code)
    return Delivery(False, f"not sent (Secret {ref['name']}): {error}")
