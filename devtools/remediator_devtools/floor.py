"""The floor: the fewest API requests a remediation can make, with no operator at all.

`python -m remediator_devtools.floor --kubeconfig K --port P` serves `POST /alerts` with
`{"alerts": [{"namespace", "incident", "target"}]}`. For each alert it creates the Incident
(then answers, as the bridge answers once its Incidents exist), and goes on alone: read the
target, patch its `/scale` to one replica more, write the Incident's status once, create one
Event. Five requests, no watch, no decision, no retry: what anyone could do on the same
cluster is at best this, so its throughput is the ceiling and its requests the minimum.
It runs as a process of its own, like the two operators, so its CPU is its own.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from aiohttp import web

from .kubeapi import MERGE_PATCH, KubeClient, namespaced

INCIDENTS = ("remediator.dev", "v1alpha1")


def incident(namespace: str, name: str, target: str) -> dict[str, Any]:
    """The Incident of one bench alert (the floor's and the bare operator's alike)."""
    return {
        "apiVersion": "remediator.dev/v1alpha1",
        "kind": "Incident",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": "manual",
            "alertname": "BenchAlert",
            "severity": "P2",
            "summary": f"bench alert on {target}",
            "labels": {"deployment": target},
            "target": {"kind": "Deployment", "name": target},
        },
    }


def event(namespace: str, name: str, uid: str, message: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"generateName": f"{name}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": "remediator.dev/v1alpha1",
            "kind": "Incident",
            "name": name,
            "namespace": namespace,
            "uid": uid,
        },
        "reason": "Remediated",
        "message": message,
        "type": "Normal",
        "source": {"component": "bench-floor"},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


class Floor:
    def __init__(self, api: KubeClient) -> None:
        self.api = api
        self.tasks: set[asyncio.Task[None]] = set()

    async def alerts(self, request: web.Request) -> web.Response:
        body = await request.json()
        created = await asyncio.gather(
            *(
                self.api.create(self._path(a["namespace"], "incidents"), self._incident(a))
                for a in body["alerts"]
            )
        )
        for alert, obj in zip(body["alerts"], created, strict=True):
            task = asyncio.create_task(self.remediate(alert, obj["metadata"]["uid"]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return web.json_response({"incidents": len(created)})

    @staticmethod
    def _path(namespace: str, plural: str, name: str = "") -> str:
        return namespaced(*INCIDENTS, namespace, plural, name)

    @staticmethod
    def _incident(alert: dict[str, str]) -> dict[str, Any]:
        return incident(alert["namespace"], alert["incident"], alert["target"])

    async def remediate(self, alert: dict[str, str], uid: str) -> None:
        ns, name, target = alert["namespace"], alert["incident"], alert["target"]
        deployment = await self.api.request(
            "GET", namespaced("apps", "v1", ns, "deployments", target)
        )
        replicas = int(deployment["spec"].get("replicas", 1)) + 1
        await self.api.request(
            "PATCH",
            namespaced("apps", "v1", ns, "deployments", target) + "/scale",
            {"spec": {"replicas": replicas}},
            MERGE_PATCH,
        )
        message = f"scaled Deployment/{target} to {replicas} replicas"
        await self.api.request(
            "PATCH",
            self._path(ns, "incidents", name) + "/status",
            {"status": {"phase": "Remediated", "message": message}},
            MERGE_PATCH,
        )
        await self.api.create(namespaced("", "v1", ns, "events"), event(ns, name, uid, message))


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


@click.command()
@click.option("--kubeconfig", type=click.Path(path_type=Path), required=True)
@click.option("--port", type=int, required=True)
def main(kubeconfig: Path, port: int) -> None:
    """Serve the floor client on 127.0.0.1:PORT until SIGTERM."""
    api = KubeClient(kubeconfig, "floor", connections=64)
    floor = Floor(api)
    app = web.Application()
    app.router.add_post("/alerts", floor.alerts)
    app.router.add_get("/healthz", healthz)

    async def close(_: web.Application) -> None:
        await api.close()

    app.on_cleanup.append(close)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
