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
