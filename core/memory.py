"""Scores already computed, so that a repeated image skips the model."""

from __future__ import annotations

from dataclasses import dataclass

from core.near_duplicates import NearDuplicates
from core.result import Evidence, Scores
from core.sharing import LRU


@dataclass(frozen=True, slots=True)
class Remembered:
    """What identical bytes always give again: the model's scores and the image's declarations."""

    scores: Scores
    provenance: tuple[Evidence, ...]


class ScoreMemory:
    """Scores by SHA-256 of the bytes and, when a distance is set, by perceptual hash.

    Scores, not judgements, are kept: a changed threshold applies to remembered ones too. A
    look-alike shares only scores: its declarations are its own bytes' (a re-encoded copy has
    lost its Content Credentials).
    """

    def __init__(self, size: int, near_distance: int | None) -> None:
        self._exact: LRU[str, Remembered] = LRU(size)
        self._near: NearDuplicates[Scores] | None = (
            None if near_distance is None else NearDuplicates(size, near_distance)
        )

    @property
    def hashes(self) -> bool:
        """Whether look-alikes are matched, so decoding must hash the model input."""
        return self._near is not None

    def get(self, digest: str) -> Remembered | None:
        return self._exact.get(digest)

    def find_near(
        self, digest: str, key: int | None, provenance: tuple[Evidence, ...]
    ) -> Scores | None:
        """A look-alike's scores, then remembered under `digest` (with its own provenance)."""
        if key is None or self._near is None:
            return None
        seen = self._near.find(key)
        if seen is not None:
            self._exact.put(digest, Remembered(seen, provenance))
        return seen

    def put(
        self, digest: str, key: int | None, scores: Scores, provenance: tuple[Evidence, ...]
    ) -> None:
        self._exact.put(digest, Remembered(scores, provenance))
        if key is not None and self._near is not None:
            self._near.put(key, scores)
