"""The shared service: `await detector.judge(upload_bytes)` -> `Judgement`.

Adapters call it from the event loop. Decoding runs in a small thread pool before a request is
queued, so a bad upload is refused at once and never reaches a batch; the model runs in its own
thread behind the micro-batcher (several models: a thread and a batcher each, `core.ensemble`,
their answers combined). What the bytes declare about themselves (Content Credentials,
metadata) is read in the same decode thread and joins the model's scores in the verdict
(`core.result.decide`). Results are cached by SHA-256 of the bytes (and, when
`near_duplicate_distance` is set, by a perceptual hash of the model's input, so re-encoded
copies hit too), and identical requests that arrive together share one inference. Outcomes
are counted once per caller.

An animation or a video is one request: its sampled frames go through the same batchers as
images (sharing batches with other requests; each frame is one input per model, combined per
frame as for a still image), identical frames, in a clip or across clips in
flight, are judged once, and `core.clips` makes the clip's answer from theirs.

`explain` answers "why?" for one image: decoded and refused as `judge` would, then one model
run alone on the first model's thread (between batches; an ensemble explains with its first
model), giving the map of `core.explain` and, when
asked, its picture (`core.heatmap`). Explaining is rare and never cached; identical requests in
flight share one run. A clip is explained by its most suspicious sampled frame, the one its
judgement names: the clip is judged as usual (a press of "Why?" under a reply finds it in the
cache), then that one frame is decoded again (`core.decoding.clip_frame`) and explained.

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

from cachetools import LRUCache

from config import ImageLimits, ModelSettings, ProvenanceSettings, QueueSettings, VideoSettings
from core.batching import Batched
from core.clips import FrameWaits, clip_judgement
from core.decoding import Decoder, Picture
from core.ensemble import Lanes, Member, load_members
from core.errors import (
    DeepGuardError,
    ExplanationUnavailable,
    ModelError,
    RequestTimeout,
    ShuttingDown,
)
from core.explain import Explainer, Explanation, FrameShown, PatchMap
from core.heatmap import backdrop, painted_png
from core.images import refuse_decompression_bombs
from core.kinds import HEAD_BYTES, check_upload_size, kind_of
from core.provenance.reader import ProvenanceReader
from core.result import Clip, Evidence, Judgement, Media, Scores, judge_scores
from core.sampling import ClipFrame, DecodedClip, SampledFrame
from core.sharing import ScoreMemory, SingleFlight
from core.stats import Counters

if TYPE_CHECKING:  # the model stack (torch) is imported by `Detector.open` only
    from core.classifier import Classifier

__all__ = ["Detector", "Judge"]

log = logging.getLogger(__name__)


class Judge(Protocol):
    """What adapters need from the core; a remote core can stand in for the local one."""

    async def judge(self, data: bytes) -> Judgement: ...

    async def explain(self, data: bytes, *, legend: str | None = None) -> Explanation:
        """Where the model saw evidence; with `legend`, the explanation carries its PNG."""
        ...

    @property
    def depth(self) -> int: ...


class Detector:
    """Judges images and clips with one classifier (or several together), batching requests."""

    def __init__(
        self,
        classifier: Classifier[Any] | Sequence[Member],
        *,
        queue: QueueSettings,
        limits: ImageLimits,
        threshold: float = 0.5,
        provenance: ProvenanceSettings | None = None,
        video: VideoSettings | None = None,
    ) -> None:
        refuse_decompression_bombs()
        provenance = provenance or ProvenanceSettings()
        members = classifier if isinstance(classifier, Sequence) else [Member("model", classifier)]
        self._queue = queue
        self._limits = limits
        self._video = video or VideoSettings()
        self.threshold = threshold
        self.declared_ai_is_fake = provenance.declared_ai_is_fake
        self.counters = Counters()
        self._memory = ScoreMemory(queue.cache_size, queue.near_duplicate_distance)
        # A clip's answer holds its frames too; kept apart so images keep ScoreMemory's shape.
        self._clips: LRUCache[str, Judgement] | None = (
            LRUCache(queue.cache_size) if queue.cache_size else None
        )
        self._lanes = Lanes(members, queue, self.counters)
        self._decoder = Decoder(
            [member.classifier for member in self._lanes.members],
            limits,
            queue.decode_workers,
            hashes=self._memory.hashes,
            provenance=ProvenanceReader(provenance),
            video=self._video,
        )
        self._flights: SingleFlight[str, Judgement] = SingleFlight()
        self._frame_flights: SingleFlight[str, Batched[Scores]] = SingleFlight()
        self._explanations: SingleFlight[tuple[str, str | None], Explanation] = SingleFlight()
        self._closing = False

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        model: ModelSettings,
        queue: QueueSettings,
        limits: ImageLimits,
        provenance: ProvenanceSettings,
        video: VideoSettings | None = None,
    ) -> AsyncIterator[Detector]:
        """Load the model (or models) off the event loop and serve until the block exits."""
        members = await asyncio.to_thread(load_members, model)
        async with cls(
            members,
            queue=queue,
            limits=limits,
            threshold=model.threshold,
            provenance=provenance,
            video=video,
        ) as detector:
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
        if self._flights.tasks or self._explanations.tasks:
            await asyncio.wait(self._in_flight(), timeout=self._queue.drain_timeout_s)
        await self._lanes.close(max(0.0, deadline - loop.time()))
        # Still decoding: their callers get ShuttingDown (see `core.sharing`).
        leftovers: set[asyncio.Task[Judgement | Explanation | Batched[Scores]]] = {
            *self._in_flight(),
            *self._frame_flights.tasks,
        }
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        self._decoder.shutdown()
        log.info("detector closed: %s", self.counters.snapshot())

    def _in_flight(self) -> set[asyncio.Task[Judgement] | asyncio.Task[Explanation]]:
        """Every task still running: judgements, explanations (a clip's frames belong to one)."""
        return {*self._flights.tasks, *self._explanations.tasks}

    @property
    def depth(self) -> int:
        """Requests queued or in the model now; adapters use it to warn of a wait."""
        return self._lanes.depth

    async def judge(self, data: bytes) -> Judgement:
        """Judge one upload; raises a `DeepGuardError` subclass for every expected failure."""
        self.counters.requests += 1
        try:
            return await self._judge(data)
        except DeepGuardError as error:
            self.counters.record_failure(error)
            raise

    async def _judge(self, data: bytes) -> Judgement:
        if self._closing:
            raise ShuttingDown()
        check_upload_size(len(data), data[:HEAD_BYTES], self._limits, self._video)
        digest = hashlib.sha256(data).hexdigest()
        remembered = self._memory.get(digest)
        if remembered is not None:
            self.counters.cache_hits += 1
            judgement = self._judgement(remembered.scores, digest, remembered.provenance)
            return replace(judgement, cached=True)
        clip = None if self._clips is None else self._clips.get(digest)
        if clip is not None:
            self.counters.cache_hits += 1
            again = self._judgement(clip.scores, digest, clip.provenance, clip=clip.clip)
            return replace(again, cached=True)
        flight, joined = self._flights.join(digest, lambda: self._infer(digest, data))
        if joined:
            self.counters.shared += 1
        try:
            async with asyncio.timeout(self._queue.request_timeout_s):
                return await flight.wait()
        except TimeoutError:
            raise RequestTimeout() from None

    async def _infer(self, digest: str, data: bytes) -> Judgement:
        waits = FrameWaits(self._frame)  # a clip's frames start as they decode
        try:
            decoded, provenance = await self._decoder.decode(data, waits.start)
        except BaseException:
            waits.abandon()
            raise
        if isinstance(decoded, DecodedClip):
            return await self._infer_clip(digest, decoded, provenance, waits)
        return await self._infer_picture(digest, decoded, provenance)

    async def _infer_picture(
        self, digest: str, picture: Picture, provenance: tuple[Evidence, ...]
    ) -> Judgement:
        seen = self._memory.find_near(digest, picture.key, provenance)
        if seen is not None:
            self.counters.cache_hits += 1
            return replace(self._judgement(seen, digest, provenance), cached=True)
        batched = await self._lanes.submit(picture.inputs, self._queue.request_timeout_s)
        self._memory.put(digest, picture.key, batched.value, provenance)
        log.debug(
            "judged %s: fake=%.3f queue=%.1fms model=%.1fms batch=%d",
            digest[:12],
            batched.value.fake_probability,
            batched.queue_ms,
            batched.model_ms,
            batched.batch_size,
        )
        return self._judgement(
            batched.value, digest, provenance, batched.queue_ms, batched.model_ms
        )

    async def _infer_clip(
        self,
        digest: str,
        decoded: DecodedClip,
        provenance: tuple[Evidence, ...],
        waits: FrameWaits,
    ) -> Judgement:
        scored = await waits.results(len(decoded.frames))
        judgement = clip_judgement(
            decoded,
            scored,
            self.threshold,
            digest,
            provenance=provenance,
            declared_ai_is_fake=self.declared_ai_is_fake,
        )
        if self._clips is not None:
            self._clips[digest] = judgement
        log.debug(
            "judged %s: %s of %d frames (%d planned), fake=%.3f",
            digest[:12],
            decoded.media.value,
            len(decoded.frames),
            decoded.planned,
            judgement.fake_probability,
        )
        return judgement

    async def _frame(self, frame: SampledFrame) -> Batched[Scores]:
        """One sampled frame through the lanes, shared with identical frames in flight."""
        flight, _ = self._frame_flights.join(
            frame.digest,
            lambda: self._lanes.submit(frame.pixels, self._queue.request_timeout_s),
        )
        return await flight.wait()

    def _judgement(
        self,
        scores: Scores,
        digest: str,
        provenance: tuple[Evidence, ...],
        queue_ms: float = 0.0,
        model_ms: float = 0.0,
        *,
        clip: Clip | None = None,
    ) -> Judgement:
        return judge_scores(
            scores,
            self.threshold,
            digest,
            queue_ms,
            model_ms,
            provenance=provenance,
            declared_ai_is_fake=self.declared_ai_is_fake,
            clip=clip,
        )

    async def explain(self, data: bytes, *, legend: str | None = None) -> Explanation:
        """Where the model saw AI-like and real-like evidence in one image, or a clip's frame.

        With `legend`, the explanation carries its picture: a PNG with that legend under it.
        Raises a `DeepGuardError` subclass for every expected failure, `ExplanationUnavailable`
        when this model and backend cannot explain.
        """
        if self._closing:
            raise ShuttingDown()
        check_upload_size(len(data), data[:HEAD_BYTES], self._limits, self._video)
        explainer = self._lanes.members[0].classifier
        if not isinstance(explainer, Explainer):
            raise ExplanationUnavailable()
        digest = hashlib.sha256(data).hexdigest()
        flight, _ = self._explanations.join(
            (digest, legend), lambda: self._explain(explainer, digest, data, legend)
        )
        try:
            async with asyncio.timeout(self._queue.request_timeout_s):
                return await flight.wait()
        except TimeoutError:
            raise RequestTimeout() from None

    async def _explain(
        self, explainer: Explainer, digest: str, data: bytes, legend: str | None
    ) -> Explanation:
        kind = kind_of(data)
        media, frame = Media.IMAGE, None
        if kind is not None and kind.media is not Media.IMAGE:
            media = kind.media
            clip_frame, pixels = await self._most_suspicious_frame(data)
            image, frame = clip_frame.image, FrameShown(clip_frame.index, clip_frame.time_s)
        else:
            image, pixels = await self._decoder.decode_picture(data)
        loop = asyncio.get_running_loop()
        # The picture's backdrop (the photo shrunk and greyed, the legend) is made while the
        # model runs: ~30 ms of a 12 MP photo off the explanation's time.
        ground = None if legend is None else loop.run_in_executor(None, backdrop, image, legend)
        started = loop.time()
        try:
            scores, patches = await self._lanes.run_first(
                _explained, explainer, pixels, image.size
            )
        except BaseException:
            if ground is not None:
                ground.cancel()
            raise
        model_ms = (loop.time() - started) * 1000
        png = (
            None if ground is None else await asyncio.to_thread(painted_png, await ground, patches)
        )
        log.debug(
            "explained %s: fake=%.3f %s map %dx%d model=%.1fms",
            digest[:12],
            scores.fake_probability,
            patches.method.value,
            patches.rows,
            patches.cols,
            model_ms,
        )
        return Explanation(digest, scores, patches, png, media, frame)

    async def _most_suspicious_frame(self, data: bytes) -> tuple[ClipFrame, Any]:
        """The frame a clip's judgement names as most suspicious, and the first model's input."""
        judgement = await self.judge(data)
        if judgement.clip is None:
            log.error("a clip was judged as a still image; this is a bug")
            raise ModelError()
        return await self._decoder.decode_frame(data, judgement.clip.most_suspicious.index)


def _explained(
    explainer: Explainer, pixels: Any, size: tuple[int, int]
) -> tuple[Scores, PatchMap]:
    """Run in the model thread; an unexpected failure is logged once and is the model's."""
    try:
        return explainer.explain(pixels, size)
    except DeepGuardError:
        raise
    except Exception as exc:
        log.exception("explaining a %dx%d image failed", *size)
        raise ModelError() from exc
