"""Run `deepguard serve`: listen, load the model, answer until a signal, then drain and close.

Shutdown, in order: new classify requests get 503 and `/readyz` fails (a load balancer stops
sending); the listening socket closes; requests in flight get `serve.drain_timeout_s` to be
answered while the detector still runs; then the detector drains its own queue and closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from aiohttp import web

from api.app import InferenceAPI
from api.metrics import Metrics
from config import Settings
from core.detector import Detector

log = logging.getLogger(__name__)

# After refusing an upload unread (413, 429), the rest of its body is read and dropped this
# long so the client sees the answer; aiohttp's 10 s default also outlives a client that hung up.
LINGER_S = 1.0

OpenDetector = Callable[[], AbstractAsyncContextManager[Detector]]


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    open_detector: OpenDetector,
    *,
    started: Callable[[str], None] | None = None,
) -> None:
    """Answer HTTP on `settings.serve.host:port` until `stop` is set; `started` gets the URL."""
    api = InferenceAPI(settings, Metrics())
    server = _Server(api.application(), settings.serve.drain_timeout_s)
    try:
        url = await server.start(settings.serve.host, settings.serve.port)
        log.info("inference API listening on %s (model loading)", url)
        if started is not None:
            started(url)
        async with open_detector() as detector:
            api.attach(detector, detector.counters)
            log.info("inference API ready on %s", url)
            await stop.wait()
            log.info("stopping: %d requests in flight", api.in_flight)
            api.close()
            await server.stop()
    finally:
        await server.stop()


class _Server:
    """An `AppRunner` with one TCP site, stopped at most once."""

    def __init__(self, app: web.Application, drain_timeout_s: float) -> None:
        self._runner = web.AppRunner(
            app, shutdown_timeout=drain_timeout_s, access_log=None, lingering_time=LINGER_S
        )
        self._started = False

    async def start(self, host: str, port: int) -> str:
        await self._runner.setup()
        self._started = True
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        return f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        """Close the socket and wait (up to the drain timeout) for requests in flight."""
        if self._started:
            self._started = False
            await self._runner.cleanup()
