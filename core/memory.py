"""Scores already computed, so that a repeated image skips the model."""

from __future__ import annotations

from core.near_duplicates import NearDuplicates
from core.result import Scores
from core.sharing import LRU


class ScoreMemory:
    """Scores by SHA-256 of the bytes and, when a distance is set, by perceptual hash.

    Scores, not judgements, are kept: a changed threshold applies to remembered ones too.
    """

    def __init__(self, size: int, near_distance: int | None) -> None:
        self._exact: LRU[str, Scores] = LRU(size)
        self._near: NearDuplicates[Scores] | None = (
            None if near_distance is None else NearDuplicates(size, near_distance)
        )

    @property
    def hashes(self) -> bool:
        """Whether look-alikes are matched, so decoding must hash the model input."""
        return self._near is not None

    def get(self, digest: str) -> Scores | None:
        return self._exact.get(digest)

    def find_near(self, digest: str, key: int | None) -> Scores | None:
        """A look-alike's scores, then remembered under `digest` too."""
        if key is None or self._near is None:
            return None
        seen = self._near.find(key)
        if seen is not None:
            self._exact.put(digest, seen)
        return seen

    def put(self, digest: str, key: int | None, scores: Scores) -> None:
        self._exact.put(digest, scores)
        if key is not None and self._near is not None:
            self._near.put(key, scores)
