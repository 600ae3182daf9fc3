"""The emulator's own throughput: the ceiling every operator figure measured on it runs under.

`python -m kube_emulator.bench` (or `make bench-sandbox`) starts a sandbox, drives it
over loopback HTTP from a client in this process (as the operator's clients do), and reports
GET and merge-PATCH requests per second and watch events delivered per second. Results are
printed and merged into `bench/results.json` under the key `sandbox`.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import click

from . import Sandbox

CONFIGMAP = "/api/v1/namespaces/default/configmaps"


async def _timed_requests(
    session: aiohttp.ClientSession, make: Any, total: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            started = time.perf_counter()
            async with make(session, i) as response:
                await response.read()
                if response.status >= 300:
                    raise RuntimeError(f"unexpected {response.status}")
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def _run(url: str, total: int, concurrency: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with aiohttp.ClientSession(url) as session:
        for i in range(concurrency):
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"bench-{i}"},
                "data": {"n": "0"},
            }
            async with session.post(CONFIGMAP, json=body) as response:
                assert response.status == 201, await response.text()

        def get(s: aiohttp.ClientSession, i: int) -> Any:
            return s.get(f"{CONFIGMAP}/bench-{i % concurrency}")

        def patch(s: aiohttp.ClientSession, i: int) -> Any:
            return s.patch(
                f"{CONFIGMAP}/bench-{i % concurrency}",
                data=json.dumps({"data": {"n": str(i)}}),
                headers={"Content-Type": "application/merge-patch+json"},
            )

        for name, make in (("get", get), ("patch", patch)):
            elapsed, latencies = await _timed_requests(session, make, total, concurrency)
            results[name] = {
                "requests": total,
                "per_second": round(total / elapsed, 1),
                "p50_ms": round(statistics.median(latencies) * 1000, 2),
                "p99_ms": round(sorted(latencies)[int(len(latencies) * 0.99) - 1] * 1000, 2),
            }

        # Watch: one watcher, events produced by patches; count what the watcher receives.
        async with session.get(f"{CONFIGMAP}?watch=true&resourceVersion=0") as stream:
            received = 0
            expected = total + concurrency  # initial ADDED events plus one per patch

            async def consume() -> None:
                nonlocal received
                async for _ in stream.content:
                    received += 1
                    if received >= expected:
                        return

            consumer = asyncio.create_task(consume())
            started = time.perf_counter()
            await _timed_requests(session, patch, total, concurrency)
            await asyncio.wait_for(consumer, 60)
            elapsed = time.perf_counter() - started
        results["watch"] = {"events": received, "per_second": round(received / elapsed, 1)}
    return results


@click.command()
@click.option("--requests", "total", default=3000, show_default=True)
@click.option("--concurrency", default=8, show_default=True)
@click.option("--output", type=click.Path(path_type=Path), default=Path("bench/results.json"))
def main(total: int, concurrency: int, output: Path) -> None:
    """Measure the emulator's GET, PATCH and watch-event throughput on this machine."""
    with Sandbox(controllers=False) as box:
        results = asyncio.run(_run(box.url, total, concurrency))
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    click.echo(f"{'sandbox':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name in ("get", "patch"):
        r = results[name]
        click.echo(f"{name:<10}{r['per_second']:>10}{r['p50_ms']:>10}{r['p99_ms']:>10}")
    click.echo(f"{'watch':<10}{results['watch']['per_second']:>10} events/s")
    output.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(output.read_text()) if output.exists() else {}
    existing["sandbox"] = results
    output.write_text(json.dumps(existing, indent=2) + "\n")
    click.echo(f"written to {output}")


if __name__ == "__main__":
    main()
