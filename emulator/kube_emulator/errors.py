"""Kubernetes API errors as kube-apiserver renders them: a `Status` body and an HTTP code.

Clients branch on `code` and `reason` (Kopf retries a 409, the `kubernetes` client raises
`ApiException(status=...)`, kubectl prints `message`), so the emulator must produce the same
shape for the same situation. Purely computational.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ApiError(Exception):
    """An error answer of the API: raised anywhere in the emulator, rendered by the server."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}  # e.g. Retry-After of a 429

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(resource: str, group: str) -> str:
    """`pods` for the core group, `incidents.remediator.dev` for others (as in messages)."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return details


def _about(code: int, reason: str, resource: str, group: str, name: str, what: str) -> ApiError:
    """An error about one named object: `<resource> "<name>" <what>`."""
    return ApiError(
        code,
        reason,
        f'{qualified(resource, group)} "{name}" {what}',
        details=_details(name, group, resource),
    )


def not_found(resource: str, group: str, name: str) -> ApiError:
    return _about(404, "NotFound", resource, group, name, "not found")


class PageNotFoundError(ApiError):
    """A path outside every served group version: kube-apiserver's mux answers it with a
    plain-text `404 page not found`, not a Status."""

    def __init__(self) -> None:
        super().__init__(404, "NotFound", "404 page not found")


def no_such_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", details={})


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return _about(409, "AlreadyExists", resource, group, name, "already exists")


def conflict(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": '
        "the object has been modified; please apply your changes to the latest version "
        "and try again",
        details=_details(name, group, resource),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(verb: str) -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({verb})",
        details={},
    )


def unsupported_media_type(content_type: str, accepted: Sequence[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}",
    )


def not_acceptable(accepted: Sequence[str]) -> ApiError:
    return ApiError(
        406,
        "NotAcceptable",
        f"only the following media types are accepted: {', '.join(accepted)}",
    )


def invalid(
    kind: str, group: str, name: str, causes: Sequence[dict[str, str]], message: str
) -> ApiError:
    details: dict[str, Any] = _details(name, group, kind)
    details["causes"] = list(causes)
    return ApiError(422, "Invalid", message, details=details)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_many_requests(message: str, causes: Sequence[dict[str, str]] = ()) -> ApiError:
    details: dict[str, Any] | None = {"causes": list(causes)} if causes else None
    return ApiError(429, "TooManyRequests", message, details=details)
