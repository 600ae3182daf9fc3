"""The bench's own code paths, small and fast: the floor makes exactly the requests it names
(the minimum the others are held to), the bench's client reads the emulator's kubeconfig,
and the figures become ratios, goals and one table."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from kube_emulator import Sandbox
from remediator.core.crds import all_crds
from remediator_devtools.bench import goals, percentile, ratios, slope, table
from remediator_devtools.floor import Floor, incident
from remediator_devtools.kubeapi import KubeClient, namespaced


def test_the_floor_makes_exactly_its_five_requests(tmp_path: Path) -> None:
    with Sandbox(kubeconfig=tmp_path / "kubeconfig", controllers=False) as box:
        assert box.kubeconfig is not None

        def seed() -> None:
            for crd in all_crds():
                box.api.internal_create("apiextensions.k8s.io", "customresourcedefinitions", crd)
            box.api.internal_create("", "namespaces", {"metadata": {"name": "b"}})
            box.api.internal_create(
                "apps",
                "deployments",
                {
                    "metadata": {"name": "t", "namespace": "b"},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "t"}}},
                },
            )

        box.call(seed)
        before = box.request_counts()

        async def remediate() -> None:
            api = KubeClient(box.kubeconfig, "floor")  # type: ignore[arg-type]
            try:
                path = namespaced("remediator.dev", "v1alpha1", "b", "incidents")
                created = await api.create(path, incident("b", "i", "t"))
                alert = {"namespace": "b", "incident": "i", "target": "t"}
                await Floor(api).remediate(alert, created["metadata"]["uid"])
            finally:
                await api.close()

        asyncio.run(remediate())
        after = box.request_counts()
        made = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
        assert made == {
            ("create", "remediator.dev", "incidents"): 1,
            ("get", "apps", "deployments"): 1,
            ("patch", "apps", "deployments"): 1,  # /scale
            ("patch", "remediator.dev", "incidents"): 1,  # /status
            ("create", "", "events"): 1,
        }
        scale = [w for w in box.writes() if w.subresource == "scale"]
        assert [(w.name, w.changed) for w in scale] == [("t", True)]


def subject(throughput: float, p99: float, requests: float, rss: list[float]) -> dict[str, Any]:
    return {
        "throughput_per_s": throughput,
        "latency": {"rate_50": {"p50_ms": 1, "p95_ms": 2, "p99_ms": p99}},
        "requests": {"per_remediation": requests},
        "cpu_s_per_remediation": 0.01,
        "idle": {"rss_mib": 50},
        "memory": {
            "loaded": [
                {"incidents": n, "rss_mib": r, "catch_up_s": 3.0}
                for n, r in zip((1000, 5000, 12500), rss, strict=True)
            ],
            "kb_per_incident": 2.0,
        },
    }


def test_the_figures_become_ratios_goals_and_one_table() -> None:
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert abs(slope([{"incidents": 0, "rss_mib": 10}, {"incidents": 1024, "rss_mib": 11}])) > 0
    results: dict[str, Any] = {
        "floor": subject(200, 50, 5, [40, 40, 40]),
        "bare_kopf": subject(100, 100, 6, [80, 90, 100]),
        "remediator": subject(90, 150, 6, [80, 100, 120]),
        "loadavg": {"start": "1", "end": "1"},
        "took_s": 1,
    }
    results["ratios"] = ratios(results)
    assert results["ratios"]["throughput_vs_bare_kopf"] == 0.9
    assert results["ratios"]["requests_vs_floor"] == 1.2
    met = goals(results)
    assert met["p99 at 50/s ≤ 250 ms"] is True
    assert all(met.values())
    results["goals"] = met
    printed = table({"real": results})
    assert "rate_50 p50/p95/p99 ms" in printed
    assert "goal (real) catch-up ≤ 10 s: met" in printed
