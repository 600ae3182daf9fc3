"""The reconciler's configuration and the state one operator process keeps.

`OperatorConfig` is built once from the `remediator run` options; `State` holds what the
phases share (the API client, the executor, the watched view, the decisions not yet
written, the guard ledger as last read). Every other module of this package adds one
phase's methods on top of it; `loop.Reconciler` is the whole."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from ..adapters.kube import KubeClient
from ..adapters.prometheus import PromClient
from ..core import (
    ledger,
    reasons,
)
from ..core.models import (
    Incident,
)
from ..executor import Executor
from ..executor.evidence import EvidenceCapture
from ..view import ClusterView

if TYPE_CHECKING:
    from ..bridge import BridgeConfig
log = structlog.get_logger("remediator.reconciler")

DONE_STATES = ("Applied", "Skipped", "DryRun", "Reverted")
WARNING_REASONS = frozenset(
    {
        reasons.REJECTED,
        reasons.ACTION_FAILED,
        reasons.ESCALATED,
        reasons.APPROVAL_DEADLINE_PASSED,
        reasons.VERIFICATION_FAILED,
        reasons.NOTIFICATION_FAILED,
    }
    | reasons.GUARD_REASONS
    | reasons.PLANNING_REASONS
)
MAX_STEPS = 32
OWN_WRITES_KEPT = 1024  # incidents with unconfirmed own writes before old ones are dropped
EVENT_REASONS = "remediator.dev/reasons"  # on an Event telling several decisions: their reasons
NOT_REVERTED_ON_FAILURE = frozenset({"isolatePods"})


@dataclass(frozen=True)
class OperatorConfig:
    """Settings of this operator process (`remediator run` flags)."""

    namespace: str = "remediator-system"  # where ConfigMap remediator-config lives
    config_map: str = "remediator-config"
    protected_namespaces: frozenset[str] = frozenset(
        {"kube-system", "kube-public", "kube-node-lease"}
    )
    max_concurrent: int = 5
    dry_run: bool = False
    timezone: str = "UTC"
    identity: str = "remediator"
    tick_seconds: float = 1.0
    resync_seconds: float = 30.0  # the ticker's full LIST of incidents (safety net)
    approval_key: bytes = b""  # seals approver identities; shared by all replicas (a Secret)
    webhook_managed: bool = False  # register the admission webhooks (Kopf manages the config)
    webhook_port: int | None = None  # None: a free port
    webhook_host: str = "127.0.0.1"
    webhook_url_host: str | None = None
    webhook_insecure: bool = False
    webhook_cert: str | None = None
    webhook_key: str | None = None
    # Upper bound on the wait before retrying a "not now" (PDB refusal, MaxConcurrent).
    retry_seconds: float = 5.0
    # How long an action is retried while the API server answers 403: a restarted
    # kube-apiserver does so for a few seconds (up to ~15 s under load) until its authorizer
    # has synced; a permission really missing fails the action after this long.
    forbidden_grace_seconds: float = 60.0
    # Prometheus for policies' preconditions and verify checks; None: such policies fail
    # closed (Blocked before acting, Escalated after).
    prometheus_url: str | None = None
    # The Alertmanager bridge served inside the operator (`run --bridge-port`); None: not.
    bridge: BridgeConfig | None = None
    # Attempts per webhook notification (exponential backoff in between).
    notify_attempts: int = 3
    # Hosts notifications may reach although they resolve to link-local addresses.
    notify_allowed_hosts: frozenset[str] = frozenset()
    # Identities allowed to create Incidents under the bridge's names (`am-…`); empty: the
    # names are not reserved at admission (the bridge still never takes over an Incident
    # it did not write, see `bridge`).
    bridge_users: frozenset[str] = frozenset()
    # Prometheus exposition (`GET /metrics`, `run --metrics-port`); None: not served.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"


@dataclass
class Wait:
    """Nothing to do until `at` (monotonic seconds) or an outside change."""

    at: float | None = None


@dataclass
class Unsaved:
    """Decisions about one Incident not yet written: its status as decided, the Events that
    tell them and what must happen only once they are stored (metrics, notifications)."""

    incident: Incident
    events: list[tuple[str, str]] = field(default_factory=list)
    after: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)


@dataclass
class State:
    kube: KubeClient
    config: OperatorConfig = field(default_factory=OperatorConfig)
    # one lock per incident being reconciled, with how many hold or wait for it (an entry
    # lives only that long: thousands of finished incidents keep none)
    _locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = field(default_factory=dict)
    retry_at: dict[tuple[str, str], float] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)  # notifications in flight
    _unsaved: dict[tuple[str, str], Unsaved] = field(default_factory=dict)
    # resourceVersions of this process's status writes whose watch events have not come yet
    _own: dict[tuple[str, str], list[tuple[str, float]]] = field(default_factory=dict)
    # the resourceVersion of this process's last status write of each incident, and when
    # (kept for `view.HORIZON`): a watch event of another version may be older than it
    _last_write: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    # the watched incidents and policies (`informer`), with this process's writes (see `view`)
    view: ClusterView = field(default_factory=ClusterView)
    # the guard ledger (`core.ledger`) as last read, with this process's writes since
    _ledger: ledger.Index = field(default_factory=ledger.Index)
    _ledger_read_at: float | None = None
    _ledger_reading: asyncio.Future[None] | None = None  # the one read on its way
    _ledger_pending: set[str] = field(default_factory=set)  # counted, not yet stored
    # per incident, the pending entries its guards' pass holds until it acts (or does not)
    _held: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # the ledger's ConfigMaps that exist (as last read), and the one each stored key is in
    _ledger_shards: tuple[str, ...] = (ledger.CONFIG_MAP,)
    _ledger_home: dict[str, str] = field(default_factory=dict)
    # per ConfigMap, the entries waiting to be written, and its one writer at a time (see
    # _write_to_ledger)
    _ledger_waiting: dict[str, dict[str, tuple[str, asyncio.Future[None]]]] = field(
        default_factory=dict
    )
    _ledger_writers: dict[str, asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.executor = Executor(
            self.kube,
            notify_attempts=self.config.notify_attempts,
            notify_allowed_hosts=self.config.notify_allowed_hosts,
        )
        self.prom: PromClient | None = (
            PromClient(self.config.prometheus_url) if self.config.prometheus_url else None
        )
        self.capture = EvidenceCapture(self.kube, self.prom)

    @contextlib.asynccontextmanager
    async def lock(self, namespace: str, name: str) -> AsyncIterator[None]:
        """Hold the incident: one reconcile (or notification note) at a time."""
        key = (namespace, name)
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def busy(self, namespace: str, name: str) -> bool:
        """Whether a reconcile holds (or waits for) the incident now."""
        return (namespace, name) in self._locks
