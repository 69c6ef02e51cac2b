"""The shared service: `await detector.judge(image_bytes)` -> `Judgement`.

Adapters call it from the event loop. Decoding runs in a small thread pool before a request is
queued, so a bad upload is refused at once and never reaches a batch; the model runs in its own
thread behind the micro-batcher. Results are cached by SHA-256 of the bytes, and identical
requests that arrive together share one inference.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from types import TracebackType
from typing import Protocol, Self

from config import ImageLimits, ModelSettings, QueueSettings
from core.batching import MicroBatcher
from core.classifier import Classifier, HFClassifier
from core.errors import ImageTooLarge, InvalidImage, RequestTimeout, ShuttingDown
from core.images import decode_image, refuse_decompression_bombs
from core.preprocess import PixelArray
from core.result import Judgement, Scores, judge_scores
from core.stats import Counters

log = logging.getLogger(__name__)


class Judge(Protocol):
    """What adapters need from the core; a remote core can stand in for the local one."""

    async def judge(self, data: bytes) -> Judgement: ...

    @property
    def depth(self) -> int: ...


class Detector:
    """Judges images with one classifier, batching concurrent requests."""

    def __init__(
        self,
        classifier: Classifier,
        *,
        queue: QueueSettings,
        limits: ImageLimits,
        threshold: float = 0.5,
    ) -> None:
        refuse_decompression_bombs()
        self._classifier = classifier
        self._queue = queue
        self._limits = limits
        self.threshold = threshold
        self.counters = Counters()
        self._decoders = ThreadPoolExecutor(queue.decode_workers, "deepguard-decode")
        self._model_thread = ThreadPoolExecutor(1, "deepguard-model")
        self._batcher: MicroBatcher[PixelArray, Scores] = MicroBatcher(
            self._predict,
            max_batch_size=queue.max_batch_size,
            max_wait_s=queue.max_wait_ms / 1000,
            max_pending=queue.max_pending,
            executor=self._model_thread,
            counters=self.counters,
        )
        self._cache: OrderedDict[str, Judgement] = OrderedDict()
        self._in_flight: dict[str, _Shared] = {}
        self._closing = False

    @classmethod
    @asynccontextmanager
    async def open(
        cls, model: ModelSettings, queue: QueueSettings, limits: ImageLimits
    ) -> AsyncIterator[Detector]:
        """Load the model off the event loop and serve until the block exits."""
        classifier = await asyncio.to_thread(HFClassifier.load, model)
        async with cls(
            classifier, queue=queue, limits=limits, threshold=model.threshold
        ) as detector:
            yield detector

    async def __aenter__(self) -> Self:
        self._batcher.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop taking requests; answer queued ones within the drain timeout, fail the rest."""
        self._closing = True
        await self._batcher.close(self._queue.drain_timeout_s)
        self._decoders.shutdown(wait=False, cancel_futures=True)
        self._model_thread.shutdown(wait=False, cancel_futures=True)
        log.info("detector closed: %s", self.counters.snapshot())

    @property
    def depth(self) -> int:
        """Requests queued or in the model now; adapters use it to warn of a wait."""
        return self._batcher.depth

    async def judge(self, data: bytes) -> Judgement:
        """Judge one image; raises a `DeepGuardError` subclass for every expected failure."""
        self.counters.requests += 1
        if self._closing:
            raise ShuttingDown()
        if len(data) > self._limits.max_bytes:
            self.counters.invalid += 1
            raise ImageTooLarge(
                f"the file is too large (limit {self._limits.max_bytes // 2**20} MB)"
            )
        digest = hashlib.sha256(data).hexdigest()
        cached = self._cache_get(digest)
        if cached is not None:
            return cached
        try:
            async with asyncio.timeout(self._queue.request_timeout_s):
                return await self._shared(digest, data)
        except TimeoutError:
            self.counters.timeouts += 1
            raise RequestTimeout() from None

    async def _shared(self, digest: str, data: bytes) -> Judgement:
        shared = self._in_flight.get(digest)
        if shared is None:
            task = asyncio.create_task(self._infer(digest, data))
            shared = self._in_flight[digest] = _Shared(task)
            task.add_done_callback(lambda done: self._forget(digest, done))
        else:
            self.counters.shared += 1
        return await shared.wait()

    def _forget(self, digest: str, task: asyncio.Task[Judgement]) -> None:
        self._in_flight.pop(digest, None)
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter may have left before it failed

    async def _infer(self, digest: str, data: bytes) -> Judgement:
        loop = asyncio.get_running_loop()
        try:
            pixels = await loop.run_in_executor(self._decoders, self._decode, data)
        except InvalidImage:
            self.counters.invalid += 1
            raise
        batched = await self._batcher.submit(pixels, self._queue.request_timeout_s)
        judgement = judge_scores(
            batched.value, self.threshold, digest, batched.queue_ms, batched.model_ms
        )
        log.debug(
            "judged %s: fake=%.3f queue=%.1fms model=%.1fms batch=%d",
            digest[:12],
            judgement.fake_probability,
            batched.queue_ms,
            batched.model_ms,
            batched.batch_size,
        )
        self._cache_put(digest, judgement)
        return judgement

    def _decode(self, data: bytes) -> PixelArray:
        return self._classifier.prepare(decode_image(data, self._limits))

    def _predict(self, batch: Sequence[PixelArray]) -> list[Scores]:
        return self._classifier.predict(batch)

    def _cache_get(self, digest: str) -> Judgement | None:
        judgement = self._cache.get(digest)
        if judgement is None:
            return None
        self._cache.move_to_end(digest)
        self.counters.cache_hits += 1
        return replace(judgement, cached=True, queue_ms=0.0, model_ms=0.0)

    def _cache_put(self, digest: str, judgement: Judgement) -> None:
        if self._queue.cache_size == 0:
            return
        self._cache[digest] = judgement
        self._cache.move_to_end(digest)
        while len(self._cache) > self._queue.cache_size:
            self._cache.popitem(last=False)


class _Shared:
    """One inference awaited by every identical request; cancelled when all have left."""

    def __init__(self, task: asyncio.Task[Judgement]) -> None:
        self._task = task
        self._waiters = 0

    async def wait(self) -> Judgement:
        self._waiters += 1
        try:
            return await asyncio.shield(self._task)
        finally:
            self._waiters -= 1
            if self._waiters == 0 and not self._task.done():
                self._task.cancel()
