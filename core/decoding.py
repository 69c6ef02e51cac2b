"""Upload bytes to model input, in a thread pool of its own, before a request is queued.

A still image becomes one `Picture`; an animation or a video becomes a `DecodedClip` of
sampled frames (`core.kinds` tells which, from the bytes). A bad upload is refused here at
once and never reaches a batch. The same thread first reads what the original bytes declare
about themselves (`core.provenance`), before any pixel is decoded: the cheap part of the job,
and the one that needs the bytes exactly as sent. A picture or frame is decoded once and
prepared for each model (several models judge together in `core.ensemble`).

Explaining a clip shows one of its frames: `clip_frame` decodes it the way sampling reached it
(`core.animation` steps to it, `core.video` seeks and decodes on), under the same caps; the
decode budget bounds the video's index scan, and the frame itself is always decoded, as a
clip's first sampled frame is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from PIL import Image

from config import ImageLimits, VideoSettings
from core.animation import animation_frame, decode_animation
from core.errors import N_, DamagedClip, ModelError
from core.images import decode_image
from core.kinds import kind_of
from core.near_duplicates import perceptual_hash
from core.preprocess import hash_picture
from core.provenance.reader import ProvenanceReader
from core.result import Evidence, Media
from core.sampling import Budget, ClipFrame, Clock, DecodedClip, FrameSink, SampledFrame
from core.video import decode_video, video_frame

if TYPE_CHECKING:  # the model stack (torch) is imported by `Detector.open` only
    from core.classifier import Classifier

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Picture:
    """A still image as each model's input, and its perceptual hash when near-duplicates are on."""

    inputs: tuple[Any, ...]  # one per classifier, in the configured order
    key: int | None


Decoded = Picture | DecodedClip
OnFrame = Callable[[SampledFrame], None]


class Decoder:
    """Decodes images and clips off the event loop and prepares them for each classifier."""

    def __init__(
        self,
        classifiers: Sequence[Classifier[Any]],
        limits: ImageLimits,
        workers: int,
        *,
        hashes: bool,
        provenance: ProvenanceReader,
        video: VideoSettings | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._classifiers = tuple(classifiers)
        self._limits = limits
        self._video = video or VideoSettings()
        self._hashes = hashes
        self._provenance = provenance
        self._clock = clock
        self._draft = _largest_draft(self._classifiers) if limits.fast_decode else None
        self._pool = ThreadPoolExecutor(workers, "deepguard-decode")

    async def decode(
        self, data: bytes, on_frame: OnFrame | None = None
    ) -> tuple[Decoded, tuple[Evidence, ...]]:
        """What the bytes declare, and each model's input of a still image or a clip's frames.

        `on_frame` is called on the event loop with each sampled frame of a clip as soon as it
        is ready, before the next one decodes, and always before this returns.
        """
        loop = asyncio.get_running_loop()
        emit = None if on_frame is None else partial(_hand_over, loop, on_frame)
        return await loop.run_in_executor(self._pool, self._decode, data, emit)

    async def decode_picture(self, data: bytes) -> tuple[Image.Image, Any]:
        """The decoded picture and the first model's input, decoded as for judging (for
        explanations, which the first model gives)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._decode_picture, data)

    async def decode_frame(self, data: bytes, index: int) -> tuple[ClipFrame, Any]:
        """Frame `index` of a clip and the first model's input (for explanations)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._decode_frame, data, index)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _decode(self, data: bytes, emit: OnFrame | None) -> tuple[Decoded, tuple[Evidence, ...]]:
        """Run in a decode thread; the clip's budget starts when the thread takes it up."""
        provenance = self._provenance.read(data)
        kind = kind_of(data)
        if kind is None or kind.media is Media.IMAGE:
            # Unknown bytes too: the image decoder says whether they are cut short or foreign.
            inputs, key = self.prepare(decode_image(data, self._limits, self._draft))
            return Picture(inputs, key), provenance
        budget = Budget(self._video.decode_budget_s, self._clock)
        sink = FrameSink(self._prepare, emit)
        decode = decode_animation if kind.media is Media.ANIMATION else decode_video
        return decode(data, kind.decoder, self._limits, self._video, sink, budget), provenance

    def _decode_picture(self, data: bytes) -> tuple[Image.Image, Any]:
        image = decode_image(data, self._limits, self._draft)
        return image, self._prepare(image)[0]

    def _decode_frame(self, data: bytes, index: int) -> tuple[ClipFrame, Any]:
        frame = clip_frame(data, index, self._limits, self._video, self._clock)
        return frame, self._prepare(frame.image)[0]

    def _prepare(self, image: Image.Image) -> tuple[Any, ...]:
        return self.prepare(image, hashed=False)[0]

    def prepare(
        self, image: Image.Image, *, hashed: bool = True
    ) -> tuple[tuple[Any, ...], int | None]:
        """Each classifier's input for a decoded picture (blocking: in a decode thread).

        A failing processor is the model's failure, not the user's. The hash (when
        near-duplicates are on) is taken from the first model's input
        (`core.preprocess.hash_picture`).
        """
        try:
            prepared = tuple(classifier.prepare(image) for classifier in self._classifiers)
            hashing = hashed and self._hashes
            key = perceptual_hash(hash_picture(prepared[0], image)) if hashing else None
        except Exception as exc:
            log.exception("preparing a %dx%d image for the model failed", *image.size)
            raise ModelError() from exc
        return prepared, key


def clip_frame(
    data: bytes,
    index: int,
    limits: ImageLimits,
    video: VideoSettings,
    clock: Clock = time.monotonic,
) -> ClipFrame:
    """Frame `index` of an animation or a video, decoded as sampling decodes it (blocking)."""
    kind = kind_of(data)
    if kind is None or kind.media is Media.IMAGE:
        raise DamagedClip(N_("that file is not a clip, so it has no frames"))
    decode = animation_frame if kind.media is Media.ANIMATION else video_frame
    return decode(data, kind.decoder, limits, video, index, Budget(video.decode_budget_s, clock))


def _hand_over(loop: asyncio.AbstractEventLoop, on_frame: OnFrame, frame: SampledFrame) -> None:
    """From the decode thread to the loop; a loop already closed (shutdown) needs no frames."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(on_frame, frame)


def _largest_draft(classifiers: Sequence[Classifier[Any]]) -> tuple[int, int] | None:
    """A draft large enough for every model; none if one model's input size is unknown."""
    drafts = [draft_size(classifier) for classifier in classifiers]
    if any(draft is None for draft in drafts):
        return None
    return max(d for d in drafts if d is not None)


def draft_size(classifier: Classifier[Any]) -> tuple[int, int] | None:
    """Twice the model's input on its longer side, square (EXIF may turn the photo after)."""
    size: tuple[int, int] | None = getattr(classifier, "input_size", None)
    if size is None:
        log.warning("fast_decode is on, but this model's input size is unknown: decoding fully")
        return None
    side = 2 * max(size)
    return side, side
