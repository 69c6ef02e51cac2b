"""Recognise a picture already judged when its bytes differ: re-posted, re-compressed, resized.

Chat apps re-encode what they forward, so the SHA-256 cache misses most re-posts. A 64-bit
perceptual hash (pHash: the signs of the lowest 8x8 DCT frequencies of a 32x32 grey thumbnail,
against their median) changes by a few bits under re-compression or resizing and by about half
its bits between unrelated pictures. It is taken from the model's own input tensor, so two
images whose hashes agree are images the model sees almost identically.

Off by default: a small edit (a face swapped into a photo) can keep the hash of the original,
and would then get the original's answer. docs/benchmarks.md measures how often distinct
pictures collide at each distance.
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.preprocess import PixelArray

V = TypeVar("V")
_SIDE: Final = 32
_LOW: Final = 8


def _dct_matrix(n: int) -> npt.NDArray[np.float64]:
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    return np.cos(np.pi * (2 * i + 1) * k / (2 * n))


_DCT: Final = _dct_matrix(_SIDE)


def perceptual_hash(pixels: PixelArray) -> int:
    """pHash of a (channels, height, width) model input: 64 bits, close images close bits."""
    grey = np.ascontiguousarray(pixels.mean(axis=0), dtype=np.float32)
    thumb = Image.fromarray(grey).resize((_SIDE, _SIDE), Image.Resampling.BOX)
    low = (_DCT @ np.asarray(thumb, dtype=np.float64) @ _DCT.T)[:_LOW, :_LOW].reshape(-1)
    bits = low > np.median(low[1:])  # the DC term says how bright, not what is shown
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


class NearDuplicates(Generic[V]):
    """The last `size` hashes and their values; `find` returns the nearest within `distance`."""

    def __init__(self, size: int, distance: int) -> None:
        self._distance = distance
        self._hashes = np.zeros(size, dtype=np.uint64)
        self._values: list[V] = []
        self._next = 0  # oldest entry once full: a ring, so the scan stays one numpy call

    def find(self, key: int) -> V | None:
        if not self._values:
            return None
        stored = self._hashes[: len(self._values)]
        distances = np.bitwise_count(stored ^ np.uint64(key))
        nearest = int(distances.argmin())
        return self._values[nearest] if distances[nearest] <= self._distance else None

    def put(self, key: int, value: V) -> None:
        if self._hashes.size == 0:
            return
        self._hashes[self._next] = key
        if len(self._values) < self._hashes.size:
            self._values.append(value)
        else:
            self._values[self._next] = value
        self._next = (self._next + 1) % self._hashes.size
