"""The operator's own list-and-watch of Incidents and policies (`informer`) against the
emulator: what it keeps in the view, and how it gets over dropped watches and 410 Gone."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kube_emulator import Sandbox
from remediator.adapters.kube import KubeClient, load_configuration
from remediator.core.crds import all_crds
from remediator.informer import Informer
from remediator.view import ClusterView

GROUP = "remediator.dev"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(kubeconfig=tmp_path / "kubeconfig", bookmark_interval=0.2) as sandbox:

        def seed() -> None:
            for crd in all_crds():
                sandbox.api.internal_create(
                    "apiextensions.k8s.io", "customresourcedefinitions", crd
                )
            for ns in ("shop", "other"):
                sandbox.api.internal_create("", "namespaces", {"metadata": {"name": ns}})

        sandbox.call(seed)
        yield sandbox


def incident(name: str, namespace: str = "shop", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "Incident",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"alertname": "HighErrorRate", "severity": "P2"},
        **({"status": status} if status else {}),
    }


def policy(name: str, namespace: str = "shop", alert: str = "HighErrorRate") -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "RemediationPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "match": {"alertnames": [alert]},
            "target": {"kind": "Deployment", "nameFromLabel": "deployment"},
            "steps": [{"action": "scale", "by": 1}],
        },
    }


def stored(box: Sandbox, plural: str, body: dict[str, Any]) -> None:
    """Write `body` straight into the emulator's storage, as another client's write."""
    box.call(lambda: box.api.internal_create(GROUP, plural, body))


def deleted(box: Sandbox, plural: str, name: str) -> None:
    box.call(lambda: box.api.internal_delete(GROUP, plural, "shop", name))


def incident_listings(box: Sandbox) -> int:
    """How many times the incidents were listed (an informer lists when it starts over)."""
    return box.request_counts()[("list", GROUP, "incidents")]


@contextlib.asynccontextmanager
async def following(informer: Informer) -> AsyncIterator[None]:
    """The informer following its watch meanwhile, cancelled after."""
    task = asyncio.create_task(informer.run())
    try:
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def run_with_informer(
    box: Sandbox, body: Callable[[Informer, ClusterView], Any], *, page: int = 2
) -> None:
    assert box.kubeconfig is not None

    async def main() -> None:
        kube = KubeClient(load_configuration(str(box.kubeconfig)), attempts=2)
        view = ClusterView()
        informer = Informer(kube, view, [], page=page, watch_seconds=5)
        try:
            await body(informer, view)
        finally:
            await kube.close()

    asyncio.run(main())


async def eventually(what: str, check: Callable[[], bool], within: float = 5) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def names(view: ClusterView) -> set[str]:
    return {s.name for s in view.summaries()}


def test_the_view_is_filled_in_pages_then_follows_the_watch(box: Sandbox) -> None:
    api = box.api

    def seed() -> None:
        for i in range(5):
            api.internal_create(GROUP, "incidents", incident(f"i-{i}", "shop" if i else "other"))
        api.internal_create(GROUP, "remediationpolicies", policy("scale"))
        api.internal_create(GROUP, "remediationpolicies", policy("elsewhere", "other", "Other"))

    box.call(seed)
    before = box.request_counts().get(("list", GROUP, "incidents"), 0)

    async def body(informer: Informer, view: ClusterView) -> None:
        assert not view.usable
        await informer.fill()
        assert view.usable
        assert names(view) == {f"i-{i}" for i in range(5)}
        assert [p.metadata.name for p in view.candidates("shop", "HighErrorRate")] == ["scale"]
        assert view.candidates("shop", "Other") == []
        assert view.policy("other", "elsewhere") is not None
        async with following(informer):
            stored(box, "incidents", incident("new"))
            deleted(box, "incidents", "i-1")
            deleted(box, "remediationpolicies", "scale")
            await eventually(
                "the watch's changes",
                lambda: (
                    names(view) == {"i-0", "i-2", "i-3", "i-4", "new"}
                    and view.policy("shop", "scale") is None
                    and view.candidates("shop", "HighErrorRate") == []
                ),
            )

    run_with_informer(box, body)
    # five incidents in pages of two
    assert incident_listings(box) - before == 3


def test_a_410_makes_a_new_listing_that_drops_what_it_did_not_return(box: Sandbox) -> None:
    api = box.api
    box.call(
        lambda: [api.internal_create(GROUP, "incidents", incident(f"i-{i}")) for i in range(3)]
    )

    async def body(informer: Informer, view: ClusterView) -> None:
        await informer.fill()
        # deleted while nobody watches; the next watch from the old version gets 410 Gone
        deleted(box, "incidents", "i-0")
        box.faults.add(verb="watch", resource="incidents", gone_on_rewatch=True, count=1)
        lists = incident_listings(box)
        async with following(informer):
            await eventually("a new listing", lambda: names(view) == {"i-1", "i-2"})
            assert incident_listings(box) > lists
            stored(box, "incidents", incident("after"))
            await eventually("the watch again", lambda: "after" in names(view))

    run_with_informer(box, body)
    assert box.faults.injected() == {"gone": 1}


def test_a_dropped_watch_resumes_from_the_last_version(box: Sandbox) -> None:
    stored(box, "incidents", incident("i-0"))

    async def body(informer: Informer, view: ClusterView) -> None:
        await informer.fill()
        box.faults.add(
            verb="watch", resource="incidents", drop_watch_after=0.2, abrupt=True, count=2
        )
        lists = incident_listings(box)
        async with following(informer):
            for i in range(1, 4):
                stored(box, "incidents", incident(f"i-{i}"))
                await asyncio.sleep(0.3)
            await eventually("every incident", lambda: len(names(view)) == 4)
            # the watch was dropped and started again from where it was: no new listing
            assert incident_listings(box) == lists

    run_with_informer(box, body)
    assert box.faults.injected() == {"drop_watch": 2}


def test_an_invalid_policy_is_not_kept_and_an_edit_moves_it(box: Sandbox) -> None:
    api = box.api
    stored(box, "remediationpolicies", policy("p"))

    async def body(informer: Informer, view: ClusterView) -> None:
        await informer.fill()
        async with following(informer):

            def edit(alert: str, steps: list[dict[str, Any]]) -> None:
                # a copy: the emulator's own object must not change but by the update
                body = copy.deepcopy(api.internal_get(GROUP, "remediationpolicies", "shop", "p"))
                body["spec"]["match"]["alertnames"] = [alert]
                body["spec"]["steps"] = steps
                api.internal_update(GROUP, "remediationpolicies", body)

            box.call(lambda: edit("Other", [{"action": "scale", "by": 1}]))
            await eventually(
                "the edit", lambda: [p.metadata.name for p in view.candidates("shop", "Other")]
            )
            assert view.candidates("shop", "HighErrorRate") == []
            box.call(lambda: edit("Other", [{"action": "scale", "to": 3, "by": 1}]))
            await eventually("the invalid policy gone", lambda: view.policy("shop", "p") is None)
            assert view.candidates("shop", "Other") == []

    run_with_informer(box, body)


def _configmap(data: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "remediator-config", "namespace": "other"}, "data": data}


def _hpa(name: str, target: str, minimum: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": minimum,
            "maxReplicas": 10,
        },
    }


def test_the_pause_switch_and_the_hpas_are_followed_and_unknown_after_a_failed_watch(
    tmp_path: Path,
) -> None:
    """The pause switch (its one ConfigMap, by name) and the HPAs are served from their
    watches: absent means not paused; a flip, an edit, a deletion are seen. Until listed,
    and after a watch fails until it is followed again, the view says it does not know
    (None), so the reconciler asks the API."""
    with Sandbox(kubeconfig=tmp_path / "kubeconfig", bookmark_interval=0.2) as box:
        api = box.api

        def seed() -> None:
            for crd in all_crds():
                api.internal_create("apiextensions.k8s.io", "customresourcedefinitions", crd)
            for ns in ("shop", "other"):
                api.internal_create("", "namespaces", {"metadata": {"name": ns}})
            # another ConfigMap of the namespace, saying paused: not the switch, never read
            other = {"metadata": {"name": "x", "namespace": "other"}, "data": {"paused": "true"}}
            api.internal_create("", "configmaps", other)

        box.call(seed)
        assert box.kubeconfig is not None

        def minimums(view: ClusterView) -> dict[str, int] | None:
            hpas = view.hpas("shop")
            if hpas is None:
                return None
            return {h["metadata"]["name"]: h["spec"]["minReplicas"] for h in hpas}

        async def main() -> None:
            kube = KubeClient(load_configuration(str(box.kubeconfig)), attempts=1)
            view = ClusterView()
            informer = Informer(
                kube, view, [], watch_seconds=1, pause=("other", "remediator-config"), hpas=True
            )
            try:
                assert view.paused() is None and view.hpas("shop") is None  # not listed yet
                await informer.fill()
                assert view.paused() is False  # no ConfigMap: not paused
                assert minimums(view) == {}
                async with following(informer):
                    box.call(lambda: api.internal_create("", "configmaps", _configmap({})))
                    box.call(
                        lambda: api.internal_create(
                            "autoscaling", "horizontalpodautoscalers", _hpa("web", "web")
                        )
                    )
                    await eventually("the HPA", lambda: minimums(view) == {"web": 1})
                    paused = _configmap({"paused": "true"})
                    box.call(lambda: api.internal_update("", "configmaps", paused))
                    await eventually("the flip", lambda: view.paused() is True)
                    box.call(
                        lambda: api.internal_delete("", "configmaps", "other", "remediator-config")
                    )
                    await eventually("the deletion", lambda: view.paused() is False)
                    # the next watches (each ends after a second) fail: unknown
                    for resource in ("configmaps", "horizontalpodautoscalers"):
                        box.faults.add(verb=["watch", "list"], resource=resource, status=500)
                    await eventually("unknown", lambda: view.paused() is None)
                    await eventually("HPAs unknown", lambda: view.hpas("shop") is None)
                    box.faults.clear()
                    await eventually("followed again", lambda: view.paused() is False, 10)
                    await eventually("HPAs again", lambda: minimums(view) == {"web": 1}, 10)
            finally:
                await kube.close()

        asyncio.run(main())
