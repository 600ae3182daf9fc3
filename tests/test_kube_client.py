"""The operator's API client against the emulator: how it asks for its bearer token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kube_emulator import Sandbox
from remediator.adapters.kube import KubeClient, KubeError, load_configuration


def test_the_token_is_reused_and_read_again_after_a_401(tmp_path: Path) -> None:
    """The configuration's refresh hook (which re-reads a rotated ServiceAccount token) is
    not asked on every request; a 401 makes the next request ask it again."""
    with Sandbox(kubeconfig=tmp_path / "kubeconfig", anonymous_is_admin=False) as box:
        assert box.kubeconfig is not None
        configuration = load_configuration(str(box.kubeconfig))
        valid = configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
        assert valid
        tokens = iter(["Bearer rotated-away", valid, "Bearer never-asked-for"])
        asked: list[str] = []

        def refresh(config: object) -> None:  # as the in-cluster loader's hook does
            token = next(tokens)
            asked.append(token)
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {}

        configuration.refresh_api_key_hook = refresh

        async def run() -> None:
            kube = KubeClient(configuration, attempts=1)
            try:
                with pytest.raises(KubeError) as refused:
                    await kube.request("GET", "/api/v1/namespaces")
                assert refused.value.status == 401
                for _ in range(5):
                    listed = await kube.request("GET", "/api/v1/namespaces")
                    assert listed["kind"] == "NamespaceList"
            finally:
                await kube.close()

        asyncio.run(run())
        assert asked == ["Bearer rotated-away", valid]


def test_a_listing_is_read_in_pages(tmp_path: Path) -> None:
    """`list_custom_pages` serves what `list_custom` serves, `limit` objects at a time."""
    from remediator.core.crds import all_crds

    with Sandbox(kubeconfig=tmp_path / "kubeconfig") as box:
        assert box.kubeconfig is not None

        def seed() -> None:
            for crd in all_crds():
                box.api.internal_create("apiextensions.k8s.io", "customresourcedefinitions", crd)
            for ns in ("shop", "other"):
                box.api.internal_create("", "namespaces", {"metadata": {"name": ns}})
            for i in range(7):
                box.api.internal_create(
                    "remediator.dev",
                    "incidents",
                    {
                        "apiVersion": "remediator.dev/v1alpha1",
                        "kind": "Incident",
                        "metadata": {"name": f"i-{i}", "namespace": "shop" if i < 5 else "other"},
                        "spec": {"alertname": "A", "severity": "P2"},
                    },
                )

        box.call(seed)

        async def run() -> None:
            kube = KubeClient(load_configuration(str(box.kubeconfig)), attempts=1)
            try:
                everywhere = [
                    [o["metadata"]["name"] for o in page]
                    async for page, _ in kube.list_custom_pages("incidents", limit=3)
                ]
                assert [len(page) for page in everywhere] == [3, 3, 1]
                listed = await kube.list_custom("incidents")
                names = sorted(name for page in everywhere for name in page)
                assert names == sorted(o["metadata"]["name"] for o in listed)
                shop = [
                    len(page)
                    async for page, _ in kube.list_custom_pages("incidents", "shop", limit=5)
                ]
                assert shop == [5]
            finally:
                await kube.close()

        asyncio.run(run())


def test_transient_failures_are_retried_and_others_are_not() -> None:
    """A 503 is tried again (with backoff) until it succeeds, within the attempts given; a
    404 is answered at once; a 429 is retried unless the caller asks not to; a request
    that keeps failing raises the last error after exactly `attempts` tries."""
    from aiohttp import web
    from kubernetes import client as k8s_client

    answers: dict[str, list[int]] = {
        "/flaky": [503, 503, 200],
        "/missing": [404, 200],
        "/busy": [429, 200],
        "/down": [503] * 10,
    }
    seen: dict[str, int] = {}

    async def handle(request: web.Request) -> web.Response:
        path = request.path
        seen[path] = seen.get(path, 0) + 1
        status = answers[path][seen[path] - 1]
        body = {"kind": "Status", "code": status, "reason": "Test", "message": path}
        return web.json_response(body if status >= 400 else {"ok": path}, status=status)

    async def run() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        configuration = k8s_client.Configuration()
        configuration.host = f"http://127.0.0.1:{port}"
        kube = KubeClient(configuration, attempts=4)
        try:
            assert await kube.request("GET", "/flaky") == {"ok": "/flaky"}
            with pytest.raises(KubeError) as missing:
                await kube.request("GET", "/missing")
            assert missing.value.status == 404
            with pytest.raises(KubeError) as busy:
                await kube.request("GET", "/busy", retry_429=False)
            assert busy.value.status == 429
            with pytest.raises(KubeError) as down:
                await kube.request("GET", "/down")
            assert down.value.status == 503
        finally:
            await kube.close()
            await runner.cleanup()

    asyncio.run(run())
    assert seen == {"/flaky": 3, "/missing": 1, "/busy": 1, "/down": 4}
