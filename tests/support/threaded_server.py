"""An asyncio server on a thread of its own, for the proxies the tests put in front of an API
server (tests/support/recording_proxy.py, tests/real/proxy.py): the test's own code stays
synchronous, as the kubernetes client is."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Self


class ThreadedServer:
    """`with Server(...) as server:` serves from `start()` (once `_serve()` has run in the
    thread's loop, its error raised here) until `stop()` (which runs `_shutdown()` there)."""

    thread_name = "threaded-server"

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def _serve(self) -> None:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        """What to close in the loop before it ends."""

    def start(self) -> Self:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as e:
                failure.append(e)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
