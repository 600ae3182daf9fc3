"""The bench's own Kubernetes client: aiohttp and a kubeconfig, nothing else.

The floor client (`floor`) must cost the API server exactly the requests it names and
cost its own process as little as a client can, and the bench's seeding and observing must
be told apart from the subjects' requests in the audit log: so one small client, no
library of its own, with a User-Agent that says who sends (`remediator-bench/<role>`).
It reads what the emulator's and kwokctl's kubeconfigs hold: a server, a CA, a client
certificate or a bearer token (inline data or files).
"""

from __future__ import annotations

import base64
import ssl
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import yaml

MERGE_PATCH = "application/merge-patch+json"


class KubeError(RuntimeError):
    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        super().__init__(f"{method} {path}: {status} {body[:300]}")
        self.status = status


def _data(entry: dict[str, Any], key: str, folder: Path) -> str | None:
    """A file path for `key` (`certificate-authority`, `client-key`, ...): the file named,
    or the inline `<key>-data` written to `folder`."""
    if entry.get(key):
        return str(entry[key])
    inline = entry.get(f"{key}-data")
    if not inline:
        return None
    path = folder / key
    path.write_bytes(base64.b64decode(inline))
    return str(path)


class KubeClient:
    """One aiohttp session to the API server of a kubeconfig's current context."""

    def __init__(self, kubeconfig: Path | str, role: str, connections: int = 32) -> None:
        config = yaml.safe_load(Path(kubeconfig).read_text())
        context_name = config.get("current-context") or config["contexts"][0]["name"]
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        users = [u["user"] for u in config.get("users", []) if u["name"] == context.get("user")]
        user: dict[str, Any] = users[0] if users else {}
        self.server = str(cluster["server"]).rstrip("/")
        self.headers = {"User-Agent": f"remediator-bench/{role}", "Accept": "application/json"}
        if user.get("token"):
            self.headers["Authorization"] = f"Bearer {user['token']}"
        self.ssl: ssl.SSLContext | bool = False
        if self.server.startswith("https"):
            with tempfile.TemporaryDirectory(prefix="bench-kube-") as tmp:
                folder = Path(tmp)
                context_ssl = ssl.create_default_context(
                    cafile=_data(cluster, "certificate-authority", folder)
                )
                cert = _data(user, "client-certificate", folder)
                if cert:
                    context_ssl.load_cert_chain(cert, _data(user, "client-key", folder))
            if cluster.get("insecure-skip-tls-verify"):
                context_ssl.check_hostname = False
                context_ssl.verify_mode = ssl.CERT_NONE
            self.ssl = context_ssl
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.connections, ssl=self.ssl)
            self._session = aiohttp.ClientSession(connector=connector, headers=self.headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> Any:
        headers = {"Content-Type": content_type} if body is not None else {}
        async with self.session.request(
            method, self.server + path, json=body, headers=headers, params=params
        ) as response:
            if response.status >= 300:
                raise KubeError(response.status, method, path, await response.text())
            return await response.json(content_type=None)

    async def create(self, path: str, body: dict[str, Any], *, exist_ok: bool = False) -> Any:
        try:
            return await self.request("POST", path, body)
        except KubeError as e:
            if e.status == 409 and exist_ok:
                return None
            raise

    async def list_all(self, path: str, page: int = 500) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params = {"limit": str(page)}
        while True:
            answer = await self.request("GET", path, params=params)
            items.extend(answer.get("items") or [])
            token = (answer.get("metadata") or {}).get("continue")
            if not token:
                return items
            params = {"limit": str(page), "continue": token}


def namespaced(group: str, version: str, namespace: str, plural: str, name: str = "") -> str:
    base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    path = f"{base}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path
