"""`deepguard serve --ray`: the classifier as a Ray Serve deployment, with the same HTTP contract.

Ray does the scaling: `@serve.batch` groups concurrent requests of a replica into one model
call, the autoscaler keeps between `ray_min_replicas` and `ray_max_replicas` replicas (each
reserving `ray_cpus_per_replica` CPUs and `ray_gpus_per_replica` GPUs), and Ray's proxy refuses
requests past `ray_max_queued_requests` with 429 and Retry-After. Each replica answers
`POST /v1/classify` with the JSON and status codes of `deepguard serve` (`api.wire`), so the
remote core works against either. Prometheus metrics come from Ray's own exporter, not /metrics.

Ray is an optional extra (`pip install 'deepguard[ray]'`), imported only in these functions.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from api.ray_replica import replica_class
from config import Settings

log = logging.getLogger(__name__)

APP_NAME = "deepguard"
EXIT_OK = 0


def application(settings: Settings) -> Any:
    """The Ray Serve application (`Deployment.bind()`), configured from `settings`."""
    from ray import serve

    options = settings.serve
    replica = replica_class(settings.queue.max_batch_size, settings.queue.max_wait_ms / 1000)
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
    )(replica)
    token = options.token.get_secret_value() if options.token else None
    return deployment.bind(settings.model, settings.images, token, options.retry_after_s)


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
