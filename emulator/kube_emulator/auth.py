"""Who is calling: bearer tokens mapped to users and groups, as kube-apiserver's token file.

A request with an unknown token gets 401 with kube-apiserver's Status; a request without
credentials is `system:anonymous`. The identity travels on to admission webhooks (their
`userInfo`) and into the write log, so tests can prove who did what.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from .errors import ApiError

ADMIN_GROUPS = ("system:masters", "system:authenticated")


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ("system:authenticated",)
    uid: str = ""


ANONYMOUS = User("system:anonymous", ("system:unauthenticated",))
SANDBOX_ADMIN = User("sandbox-admin", ADMIN_GROUPS)


class Authenticator:
    def __init__(self) -> None:
        self._tokens: dict[str, User] = {}

    def add(self, user: User, token: str | None = None) -> str:
        token = token or secrets.token_urlsafe(24)
        self._tokens[token] = user
        return token

    def authenticate(self, authorization: str | None) -> User:
        if not authorization:
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        user = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if user is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return user
