"""Detectors around fakes for the core tests: `make_detector(model, threshold=..., limits=...,
video=..., **queue)` starts one; afterwards every model's gates open and the detectors close."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from config import ImageLimits, QueueSettings, VideoSettings
from core.detector import Detector
from tests.fakes import FakeClassifier

DetectorFactory = Callable[..., Awaitable[Detector]]


@contextlib.asynccontextmanager
async def detectors() -> AsyncIterator[DetectorFactory]:
    models: list[FakeClassifier] = []
    async with contextlib.AsyncExitStack() as stack:

        async def make(
            model: FakeClassifier,
            *,
            threshold: float = 0.5,
            limits: ImageLimits | None = None,
            video: VideoSettings | None = None,
            **queue: Any,
        ) -> Detector:
            options: dict[str, Any] = {"max_batch_size": 4, "max_wait_ms": 5, **queue}
            detector = Detector(
                model,
                queue=QueueSettings(**options),
                limits=limits or ImageLimits(),
                threshold=threshold,
                video=video,
            )
            models.append(model)
            return await stack.enter_async_context(detector)

        try:
            yield make
        finally:
            for model in models:
                model.gate.open()
                model.prepare_gate.open()
