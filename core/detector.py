"""The shared service: `await detector.judge(image_bytes)` -> `Judgement`.

Adapters call it from the event loop. Decoding runs in a small thread pool before a request is
queued, so a bad upload is refused at once and never reaches a batch; the model runs in its own
thread behind the micro-batcher (several models: a thread and a batcher each, `core.ensemble`).
Results are cached by SHA-256 of the bytes (and, when `near_duplicate_distance` is set, by a
perceptual hash of the model's input, so re-encoded copies hit too), and identical requests
that arrive together share one inference. Outcomes are counted once per caller.

Shutdown, in order: refuse new requests; let accepted ones (decoding or queued) finish within
`drain_timeout_s`; then fail whatever is left with `ShuttingDown`, so no caller hangs and no
task outlives `close()`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from config import ImageLimits, ModelSettings, QueueSettings
from core.decoding import Decoder, draft_size
from core.ensemble import Lanes, Member, load_members
from core.errors import DeepGuardError, RequestTimeout, ShuttingDown
from core.images import check_byte_size, refuse_decompression_bombs
from core.memory import ScoreMemory
from core.result import Judgement, judge_scores
from core.sharing import SingleFlight
from core.stats import Counters

if TYPE_CHECKING:  # the model stack (torch) is imported by `Detector.open` only
    from core.classifier import Classifier

__all__ = ["Detector", "Judge", "draft_size"]

log = logging.getLogger(__name__)


class Judge(Protocol):
    """What adapters need from the core; a remote core can stand in for the local one."""

    async def judge(self, data: bytes) -> Judgement: ...

    @property
    def depth(self) -> int: ...


class Detector:
    """Judges images with one classifier (or several together), batching concurrent requests."""

    def __init__(
        self,
        classifier: Classifier[Any] | Sequence[Member],
        *,
        queue: QueueSettings,
        limits: ImageLimits,
        threshold: float = 0.5,
    ) -> None:
        refuse_decompression_bombs()
        members = classifier if isinstance(classifier, Sequence) else [Member("model", classifier)]
        self._queue = queue
        self._limits = limits
        self.threshold = threshold
        self.counters = Counters()
        self._memory = ScoreMemory(queue.cache_size, queue.near_duplicate_distance)
        self._lanes = Lanes(members, queue, self.counters)
        self._decoder = Decoder(
            [member.classifier for member in self._lanes.members],
            limits,
            queue.decode_workers,
            hashes=self._memory.hashes,
        )
        self._flights: SingleFlight[str, Judgement] = SingleFlight()
        self._closing = False

    @classmethod
    @asynccontextmanager
    async def open(
        cls, model: ModelSettings, queue: QueueSettings, limits: ImageLimits
    ) -> AsyncIterator[Detector]:
        """Load the model (or models) off the event loop and serve until the block exits."""
        members = await asyncio.to_thread(load_members, model)
        async with cls(members, queue=queue, limits=limits, threshold=model.threshold) as detector:
            yield detector

    async def __aenter__(self) -> Self:
        self._lanes.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop taking requests; answer accepted ones within the drain timeout, fail the rest."""
        self._closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._queue.drain_timeout_s
        if self._flights.tasks:
            await asyncio.wait(set(self._flights.tasks), timeout=self._queue.drain_timeout_s)
        await self._lanes.close(max(0.0, deadline - loop.time()))
        # Still decoding: their callers get ShuttingDown (see `core.sharing`).
        leftovers = set(self._flights.tasks)
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        self._decoder.shutdown()
        log.info("detector closed: %s", self.counters.snapshot())

    @property
    def depth(self) -> int:
        """Requests queued or in the model now; adapters use it to warn of a wait."""
        return self._lanes.depth

    async def judge(self, data: bytes) -> Judgement:
        """Judge one image; raises a `DeepGuardError` subclass for every expected failure."""
        self.counters.requests += 1
        try:
            return await self._judge(data)
        except DeepGuardError as error:
            self.counters.record_failure(error)
            raise

    async def _judge(self, data: bytes) -> Judgement:
        if self._closing:
            raise ShuttingDown()
        check_byte_size(len(data), self._limits)
        digest = hashlib.sha256(data).hexdigest()
        scores = self._memory.get(digest)
        if scores is not None:
            self.counters.cache_hits += 1
            return replace(judge_scores(scores, self.threshold, digest), cached=True)
        flight, joined = self._flights.join(digest, lambda: self._infer(digest, data))
        if joined:
            self.counters.shared += 1
        try:
            async with asyncio.timeout(self._queue.request_timeout_s):
                return await flight.wait()
        except TimeoutError:
            raise RequestTimeout() from None

    async def _infer(self, digest: str, data: bytes) -> Judgement:
        prepared, key = await self._decoder.decode(data)
        seen = self._memory.find_near(digest, key)
        if seen is not None:
            self.counters.cache_hits += 1
            return replace(judge_scores(seen, self.threshold, digest), cached=True)
        batched = await self._lanes.submit(prepared, self._queue.request_timeout_s)
        self._memory.put(digest, key, batched.value)
        log.debug(
            "judged %s: fake=%.3f queue=%.1fms model=%.1fms batch=%d",
            digest[:12],
            batched.value.fake_probability,
            batched.queue_ms,
            batched.model_ms,
            batched.batch_size,
        )
        return judge_scores(
            batched.value, self.threshold, digest, batched.queue_ms, batched.model_ms
        )
