"""Upload bytes to model input, in a thread pool of its own, before a request is queued.

A bad upload is refused here at once and never reaches a batch.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from config import ImageLimits
from core.errors import ModelError
from core.images import decode_image
from core.near_duplicates import perceptual_hash
from core.preprocess import hash_picture

if TYPE_CHECKING:  # the model stack (torch) is imported by `Detector.open` only
    from core.classifier import Classifier

log = logging.getLogger(__name__)


class Decoder:
    """Decodes and prepares images off the event loop for one classifier."""

    def __init__(
        self, classifier: Classifier, limits: ImageLimits, workers: int, *, hashes: bool
    ) -> None:
        self._classifier = classifier
        self._limits = limits
        self._hashes = hashes
        self._draft = draft_size(classifier) if limits.fast_decode else None
        self._pool = ThreadPoolExecutor(workers, "deepguard-decode")

    async def decode(self, data: bytes) -> tuple[Any, int | None]:
        """The model input, and its perceptual hash when near-duplicates are on."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._decode, data)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _decode(self, data: bytes) -> tuple[Any, int | None]:
        """Run in a decode thread; a failing processor is the model's failure, not the user's.

        Also returns the perceptual hash of the model input when near-duplicates are on.
        """
        image = decode_image(data, self._limits, self._draft)
        try:
            prepared = self._classifier.prepare(image)
            key = perceptual_hash(hash_picture(prepared, image)) if self._hashes else None
        except Exception as exc:
            log.exception("preparing a %dx%d image for the model failed", *image.size)
            raise ModelError() from exc
        return prepared, key


def draft_size(classifier: Classifier) -> tuple[int, int] | None:
    """Twice the model's input on its longer side, square (EXIF may turn the photo after)."""
    size: tuple[int, int] | None = getattr(classifier, "input_size", None)
    if size is None:
        log.warning("fast_decode is on, but this model's input size is unknown: decoding fully")
        return None
    side = 2 * max(size)
    return side, side
