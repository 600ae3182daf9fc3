"""An in-process Kubernetes API emulator that the real clients accept.

No Kubernetes cluster can run on the machines this project is built on, so the operator's
tests and `remediator demo` run it against this emulator: Kopf, the `kubernetes` client and
`kubectl` talk HTTP to it exactly as to kube-apiserver. It serves on a free loopback port
from a thread of its own (a sync client on the operator's event loop would otherwise
deadlock with a server on the same loop) and writes a kubeconfig for the clients.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import yaml
from aiohttp import web

from .api import Api, ListOptions, Request
from .auth import SANDBOX_ADMIN, Authenticator, User
from .errors import ApiError
from .faults import FaultRule, Faults
from .fixtures import DeploymentController
from .rbac import RBAC, AlwaysAllow, Authorizer, bootstrap_policy, service_account_groups
from .rbac import service_account_user as _service_account_user
from .server import ApiServer
from .store import Change, Store, WriteRecord

__all__ = [
    "Api",
    "ApiError",
    "Change",
    "FaultRule",
    "Faults",
    "ListOptions",
    "Request",
    "Sandbox",
    "WriteRecord",
]

T = TypeVar("T")


class Sandbox:
    """The emulated API server, started in a background thread.

    ``with Sandbox(kubeconfig=path) as sandbox:`` serves until the block ends. With
    ``controllers=True`` the fixture Deployment controller keeps ReplicaSets and pods.
    ``authorization="RBAC"`` authorizes every request from the stored Roles, ClusterRoles
    and bindings (plus kube's bootstrap policy); the default lets every identity do anything.
    ``sandbox.faults`` injects API failures at runtime (see `faults.Faults.add`).
    """

    def __init__(
        self,
        *,
        kubeconfig: Path | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        controllers: bool = True,
        bookmark_interval: float = 1.0,
        anonymous_is_admin: bool = True,
        authorization: Literal["AlwaysAllow", "RBAC"] = "AlwaysAllow",
    ) -> None:
        if authorization not in ("AlwaysAllow", "RBAC"):
            raise ValueError(f"unknown authorization mode {authorization!r}")
        self.authorization = authorization
        self.faults = Faults()
        self._anonymous_is_admin = anonymous_is_admin
        self.host = host
        self.port = port or _free_port(host)
        self.kubeconfig = Path(kubeconfig) if kubeconfig else None
        self.token = secrets.token_urlsafe(24)
        self.authenticator = Authenticator()
        self.authenticator.add(SANDBOX_ADMIN, self.token)
        self._controllers = controllers
        self._bookmark_interval = bookmark_interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.api: Api
        self.controller: DeploymentController | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # lifecycle
    def start(self) -> Sandbox:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as e:  # reported to the starting thread
                failure.append(e)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="k8s-sandbox", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise failure[0]
        if self.kubeconfig:
            self.write_kubeconfig(self.kubeconfig)
        return self

    async def _serve(self) -> None:
        self.api = Api(Store())
        if self._controllers:
            self.controller = DeploymentController(self.api)
        authorizer: Authorizer = AlwaysAllow()
        if self.authorization == "RBAC":
            authorizer = RBAC(self.api.store)
            for (group, plural), obj in bootstrap_policy():
                self.api.internal_create(group, plural, obj)
        server = ApiServer(
            self.api,
            bookmark_interval=self._bookmark_interval,
            authenticator=self.authenticator,
            anonymous_is_admin=self._anonymous_is_admin,
            authorizer=authorizer,
            faults=self.faults,
        )
        self._runner = web.AppRunner(server.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # access from other threads
    def call(self, fn: Callable[[], T], timeout: float = 10) -> T:
        """Run `fn` on the emulator's loop (where the store lives) and return its result."""
        assert self._loop is not None, "the sandbox is not running"

        async def wrapper() -> T:
            return fn()

        future = asyncio.run_coroutine_threadsafe(wrapper(), self._loop)
        return future.result(timeout)

    def writes(self) -> list[WriteRecord]:
        return self.call(lambda: list(self.api.store.writes))

    def request_counts(self) -> dict[tuple[str, str, str], int]:
        return self.call(lambda: dict(self.api.store.requests))

    def compact(self) -> None:
        """Drop watch history, so older resourceVersions get 410 Gone (like etcd compaction)."""
        self.call(self.api.store.compact)

    def set_log(
        self, namespace: str, pod: str, container: str, text: str | bytes, *, previous: bool = False
    ) -> None:
        """What `pods/log` serves for a container (its previous one with `previous`): the
        kubelet's part, which the emulator does not run."""
        data = text.encode() if isinstance(text, str) else text
        self.call(lambda: self.api.logs.__setitem__((namespace, pod, container, previous), data))

    def settle(self, timeout: float = 10) -> None:
        """Wait until the fixture controllers have nothing left to do."""
        if self.controller is None:
            return
        assert self._loop is not None
        future: concurrent.futures.Future[None] = asyncio.run_coroutine_threadsafe(
            self.controller.settle(timeout), self._loop
        )
        future.result(timeout + 1)

    # identities
    def add_user(self, name: str, groups: tuple[str, ...] = ()) -> str:
        """A bearer token that authenticates as `name` (in `groups`, and system:authenticated).

        A `system:serviceaccount:NS:NAME` user also gets the groups kube gives service
        accounts: `system:serviceaccounts` and `system:serviceaccounts:NS`.
        """
        extra = tuple(g for g in service_account_groups(name) if g not in groups)
        return self.authenticator.add(User(name, (*groups, *extra, "system:authenticated")))

    def add_service_account(self, namespace: str, name: str) -> str:
        """A bearer token of the ServiceAccount NAME in NAMESPACE (its user and groups)."""
        return self.add_user(_service_account_user(namespace, name))

    def kubeconfig_for(self, name: str, path: Path | str, groups: tuple[str, ...] = ()) -> Path:
        """A kubeconfig that acts as the user `name`."""
        return self._write_identity_kubeconfig(name, self.add_user(name, groups), path)

    def kubeconfig_for_service_account(self, namespace: str, name: str, path: Path | str) -> Path:
        """A kubeconfig that acts as the ServiceAccount NAME of NAMESPACE (its namespace)."""
        user = _service_account_user(namespace, name)
        return self._write_identity_kubeconfig(
            user, self.add_service_account(namespace, name), path, namespace=namespace
        )

    def _write_identity_kubeconfig(
        self, user: str, token: str, path: Path | str, namespace: str = "default"
    ) -> Path:
        config = self.kubeconfig_dict(namespace, token=token, user=user)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        target.chmod(0o600)
        return target

    # clients
    def kubeconfig_dict(
        self, namespace: str = "default", *, token: str | None = None, user: str = "sandbox-admin"
    ) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sandbox", "cluster": {"server": self.url}}],
            "users": [{"name": user, "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": "sandbox",
                    "context": {
                        "cluster": "sandbox",
                        "user": user,
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "sandbox",
            "preferences": {},
        }

    def write_kubeconfig(self, path: Path | str) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.kubeconfig_dict(), sort_keys=False))
        target.chmod(0o600)
        return target


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
