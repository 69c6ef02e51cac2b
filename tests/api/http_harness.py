"""Run `deepguard serve`'s real server (`api.server.serve`) on 127.0.0.1 around a classifier.

The detector is built from the classifier the test hands in (the tiny model or a gated fake),
through the same `serve()` a deployment runs, and the server listens on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from api import server as http_server
from config import ImageLimits, QueueSettings, ServeSettings, Settings, VideoSettings
from core.classifier import Classifier
from core.detector import Detector


def serve_settings(
    *,
    queue: dict[str, Any] | None = None,
    images: dict[str, Any] | None = None,
    video: dict[str, Any] | None = None,
    **serve: Any,
) -> Settings:
    """Settings for a server on a free loopback port; keyword arguments are ServeSettings."""
    return Settings(
        _env_file=None,
        serve=ServeSettings(host="127.0.0.1", port=0, **serve),
        queue=QueueSettings(**{"max_batch_size": 4, "max_wait_ms": 5, **(queue or {})}),
        images=ImageLimits(**(images or {})),
        video=VideoSettings(**(video or {})),
    )


@dataclass
class Running:
    url: str
    stop: asyncio.Event
    task: asyncio.Task[None]
    session: aiohttp.ClientSession
    detectors: list[Detector] = field(default_factory=list)

    @property
    def detector(self) -> Detector:
        return self.detectors[0]

    def classify(self, data: bytes, **kwargs: Any) -> Any:
        """POST raw bytes; use as `async with running.classify(...) as response`."""
        return self.session.post(f"{self.url}/v1/classify", data=data, **kwargs)

    async def shut(self) -> None:
        """Stop the server as SIGTERM would, and wait for `serve()` to return."""
        self.stop.set()
        await self.task


@contextlib.asynccontextmanager
async def serving(settings: Settings, classifier: Classifier) -> AsyncIterator[Running]:
    """Serve `classifier` until the block exits; the server is ready when it is entered."""
    stop = asyncio.Event()
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    detectors: list[Detector] = []

    def open_detector() -> Detector:
        detector = Detector(
            classifier,
            queue=settings.queue,
            limits=settings.images,
            threshold=settings.model.threshold,
            video=settings.video,
        )
        detectors.append(detector)
        return detector

    task = asyncio.create_task(
        http_server.serve(settings, stop, open_detector, started=started.set_result)
    )
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        try:
            either: list[asyncio.Future[Any]] = [started, task]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if not started.done():
                task.result()  # serve() failed before listening: raise its error
                raise AssertionError("serve() returned without listening")
            running = Running(started.result(), stop, task, session, detectors)
            await _until_ready(running)
            yield running
        finally:
            stop.set()
            await task


async def _until_ready(running: Running) -> None:
    for _ in range(500):
        async with running.session.get(f"{running.url}/readyz") as response:
            if response.status == 200:
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the server never became ready")


def free_port() -> int:
    """A loopback port nobody listens on (for a subprocess, or to be refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
