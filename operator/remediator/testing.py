"""Running the real operator in-process against a (sandbox) API server, for tests and the demo.

`OperatorThread` starts Kopf with the project's handlers in a thread of its own (with its
own event loop), and stops it the way a SIGTERM would: this is the operator as deployed,
not a re-implementation of it.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import kopf

from . import settings
from .reconciler import OperatorConfig


class OperatorThread:
    def __init__(
        self,
        kubeconfig: Path | str,
        config: OperatorConfig | None = None,
        namespaces: list[str] | None = None,
    ) -> None:
        self.kubeconfig = str(kubeconfig)
        self.config = config or OperatorConfig(tick_seconds=0.2)
        self.namespaces = namespaces or []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> OperatorThread:
        settings.kubeconfig = self.kubeconfig
        settings.config = self.config
        settings.namespaces = list(self.namespaces)
        from .handlers.registry import REGISTRY
        from .main import handlers  # noqa: F401  (registers the handlers)

        def run() -> None:
            try:
                asyncio.run(
                    kopf.operator(
                        standalone=True,
                        namespaces=self.namespaces,
                        clusterwide=not self.namespaces,
                        stop_flag=self._stop,
                        ready_flag=self._ready,
                        registry=REGISTRY,
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
