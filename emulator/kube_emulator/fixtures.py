"""A small Deployment and ReplicaSet controller for the emulator, so workloads have pods.

kube-apiserver runs no controllers, and neither does the emulator: a Deployment written to
it would never get a ReplicaSet, a revision or a pod. But the operator's remediations act
on exactly those (rollback picks an older ReplicaSet, a rolling restart changes the pod
template, an eviction removes a pod a budget protects), so tests and the demo need
something that plays kube-controller-manager's part closely enough: revisions and
pod-template-hash as the Deployment controller assigns them, pods as the ReplicaSet
controller keeps them, and the kubelet's "Running and Ready" for every pod it creates.

It reacts to committed changes through `Store.add_listener` and writes through the
`Api.internal_*` methods, so every write is an ordinary API write that watches and the
audit log see. Never from inside the listener: the listener only queues work, which runs
in a later callback on the emulator's event loop.

Simplifications, compared with the real controllers:

* Rollouts are instant: the current ReplicaSet gets all replicas at once, old ones 0
  (maxSurge/maxUnavailable are only used for the `Available` condition); every pod is
  Running and Ready as soon as it exists, and `minReadySeconds` is not waited for.
* No adoption or orphaning by selector: only objects carrying the owner's controller
  reference count as its own. No hash-collision handling (`collisionCount`).
* Pods are not scheduled (`spec.nodeName` stays as the template has it, unless a
  `node_name` is given) and get an address from 10.244.0.0/16.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import random
import string
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from .errors import ApiError
from .store import Change, Store

log = logging.getLogger(__name__)

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
DEPLOYMENTS = ("apps", "deployments")
REPLICASETS = ("apps", "replicasets")
PODS = ("", "pods")

# The alphabet of apimachinery's rand.SafeEncodeString: no vowels, no look-alike digits.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_MAX_ATTEMPTS = 5

Obj = dict[str, Any]
WorkKey = tuple[str, str, str]  # ("Deployment" | "ReplicaSet", namespace, name)


class ApiLike(Protocol):
    """The parts of `sandbox.api.Api` the controller writes through."""

    @property
    def store(self) -> Store: ...

    def internal_get(self, group: str, plural: str, namespace: str, name: str) -> Obj | None: ...

    def internal_list(self, group: str, plural: str, namespace: str | None = None) -> list[Obj]: ...

    def internal_create(self, group: str, plural: str, obj: Obj) -> Obj: ...

    def internal_update(self, group: str, plural: str, obj: Obj, subresource: str = "") -> Obj: ...

    def internal_delete(self, group: str, plural: str, namespace: str, name: str) -> None: ...


def pod_template_hash(template: Any) -> str:
    """A stable 10-character hash of a pod template, spelled like Kubernetes spells hashes."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj: Obj) -> Obj:
    meta: Obj = obj.setdefault("metadata", {})
    return meta


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name", ""))


def _uid(obj: Obj) -> str:
    return str(_meta(obj).get("uid", ""))


def _controller_ref(obj: Obj) -> Obj | None:
    for ref in _meta(obj).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def _owned_by(obj: Obj, owner_uid: str) -> bool:
    ref = _controller_ref(obj)
    return ref is not None and ref.get("uid") == owner_uid


def _revision(rs: Obj) -> int:
    try:
        return int((_meta(rs).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _strip_hash(template: Any) -> Any:
    """The template as the Deployment controller compares it: hash label gone, and (as the
    typed round-trip of kube-apiserver makes them) nulls and empty maps or lists ignored, so
    the template `kubectl rollout undo` writes back matches the ReplicaSet it came from."""
    template = _semantic(template) if isinstance(template, dict) else {}
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return template


def _semantic(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def _is_terminating(pod: Obj) -> bool:
    return bool(_meta(pod).get("deletionTimestamp"))


def _is_active(pod: Obj) -> bool:
    """controller.FilterActivePods: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not _is_terminating(pod)


def _is_ready(pod: Obj) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _scaled(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        scaled = int(value[:-1]) * total
        return -(-scaled // 100) if round_up else scaled // 100
    return 0


def _set_if(status: Obj, key: str, value: int) -> None:
    """Go's `omitempty` on the counters of Deployment and ReplicaSet status."""
    if value:
        status[key] = value


def _condition(
    old: Iterable[Obj], type_: str, status: str, reason: str, message: str, now: str
) -> Obj:
    """A Deployment condition that keeps its times while nothing about it changes."""
    previous = next((c for c in old if c.get("type") == type_), None)
    if previous is not None and (
        previous.get("status"),
        previous.get("reason"),
        previous.get("message"),
    ) == (status, reason, message):
        return previous
    transition = now
    if previous is not None and previous.get("status") == status:
        transition = previous.get("lastTransitionTime", now)
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }


class DeploymentController:
    """Deployment and ReplicaSet controllers plus a kubelet that starts every pod at once.

    Construct it with the emulator's `Api` (from any thread, before or after the server
    starts); it subscribes to the store and does its work on the emulator's event loop.
    Call `resync()` on that loop to pick up objects that existed before it was created.
    """

    def __init__(self, api: ApiLike, *, node_name: str | None = None) -> None:
        self.api = api
        self.node_name = node_name
        self._pending: set[WorkKey] = set()
        self._failures: dict[WorkKey, int] = {}
        self._scheduled = False
        self._delayed = 0
        self._next_ip = 1
        api.store.add_listener(self._on_change)

    # queueing (runs inside the store's commit: no writes here)

    def _on_change(self, change: Change) -> None:
        obj = change.obj
        namespace = str(_meta(obj).get("namespace", ""))
        if change.key == DEPLOYMENTS:
            if change.type != "DELETED":  # dependents are the garbage collector's (Api's)
                self._pending.add(("Deployment", namespace, _name(obj)))
        elif change.key == REPLICASETS:
            ref = _controller_ref(obj)
            if ref is not None and ref.get("kind") == "Deployment":
                self._pending.add(("Deployment", namespace, str(ref.get("name", ""))))
            elif change.type != "DELETED":
                self._pending.add(("ReplicaSet", namespace, _name(obj)))
        elif change.key == PODS:
            ref = _controller_ref(obj)
            if ref is not None and ref.get("kind") == "ReplicaSet":
                self._pending.add(("ReplicaSet", namespace, str(ref.get("name", ""))))
        else:
            return
        self._schedule()

    def _schedule(self) -> None:
        if self._scheduled or not self._pending:
            return
        self._scheduled = True
        asyncio.get_running_loop().call_soon(self._drain)

    def _retry_later(self, key: WorkKey, delay: float) -> None:
        self._delayed += 1

        def requeue() -> None:
            self._delayed -= 1
            self._pending.add(key)
            self._schedule()

        asyncio.get_running_loop().call_later(delay, requeue)

    def resync(self) -> None:
        """Queue every Deployment and ReplicaSet (call on the emulator's loop)."""
        for dep in self.api.internal_list(*DEPLOYMENTS):
            self._pending.add(("Deployment", str(_meta(dep).get("namespace", "")), _name(dep)))
        for rs in self.api.internal_list(*REPLICASETS):
            self._pending.add(("ReplicaSet", str(_meta(rs).get("namespace", "")), _name(rs)))
        self._schedule()

    def busy(self) -> bool:
        return bool(self._pending or self._scheduled or self._delayed)

    async def settle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (the API asked for)
        """Wait until no reconcile is queued, running or waiting for a retry."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.busy():
            if loop.time() >= deadline:
                raise TimeoutError(f"the fixture controller did not settle in {timeout}s")
            await asyncio.sleep(0.005)

    def _drain(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, set()
        for key in sorted(pending):
            try:
                if key[0] == "Deployment":
                    self._sync_deployment(key[1], key[2])
                else:
                    self._sync_replicaset(key[1], key[2])
            except ApiError as exc:
                self._failed(key, exc)
            except Exception:  # a bug here must not take the other keys down with it
                log.exception("fixture controller failed on %s", key)
            else:
                self._failures.pop(key, None)
        self._schedule()

    def _failed(self, key: WorkKey, exc: ApiError) -> None:
        if exc.code in (404, 409):  # raced with another writer: look again
            self._retry_later(key, 0.01)
            return
        attempts = self._failures.get(key, 0) + 1
        if attempts >= _MAX_ATTEMPTS:
            log.warning("fixture controller gives up on %s: %s %s", key, exc.code, exc.message)
            self._failures.pop(key, None)
            return
        self._failures[key] = attempts
        self._retry_later(key, 0.05 * 2**attempts)

    # Deployment controller

    def _sync_deployment(self, namespace: str, name: str) -> None:
        dep = self.api.internal_get(*DEPLOYMENTS, namespace, name)
        if dep is None or _is_terminating(dep):
            return
        dep_uid = _uid(dep)
        owned = [
            rs for rs in self.api.internal_list(*REPLICASETS, namespace) if _owned_by(rs, dep_uid)
        ]
        template = (dep.get("spec") or {}).get("template") or {}
        wanted = _strip_hash(template)
        current = next((rs for rs in owned if _strip_hash(_rs_template(rs)) == wanted), None)
        paused = bool((dep.get("spec") or {}).get("paused"))
        created = False

        if not paused:
            others = [rs for rs in owned if rs is not current]
            top = max((_revision(rs) for rs in others), default=0)
            if current is None:
                current = self._create_replicaset(dep, template, top + 1)
                owned.append(current)
                created = True
            elif _revision(current) <= top:
                current = self._set_revision(current, top + 1)
                owned = [current, *others]
            self._scale(current, _replicas(dep))
            for rs in others:
                self._scale(rs, 0)
            dep = self._set_deployment_revision(dep, _revision(current))
            self._clean_history(dep, current, others)
        else:
            active = [rs for rs in owned if _replicas(rs) > 0]
            if len(active) == 1:
                self._scale(active[0], _replicas(dep))

        fresh: list[Obj] = []
        for rs in owned:
            latest = self.api.internal_get(*REPLICASETS, namespace, _name(rs))
            if latest is not None:
                fresh.append(self._sync_pods(latest))
        current_fresh = next(
            (rs for rs in fresh if current is not None and _uid(rs) == _uid(current)), None
        )
        self._write_deployment_status(dep, fresh, current_fresh, paused=paused, created=created)

    def _create_replicaset(self, dep: Obj, template: Obj, revision: int) -> Obj:
        meta = _meta(dep)
        template_hash = pod_template_hash(_strip_hash(template))
        rs_template = copy.deepcopy(template)
        tmeta = rs_template.setdefault("metadata", {})
        labels = {**(tmeta.get("labels") or {}), HASH_LABEL: template_hash}
        tmeta["labels"] = dict(labels)
        selector = copy.deepcopy((dep.get("spec") or {}).get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: template_hash}
        spec: Obj = {"replicas": 0, "selector": selector, "template": rs_template}
        min_ready = (dep.get("spec") or {}).get("minReadySeconds")
        if min_ready:
            spec["minReadySeconds"] = min_ready
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{template_hash}",
                "namespace": meta.get("namespace", ""),
                "labels": labels,
                "annotations": {REVISION: str(revision)},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta.get("uid", ""),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
        }
        return self.api.internal_create(*REPLICASETS, rs)

    def _set_revision(self, rs: Obj, revision: int) -> Obj:
        updated = copy.deepcopy(rs)
        annotations = _meta(updated).setdefault("annotations", {})
        annotations[REVISION] = str(revision)
        return self.api.internal_update(*REPLICASETS, updated)

    def _scale(self, rs: Obj, replicas: int) -> Obj:
        if _replicas(rs) == replicas and (rs.get("spec") or {}).get("replicas") is not None:
            return rs
        latest = self.api.internal_get(*REPLICASETS, str(_meta(rs).get("namespace", "")), _name(rs))
        if latest is None:
            return rs
        updated = copy.deepcopy(latest)
        updated.setdefault("spec", {})["replicas"] = replicas
        return self.api.internal_update(*REPLICASETS, updated)

    def _set_deployment_revision(self, dep: Obj, revision: int) -> Obj:
        annotations = _meta(dep).get("annotations") or {}
        if annotations.get(REVISION) == str(revision):
            return dep
        updated = copy.deepcopy(dep)
        _meta(updated).setdefault("annotations", {})[REVISION] = str(revision)
        # through status, as kube-controller-manager does: no new generation
        return self.api.internal_update(*DEPLOYMENTS, updated, "status")

    def _clean_history(self, dep: Obj, current: Obj, others: list[Obj]) -> None:
        """Delete the oldest scaled-down ReplicaSets beyond `revisionHistoryLimit` (10)."""
        limit = (dep.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        idle = [
            rs
            for rs in others
            if _uid(rs) != _uid(current)
            and (rs.get("spec") or {}).get("replicas") == 0
            and not (rs.get("status") or {}).get("replicas")
        ]
        idle.sort(key=_revision)
        for rs in idle[: max(0, len(idle) - limit)]:
            try:
                self.api.internal_delete(
                    *REPLICASETS, str(_meta(rs).get("namespace", "")), _name(rs)
                )
            except ApiError as exc:
                if exc.code != 404:
                    raise

    def _write_deployment_status(
        self,
        dep: Obj,
        replicasets: list[Obj],
        current: Obj | None,
        *,
        paused: bool,
        created: bool,
    ) -> None:
        spec = dep.get("spec") or {}
        desired = _replicas(dep)
        total = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in replicasets)
        ready = sum(int((rs.get("status") or {}).get("readyReplicas", 0)) for rs in replicasets)
        available = sum(
            int((rs.get("status") or {}).get("availableReplicas", 0)) for rs in replicasets
        )
        updated = int(((current or {}).get("status") or {}).get("replicas", 0))

        status: Obj = {}
        _set_if(status, "observedGeneration", int(_meta(dep).get("generation", 0) or 0))
        _set_if(status, "replicas", total)
        _set_if(status, "updatedReplicas", updated)
        _set_if(status, "readyReplicas", ready)
        _set_if(status, "availableReplicas", available)
        _set_if(status, "unavailableReplicas", max(0, total - available))

        now = _now()
        old_conditions = list((dep.get("status") or {}).get("conditions") or ())
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_unavailable = 0
        if (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            max_unavailable = _scaled(rolling.get("maxUnavailable", "25%"), desired, False)
        if available >= desired - max_unavailable:
            available_cond = _condition(
                old_conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
            )
        else:
            available_cond = _condition(
                old_conditions,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            )
        rs_name = _name(current) if current is not None else ""
        complete = (
            current is not None and updated == desired and total == desired and available == desired
        )
        if paused:
            progressing = _condition(
                old_conditions,
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
                now,
            )
        elif complete:
            progressing = _condition(
                old_conditions,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
            )
        elif created:
            progressing = _condition(
                old_conditions,
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{rs_name}"',
                now,
            )
        else:
            # Like syncRolloutStatus: the condition only moves when the rollout made progress.
            old_status = dep.get("status") or {}
            previous = next((c for c in old_conditions if c.get("type") == "Progressing"), None)
            progressed = (
                updated > int(old_status.get("updatedReplicas", 0))
                or ready > int(old_status.get("readyReplicas", 0))
                or available > int(old_status.get("availableReplicas", 0))
            )
            if previous is not None and not progressed:
                progressing = previous
            else:
                progressing = _condition(
                    old_conditions,
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    f'ReplicaSet "{rs_name}" is progressing.',
                    now,
                )
        status["conditions"] = [available_cond, progressing]
        collision = (dep.get("status") or {}).get("collisionCount")
        if collision is not None:
            status["collisionCount"] = collision

        if dep.get("status") == status:
            return
        latest = self.api.internal_get(
            *DEPLOYMENTS, str(_meta(dep).get("namespace", "")), _name(dep)
        )
        if latest is None:
            return
        self.api.internal_update(*DEPLOYMENTS, {**latest, "status": status}, "status")

    # ReplicaSet controller and kubelet

    def _sync_replicaset(self, namespace: str, name: str) -> None:
        rs = self.api.internal_get(*REPLICASETS, namespace, name)
        if rs is None or _is_terminating(rs):
            return
        ref = _controller_ref(rs)
        if ref is not None and ref.get("kind") == "Deployment":
            owner = self.api.internal_get(*DEPLOYMENTS, namespace, str(ref.get("name", "")))
            if owner is not None and _uid(owner) == ref.get("uid"):
                self._sync_deployment(namespace, _name(owner))
                return
        self._sync_pods(rs)

    def _sync_pods(self, rs: Obj) -> Obj:
        """Keep `spec.replicas` pods of a ReplicaSet and write its status; the latest RS."""
        namespace = str(_meta(rs).get("namespace", ""))
        rs_uid = _uid(rs)
        pods = [p for p in self.api.internal_list(*PODS, namespace) if _owned_by(p, rs_uid)]
        active = [p for p in pods if _is_active(p)]
        missing = _replicas(rs) - len(active)
        if _is_terminating(rs):
            missing = 0
        for _ in range(missing):
            active.append(self._create_pod(rs))
        if missing < 0:
            victims = _pick_victims(active, -missing)
            for pod in victims:
                try:
                    self.api.internal_delete(*PODS, namespace, _name(pod))
                except ApiError as exc:
                    if exc.code != 404:
                        raise
            names = {_name(p) for p in victims}
            active = [p for p in active if _name(p) not in names]
        for index, pod in enumerate(active):
            if not (pod.get("status") or {}).get("phase"):
                active[index] = self._start_pod(pod)

        status: Obj = {"replicas": len(active)}
        template_labels = ((_rs_template(rs).get("metadata") or {}).get("labels")) or {}
        labelled = sum(
            1
            for p in active
            if all((_meta(p).get("labels") or {}).get(k) == v for k, v in template_labels.items())
        )
        ready = sum(1 for p in active if _is_ready(p))
        _set_if(status, "fullyLabeledReplicas", labelled)
        _set_if(status, "readyReplicas", ready)
        _set_if(status, "availableReplicas", ready)
        _set_if(status, "observedGeneration", int(_meta(rs).get("generation", 0) or 0))
        conditions = (rs.get("status") or {}).get("conditions")
        if conditions:
            status["conditions"] = conditions
        latest = self.api.internal_get(*REPLICASETS, namespace, _name(rs)) or rs
        if latest.get("status") == status:
            return latest
        return self.api.internal_update(*REPLICASETS, {**latest, "status": status}, "status")

    def _create_pod(self, rs: Obj) -> Obj:
        meta = _meta(rs)
        template = copy.deepcopy(_rs_template(rs))
        tmeta = template.get("metadata") or {}
        pod_meta: Obj = {
            "generateName": f"{meta['name']}-",
            "namespace": meta.get("namespace", ""),
            "labels": dict(tmeta.get("labels") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": meta["name"],
                    "uid": meta.get("uid", ""),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }
        if tmeta.get("annotations"):
            pod_meta["annotations"] = dict(tmeta["annotations"])
        spec = copy.deepcopy(template.get("spec") or {})
        if self.node_name and not spec.get("nodeName"):
            spec["nodeName"] = self.node_name
        pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}
        created = self.api.internal_create(*PODS, pod)
        return self._start_pod(created)

    def _start_pod(self, pod: Obj) -> Obj:
        """What the kubelet reports once every container runs and passes its probes."""
        now = _now()
        ip = f"10.244.{(self._next_ip >> 8) & 255}.{self._next_ip & 255}"
        self._next_ip = self._next_ip % 65_000 + 1
        containers = (pod.get("spec") or {}).get("containers") or ()
        conditions = [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
            for t in (
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            )
        ]
        status: Obj = {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": "10.0.0.10",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": now,
            "containerStatuses": [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": "",
                    "containerID": f"containerd://{_random_hex(64)}",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                    "lastState": {},
                }
                for c in containers
            ],
            "qosClass": "BestEffort",
        }
        return self.api.internal_update(*PODS, {**pod, "status": status}, "status")


def _rs_template(rs: Obj) -> Obj:
    template = (rs.get("spec") or {}).get("template")
    return template if isinstance(template, dict) else {}


def _pick_victims(pods: list[Obj], count: int) -> list[Obj]:
    """Like the ReplicaSet controller: not-ready pods first, among equals the newest."""
    not_ready = [p for p in pods if not _is_ready(p)]
    ready = [p for p in pods if _is_ready(p)]
    order = [*_newest_first(not_ready), *_newest_first(ready)]
    return order[:count]


def _newest_first(pods: list[Obj]) -> list[Obj]:
    return sorted(
        pods,
        key=lambda p: (str(_meta(p).get("creationTimestamp", "")), _name(p)),
        reverse=True,
    )


def _random_hex(length: int) -> str:
    return "".join(random.choices(string.hexdigits[:16], k=length))
