"""`deepguard serve --ray`: the app of `deepguard serve` as a Ray Serve deployment.

Each replica serves the same ASGI app (`api.app`) through `serve.ingress`, over a `Detector`
of its own, opened when the replica starts and drained when Ray stops it: every replica has
the cache, single-flight, micro-batching, counters and `/metrics`, and answers exactly what
`deepguard serve` answers, so the remote core works against either. Ray does the scaling: the
autoscaler keeps between `ray_min_replicas` and `ray_max_replicas` replicas (each reserving
`ray_cpus_per_replica` CPUs and `ray_gpus_per_replica` GPUs), and Ray's proxy refuses requests
past `ray_max_queued_requests` with 429 and Retry-After.

Ray is an optional extra (`pip install 'deepguard[ray]'`), imported only in these functions.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api.app import InferenceAPI, create_app
from api.metrics import Metrics
from config import Settings
from core.detector import Detector

log = logging.getLogger(__name__)

APP_NAME = "deepguard"
EXIT_OK = 0


class Replica:
    """One replica: the inference app, judging with a Detector opened in the replica."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._api = InferenceAPI(settings, Metrics())

    def __serve_build_asgi_app__(self) -> FastAPI:
        """Called by Ray in the replica, after `__init__`; Ray then runs the app's lifespan."""
        return create_app(self._api, lifespan=self._lifespan)

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        settings = self._settings
        async with Detector.open(
            settings.model, settings.queue, settings.images, settings.provenance, settings.video
        ) as detector:
            self._api.attach(detector, detector.counters)
            try:
                yield
            finally:
                self._api.close()


def application(settings: Settings) -> Any:
    """The Ray Serve application (`Deployment.bind()`), configured from `settings`."""
    from ray import serve

    options = settings.serve
    deployment = serve.deployment(
        name=APP_NAME,
        ray_actor_options={
            "num_cpus": options.ray_cpus_per_replica,
            "num_gpus": options.ray_gpus_per_replica,
        },
        autoscaling_config={
            "min_replicas": options.ray_min_replicas,
            "max_replicas": options.ray_max_replicas,
            "target_ongoing_requests": options.ray_target_ongoing_requests,
        },
        max_ongoing_requests=options.ray_max_ongoing_requests,
        max_queued_requests=options.ray_max_queued_requests,
        backpressure_config={"status_code": 429, "retry_after_s": options.retry_after_s},
        graceful_shutdown_timeout_s=options.drain_timeout_s,
    )(serve.ingress()(Replica))
    return deployment.bind(settings)


def deploy(settings: Settings) -> None:
    """Start Serve's proxy on `serve.host:port` and deploy; Ray must be initialised."""
    from ray import serve

    serve.start(http_options={"host": settings.serve.host, "port": settings.serve.port})
    serve.run(application(settings), name=APP_NAME, route_prefix="/")


def run(settings: Settings) -> int:
    """Join (or start) Ray, deploy, and serve until SIGTERM or SIGINT."""
    import ray
    from ray import serve

    ray.init(address=settings.serve.ray_address)
    stop = _stop_on_signal()  # after ray.init, whose own handlers would end the process at once
    try:
        deploy(settings)
        log.info("Ray Serve listening on http://%s:%d", settings.serve.host, settings.serve.port)
        while not stop.wait(1.0):
            pass
        log.info("stopping: replicas get %.0f s to finish", settings.serve.drain_timeout_s)
        serve.shutdown()
    finally:
        ray.shutdown()
    return EXIT_OK


def _stop_on_signal() -> threading.Event:
    """An event set by SIGTERM or SIGINT, so a stop during deployment is not lost either."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop
