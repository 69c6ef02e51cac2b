"""Run `deepguard serve`: listen, load the model, answer until stopped, then drain and close.

uvicorn serves the app in our own event loop; the caller (`bots.run.process`) owns SIGTERM and
SIGINT and sets `stop`, so uvicorn's signal handlers stay off. Shutdown, in order: new classify
requests get 503 and `/readyz` fails (a load balancer stops sending); the listening socket
closes; requests in flight get `serve.drain_timeout_s` to be answered while the detector still
runs; connections still busy then are closed (their clients see a disconnect, not a late
answer); then the detector drains its own queue and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager

import uvicorn
from fastapi import FastAPI

from api.app import InferenceAPI, create_app
from api.metrics import Metrics
from config import ServeSettings, Settings
from core.detector import Detector
from core.heatmap import LEGEND

log = logging.getLogger(__name__)

OpenDetector = Callable[[], AbstractAsyncContextManager[Detector]]
# Past the drain, how long the handlers of dropped requests get to return before uvicorn
# cancels them (they end as soon as the detector closes).
FINISH_S = 5


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    open_detector: OpenDetector,
    *,
    started: Callable[[str], None] | None = None,
    legend: str = LEGEND,
) -> None:
    """Answer HTTP on `settings.serve.host:port` until `stop` is set; `started` gets the URL.

    `legend` is written under the pictures of `/v1/explain`.
    """
    api = InferenceAPI(settings, Metrics(), legend=legend)
    server = _Server(create_app(api), settings.serve)
    try:
        url = await server.start()
        log.info("inference API listening on %s (model loading)", url)
        if started is not None:
            started(url)
        async with open_detector() as detector:
            api.attach(detector, detector.counters)
            log.info("inference API ready on %s", url)
            await stop.wait()
            log.info("stopping: %d requests in flight", api.in_flight)
            api.close()
            await server.drain()
    finally:
        await server.stop()


class _Uvicorn(uvicorn.Server):
    """uvicorn's server without its signal handlers, telling when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # `process()` turns SIGTERM and SIGINT into `stop`

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class _Server:
    """One uvicorn server on a socket of our own, stopped at most once."""

    def __init__(self, app: FastAPI, options: ServeSettings) -> None:
        self._options = options
        config = uvicorn.Config(
            app,
            http="httptools",  # drops the unread rest of a refused body, keeping the connection
            lifespan="off",  # the detector is attached by `serve`, after the socket listens
            log_config=None,
            log_level=logging.WARNING,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=FINISH_S,
        )
        self._uvicorn = _Uvicorn(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Bind, listen and serve; the URL with the port actually bound."""
        host, port = self._options.host, self._options.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
        bound_host, bound_port = sock.getsockname()[:2]
        self._task = asyncio.create_task(self._uvicorn.serve([sock]), name="uvicorn")
        listening = asyncio.create_task(self._uvicorn.listening.wait())
        await asyncio.wait({self._task, listening}, return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if self._task.done():
            self._task.result()  # uvicorn failed to start: raise its error
            raise RuntimeError("uvicorn stopped before it listened; this is a bug")
        shown = f"[{bound_host}]" if family == socket.AF_INET6 else bound_host
        return f"http://{shown}:{bound_port}"

    async def drain(self) -> None:
        """Stop listening, give requests in flight the drain timeout, then drop the rest."""
        state = self._uvicorn.server_state
        for listener in self._uvicorn.servers:
            listener.close()
        for connection in list(state.connections):
            connection.shutdown()  # idle ones close now, busy ones after their answer
        if state.tasks:
            await asyncio.wait(set(state.tasks), timeout=self._options.drain_timeout_s)
        for connection in list(state.connections):
            connection.transport.abort()

    async def stop(self) -> None:
        """Let uvicorn finish; requests still unanswered were dropped by `drain`."""
        if self._task is None:
            return
        task, self._task = self._task, None
        self._uvicorn.should_exit = True
        await task
