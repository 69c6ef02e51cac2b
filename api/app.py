"""`deepguard serve`'s routes: classify an image, probes, metrics and the OpenAPI document.

The server listens before the model is loaded, so probes answer meanwhile (`/readyz` 503);
`attach` hands in the detector once it is ready. Load is refused at the door: past
`max_in_flight` requests, or with the detector's queue full, a request gets 429 before its body
is read, so memory stays bounded (about `max_in_flight` images) and a refusal costs no model time.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from api.guard import guard
from api.metrics import CONTENT_TYPE, Metrics
from api.openapi import document
from api.upload import body_limit, check_declared_size, extract_image, read_capped
from api.wire import CLASSIFY_PATH, Unavailable, judgement_to_json
from config import Settings
from core.detector import Judge
from core.errors import Overloaded, ShuttingDown
from core.stats import Counters

log = logging.getLogger(__name__)


class InferenceAPI:
    """The handlers of one server; built once, with its settings and metrics passed in."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self._serve = settings.serve
        self._limits = settings.images
        # The queue's places plus the batch in the model: past that, the core refuses too.
        self._capacity = settings.queue.max_pending + settings.queue.max_batch_size
        self._metrics = metrics
        self._judge: Judge | None = None
        self._closing = False
        self.in_flight = 0

    def attach(self, judge: Judge, counters: Counters | None = None) -> None:
        """Start judging with `judge`; `counters` (a Detector's) feed `/metrics`."""
        self._metrics.watch(lambda: judge.depth, counters)
        self._judge = judge

    def close(self) -> None:
        """Refuse new classify requests (503) and fail `/readyz`; those in flight go on."""
        self._closing = True

    def application(self) -> web.Application:
        app = web.Application(
            client_max_size=body_limit(self._limits),
            middlewares=[guard(self._serve, self._metrics)],
        )
        app.router.add_post(CLASSIFY_PATH, self.classify)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/openapi.json", self.openapi)
        return app

    async def classify(self, request: web.Request) -> web.Response:
        judge = self._admit()
        self.in_flight += 1
        self._metrics.in_flight.inc()
        try:
            check_declared_size(request.content_length, self._limits)
            body = await read_capped(request.content, self._limits)
            image = extract_image(request.headers.get("Content-Type", ""), body, self._limits)
            del body  # a form's copy; keep one copy of the image per request, not two
            judgement = await judge.judge(image)
        finally:
            self.in_flight -= 1
            self._metrics.in_flight.dec()
        self._metrics.judged(judgement)
        return web.json_response(judgement_to_json(judgement))

    def _admit(self) -> Judge:
        """Refuse at once what cannot be served; the body is not read then."""
        if self._closing:
            raise ShuttingDown()
        if self._judge is None:
            raise Unavailable()
        if self.in_flight >= self._serve.max_in_flight or self._judge.depth >= self._capacity:
            raise Overloaded()
        return self._judge

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(self, request: web.Request) -> web.Response:
        status = self._readiness()
        body = {"status": status, "depth": self._judge.depth if self._judge else 0}
        return web.json_response(body, status=200 if status == "ready" else 503)

    def _readiness(self) -> str:
        if self._closing:
            return "stopping"
        if self._judge is None:
            return "loading"
        full = self._judge.depth >= self._serve.ready_queue_fill * self._capacity
        if full or self.in_flight >= self._serve.max_in_flight:
            return "saturated"
        return "ready"

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(document(_version()))


def _version() -> str:
    try:
        return version("deepguard")
    except PackageNotFoundError:
        return "0"
