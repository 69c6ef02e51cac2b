"""Upload bytes to model input, in a thread pool of its own, before a request is queued.

A bad upload is refused here at once and never reaches a batch. The image is decoded once and
prepared for each model (several models judge together in `core.ensemble`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from PIL import Image

from config import ImageLimits
from core.errors import ModelError
from core.images import decode_image
from core.near_duplicates import perceptual_hash
from core.preprocess import hash_picture

if TYPE_CHECKING:  # the model stack (torch) is imported by `Detector.open` only
    from core.classifier import Classifier

log = logging.getLogger(__name__)


class Decoder:
    """Decodes images off the event loop and prepares them for each classifier."""

    def __init__(
        self,
        classifiers: Sequence[Classifier[Any]],
        limits: ImageLimits,
        workers: int,
        *,
        hashes: bool,
    ) -> None:
        self._classifiers = tuple(classifiers)
        self._limits = limits
        self._hashes = hashes
        self._draft = _largest_draft(self._classifiers) if limits.fast_decode else None
        self._pool = ThreadPoolExecutor(workers, "deepguard-decode")

    async def decode(self, data: bytes) -> tuple[tuple[Any, ...], int | None]:
        """Each classifier's input, and a perceptual hash when near-duplicates are on."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._decode, data)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _decode(self, data: bytes) -> tuple[tuple[Any, ...], int | None]:
        return self.prepare(decode_image(data, self._limits, self._draft))

    def prepare(self, image: Image.Image) -> tuple[tuple[Any, ...], int | None]:
        """Each classifier's input for a decoded picture (blocking: in a decode thread).

        A failing processor is the model's failure, not the user's. The hash is taken from
        the first model's input (`core.preprocess.hash_picture`).
        """
        try:
            prepared = tuple(classifier.prepare(image) for classifier in self._classifiers)
            key = perceptual_hash(hash_picture(prepared[0], image)) if self._hashes else None
        except Exception as exc:
            log.exception("preparing a %dx%d image for the model failed", *image.size)
            raise ModelError() from exc
        return prepared, key


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
