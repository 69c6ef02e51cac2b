"""Upload bytes to model input, in a thread pool of its own, before a request is queued.

A bad upload is refused here at once and never reaches a batch. The same thread first reads
what the original bytes declare about themselves (`core.provenance`), before any pixel is
decoded: the cheap part of the job, and the one that needs the bytes exactly as sent.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from config import ImageLimits
from core.errors import ModelError
from core.images import decode_image
from core.near_duplicates import perceptual_hash
from core.preprocess import PixelArray
from core.provenance.reader import ProvenanceReader
from core.result import Evidence

if TYPE_CHECKING:  # the model stack (torch) is imported by `Detector.open` only
    from core.classifier import Classifier

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Decoded:
    pixels: PixelArray
    key: int | None  # perceptual hash of `pixels`, when near-duplicates are on
    provenance: tuple[Evidence, ...]


class Decoder:
    """Decodes and prepares images off the event loop for one classifier."""

    def __init__(
        self,
        classifier: Classifier,
        limits: ImageLimits,
        workers: int,
        *,
        hashes: bool,
        provenance: ProvenanceReader,
    ) -> None:
        self._classifier = classifier
        self._limits = limits
        self._hashes = hashes
        self._provenance = provenance
        self._draft = draft_size(classifier) if limits.fast_decode else None
        self._pool = ThreadPoolExecutor(workers, "deepguard-decode")

    async def decode(self, data: bytes) -> Decoded:
        """The model input, its perceptual hash, and what the bytes declare."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._decode, data)

    async def decode_picture(self, data: bytes) -> tuple[Image.Image, PixelArray]:
        """The decoded picture and its model input, decoded as for judging (for explanations)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._decode_picture, data)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _decode(self, data: bytes) -> Decoded:
        """Run in a decode thread: what the bytes declare, then the model input and its hash."""
        provenance = self._provenance.read(data)
        pixels = self._prepare(decode_image(data, self._limits, self._draft))
        return Decoded(pixels, perceptual_hash(pixels) if self._hashes else None, provenance)

    def _decode_picture(self, data: bytes) -> tuple[Image.Image, PixelArray]:
        image = decode_image(data, self._limits, self._draft)
        return image, self._prepare(image)

    def _prepare(self, image: Image.Image) -> PixelArray:
        """A failing processor is the model's failure, not the user's."""
        try:
            return self._classifier.prepare(image)
        except Exception as exc:
            log.exception("preparing a %dx%d image for the model failed", *image.size)
            raise ModelError() from exc


def draft_size(classifier: Classifier) -> tuple[int, int] | None:
    """Twice the model's input on its longer side, square (EXIF may turn the photo after)."""
    size: tuple[int, int] | None = getattr(classifier, "input_size", None)
    if size is None:
        log.warning("fast_decode is on, but this model's input size is unknown: decoding fully")
        return None
    side = 2 * max(size)
    return side, side
