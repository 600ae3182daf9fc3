"""Capturing the evidence of a target before it is changed, and keeping it (see
`core.evidence` for what is kept and why).

Everything is fetched in parallel within the policy's budget: the workload and its pods, its
ReplicaSets and the PromQL values first, then the logs of the selected pods and the Events
of each object captured. What has not arrived when the budget is spent is cancelled and recorded as
missing, as is anything the API refused (a pod already gone, a 403): capture never fails a
remediation. The whole is kept in a Secret the Incident owns (garbage-collected with it);
logs can hold secrets, so reading the evidence takes what reading Secrets takes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any

from ..adapters.kube import KubeClient, KubeError
from ..adapters.prometheus import PromClient
from ..core import evidence, targets
from ..core.models import API_VERSION, EvidenceSummary, Incident, RemediationPolicy
from ..core.models import parse_duration as seconds_of

UID_ANNOTATION = "remediator.dev/incident-uid"
SUMMARY_KEY = "summary.json"
LOG_READ_BYTES = 1024 * 1024  # what one log read asks for at most; the cap applies after


def _why(error: BaseException) -> str:
    """Why a read failed, without the body of the answer (it may repeat what was asked)."""
    if isinstance(error, KubeError):
        return f"{error.status} {error.reason}".strip()
    return type(error).__name__


async def _within(
    deadline: float, reads: Mapping[str, Awaitable[Any]], budget: str
) -> tuple[dict[str, Any], list[str]]:
    """Run the reads at once until `deadline` (monotonic): what each returned, and what is
    missing (failed, or cancelled when the budget ran out)."""
    tasks = {name: asyncio.ensure_future(read) for name, read in reads.items()}
    if tasks:
        await asyncio.wait(tasks.values(), timeout=max(deadline - time.monotonic(), 0))
    results: dict[str, Any] = {}
    missing: list[str] = []
    for name, task in tasks.items():
        if not task.done():
            task.cancel()
            missing.append(f"{name}: not within the {budget} budget")
        elif task.exception() is not None:
            missing.append(f"{name}: {_why(task.exception())}")  # type: ignore[arg-type]
        else:
            results[name] = task.result()
    return results, missing


class EvidenceCapture:
    def __init__(self, kube: KubeClient, prom: PromClient | None) -> None:
        self.kube = kube
        self.prom = prom

    async def capture(
        self, incident: Incident, policy: RemediationPolicy
    ) -> tuple[dict[str, Any], EvidenceSummary]:
        """What the target looks like now: the document for the Secret and its summary."""
        settings = policy.spec.evidence
        namespace = incident.metadata.namespace
        target = targets.resolve_target(incident, policy)
        started, at = time.monotonic(), datetime.now(UTC)
        deadline = started + seconds_of(settings.budget)
        gathered = evidence.Gathered(target=f"{target.kind}/{target.name}")

        reads: dict[str, Awaitable[Any]] = {
            "workload": self._workload(namespace, target.kind, target.name),
        }
        for name, query in evidence.queries(policy).items():
            if self.prom is None:
                gathered.missing.append(f"metric {name}: no Prometheus is configured")
            else:
                reads[f"metric {name}"] = self.prom.instant(query)
        results, missing = await _within(deadline, reads, settings.budget)
        gathered.missing += missing

        pods, replicasets = results.get("workload", ([], []))
        gathered.pods = evidence.select_pods(pods, settings.max_pods)
        gathered.revisions = evidence.revisions(replicasets)
        gathered.metrics = {
            key.removeprefix("metric "): value
            for key, value in results.items()
            if key.startswith("metric ")
        }
        sources = evidence.event_sources(
            (target.kind, target.name), gathered.pods, gathered.revisions
        )
        second: dict[str, Awaitable[Any]] = {
            f"events of {kind}/{name}": self.kube.list_events(namespace, kind, name)
            for kind, name in sources
        }
        if settings.log_lines:
            for pod in gathered.pods:
                pod_name = str((pod.get("metadata") or {}).get("name"))
                for container, previous in evidence.log_requests(pod):
                    key = evidence.log_key(pod_name, container, previous)
                    params = {
                        "container": container,
                        "tailLines": str(settings.log_lines),
                        "limitBytes": str(LOG_READ_BYTES),
                    }
                    if previous:
                        params["previous"] = "true"
                    second[f"log {key}"] = self.kube.pod_log(namespace, pod_name, params)
        read, missing = await _within(deadline, second, settings.budget)
        gathered.logs = {
            key.removeprefix("log "): raw for key, raw in read.items() if key.startswith("log ")
        }
        gathered.events = evidence.events_of(
            (e for key, events in read.items() if key.startswith("events ") for e in events),
            sources,
        )
        gathered.missing += missing

        took_ms = int((time.monotonic() - started) * 1000)
        return evidence.assemble(
            gathered,
            cap=settings.max_bytes,
            captured_at=at,
            took_ms=took_ms,
            secret=evidence.secret_name(incident.metadata.name, incident.metadata.uid or ""),
        )

    async def _workload(
        self, namespace: str, kind: str, name: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The workload's pods and (for a Deployment) its ReplicaSets."""
        workload = await self.kube.get_workload(kind, namespace, name)
        selector = targets.workload_selector(workload) if workload else None
        if selector is None:
            return [], []
        pods, replicasets = await asyncio.gather(
            self.kube.list_pods(namespace, selector),
            self.kube.list_replicasets(namespace, selector)
            if kind == "Deployment"
            else asyncio.sleep(0, result=[]),
        )
        return pods, replicasets

    async def keep(
        self, incident: Incident, document: dict[str, Any], summary: EvidenceSummary
    ) -> EvidenceSummary:
        """Store the evidence in its Secret, owned by the Incident. When the Secret is there
        already (a capture stored before a crash), the first capture is kept: it is the one
        taken before anything could have changed."""
        meta = incident.metadata

        def encoded(value: Any) -> str:
            return base64.b64encode(json.dumps(value).encode()).decode()

        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": evidence.SECRET_TYPE,
            "metadata": {
                "name": summary.secret,
                "labels": {evidence.INCIDENT_LABEL: meta.name},
                "annotations": {UID_ANNOTATION: meta.uid or ""},
                "ownerReferences": [
                    {
                        "apiVersion": API_VERSION,
                        "kind": "Incident",
                        "name": meta.name,
                        "uid": meta.uid or "",
                        "controller": True,
                        "blockOwnerDeletion": False,
                    }
                ],
            },
            "data": {
                evidence.SECRET_KEY: encoded(document),
                SUMMARY_KEY: encoded(summary.dump()),
            },
        }
        try:
            await self.kube.create_secret(meta.namespace, body)
        except KubeError as e:
            if e.status != 409:
                raise
            existing = await self.kube.get_secret(meta.namespace, summary.secret)
            stored = (existing or {}).get("data") or {}
            owner = ((existing or {}).get("metadata") or {}).get("annotations") or {}
            if owner.get(UID_ANNOTATION) != meta.uid or SUMMARY_KEY not in stored:
                raise
            return EvidenceSummary.model_validate(json.loads(base64.b64decode(stored[SUMMARY_KEY])))
        return summary

    async def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The evidence document kept in the Secret `name`, or None."""
        secret = await self.kube.get_secret(namespace, name)
        data = (secret or {}).get("data") or {}
        if evidence.SECRET_KEY not in data:
            return None
        document: dict[str, Any] = json.loads(base64.b64decode(data[evidence.SECRET_KEY]))
        return document
