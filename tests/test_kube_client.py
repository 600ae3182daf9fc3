"""The operator's API client against the emulator: how it asks for its bearer token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from remediator.adapters.kube import KubeClient, KubeError, load_configuration
from remediator.sandbox import Sandbox


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
