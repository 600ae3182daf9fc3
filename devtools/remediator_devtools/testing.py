"""Running the real operator in-process against a (sandbox) API server, for tests and the demo.

`OperatorThread` starts Kopf with the project's handlers in a thread of its own (with its
own event loop), and stops it the way a SIGTERM would: this is the operator as deployed,
not a re-implementation of it. `OperatorProcess` runs `remediator run` as a child process,
for tests that kill it.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import kopf

from remediator.reconcile import OperatorConfig
from remediator.runtime import RunSettings


class OperatorThread:
    def __init__(
        self,
        kubeconfig: Path | str,
        config: OperatorConfig | None = None,
        namespaces: list[str] | None = None,
        *,
        peering: bool = False,
        liveness_port: int | None = None,
    ) -> None:
        """`peering` runs Kopf as deployed (`--peering`), `liveness_port` serves its probe."""
        self.kubeconfig = str(kubeconfig)
        self.config = config or OperatorConfig(tick_seconds=0.2)
        self.namespaces = namespaces or []
        self.peering = peering
        self.liveness_port = liveness_port
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> OperatorThread:
        # as `remediator run` does: its own identity and priority, which Kopf's peering and
        # the dispatcher and the ticker (`handlers.lifecycle._leads`) then agree on
        settings = RunSettings(
            config=self.config,
            kubeconfig=self.kubeconfig,
            namespaces=tuple(self.namespaces),
            standalone=not self.peering,
            identity=f"operator-thread-{os.getpid()}-{id(self):x}",
            priority=random.randint(1, 1_000_000),
        )
        from remediator.handlers.registry import REGISTRY
        from remediator.main import handlers  # noqa: F401  (registers the handlers)

        def run() -> None:
            try:
                asyncio.run(
                    kopf.operator(
                        standalone=not self.peering,
                        namespaces=self.namespaces,
                        clusterwide=not self.namespaces,
                        liveness_endpoint=(
                            f"http://127.0.0.1:{self.liveness_port}/healthz"
                            if self.liveness_port
                            else None
                        ),
                        stop_flag=self._stop,
                        ready_flag=self._ready,
                        registry=REGISTRY,
                        identity=settings.identity,  # type: ignore[arg-type]
                        priority=settings.priority,
                        memo=kopf.Memo(run=settings),
                    )
                )
            except BaseException as e:  # surfaced by stop()
                self.error = e
                self._ready.set()

        self._thread = threading.Thread(target=run, name="remediator-operator", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the operator did not become ready within 30 s")
        if self.error is not None:
            raise self.error
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self._thread = None

    def __enter__(self) -> OperatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OperatorProcess:
    """`remediator run` as a child process: killable with SIGKILL, restartable.

    Chaos tests use it where a thread will not do: a SIGKILL ends the process at whatever
    instruction it is on, with no cleanup handler run. `ready()` polls Kopf's liveness
    probe (served on `liveness_port`), which answers once the operator has started.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        liveness_port: int,
        log_path: Path | str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.args = [*args, "--liveness", f"http://127.0.0.1:{liveness_port}/healthz"]
        self.liveness_port = liveness_port
        self.log_path = Path(log_path)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 30) -> OperatorProcess:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "remediator", "run", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        self.ready(timeout)
        return self

    def ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.liveness_port}/healthz"
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"the operator exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"the operator was not ready within {timeout} s; see {self.log_path}")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye; the peering record and webhooks stay behind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, as Kubernetes stops a pod (SIGKILL if it does not exit in time)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
