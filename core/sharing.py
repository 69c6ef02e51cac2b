"""Work shared between identical requests: scores remembered, and single-flight.

Chat users repost the same picture, and several people ask about the same one at once. A
finished answer's scores come from `ScoreMemory`, keyed by the SHA-256 of the bytes (and, when
a distance is set, by perceptual hash, so re-encoded copies hit too); an unfinished one is
awaited through `SingleFlight`, which runs one task per key for every caller and cancels it
only when the last caller has left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from cachetools import LRUCache

from core.errors import ShuttingDown
from core.near_duplicates import NearDuplicates
from core.result import Evidence, Scores

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Remembered:
    """What identical bytes always give again: the model's scores and the image's declarations."""

    scores: Scores
    provenance: tuple[Evidence, ...]


class ScoreMemory:
    """The last `size` scores by SHA-256 of the bytes (least recently used forgotten first)
    and, when `near_distance` is set, by perceptual hash; size 0 remembers nothing.

    Scores, not judgements, are kept: a changed threshold applies to remembered ones too. A
    look-alike shares only scores: its declarations are its own bytes' (a re-encoded copy has
    lost its Content Credentials).
    """

    def __init__(self, size: int, near_distance: int | None) -> None:
        self._exact: LRUCache[str, Remembered] | None = LRUCache(size) if size else None
        self._near: NearDuplicates[Scores] | None = (
            None if near_distance is None else NearDuplicates(size, near_distance)
        )

    @property
    def hashes(self) -> bool:
        """Whether look-alikes are matched, so decoding must hash the model input."""
        return self._near is not None

    def get(self, digest: str) -> Remembered | None:
        return None if self._exact is None else self._exact.get(digest)

    def find_near(
        self, digest: str, key: int | None, provenance: tuple[Evidence, ...]
    ) -> Scores | None:
        """A look-alike's scores, then remembered under `digest` (with its own provenance)."""
        if key is None or self._near is None:
            return None
        seen = self._near.find(key)
        if seen is not None and self._exact is not None:
            self._exact[digest] = Remembered(seen, provenance)
        return seen

    def put(
        self, digest: str, key: int | None, scores: Scores, provenance: tuple[Evidence, ...]
    ) -> None:
        if self._exact is not None:
            self._exact[digest] = Remembered(scores, provenance)
        if key is not None and self._near is not None:
            self._near.put(key, scores)


class SingleFlight(Generic[K, V]):
    """One task per key, awaited by every caller that asks while it runs."""

    def __init__(self) -> None:
        self._flights: dict[K, _Flight[V]] = {}
        self.tasks: set[asyncio.Task[V]] = set()  # every unfinished one, for shutdown

    def join(self, key: K, start: Callable[[], Coroutine[Any, Any, V]]) -> tuple[_Flight[V], bool]:
        """The flight for `key`, started with `start()` if none is running; True if joined."""
        flight = self._flights.get(key)
        if flight is not None and not flight.abandoned:
            return flight, True
        task = asyncio.create_task(start())
        flight = self._flights[key] = _Flight(task)
        self.tasks.add(task)
        task.add_done_callback(partial(self._land, key, flight))
        return flight, False

    def _land(self, key: K, flight: _Flight[V], task: asyncio.Task[V]) -> None:
        self.tasks.discard(task)
        if self._flights.get(key) is flight:  # a newer flight may have replaced an abandoned one
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved here: every caller may have left before it failed


class _Flight(Generic[V]):
    def __init__(self, task: asyncio.Task[V]) -> None:
        self.task = task
        self.abandoned = False  # every caller left and it was cancelled: newcomers start afresh
        self._callers = 0

    async def wait(self) -> V:
        """Await the shared task; leaving (cancelled, timed out) does not stop it for others."""
        self._callers += 1
        try:
            return await asyncio.shield(self.task)
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            if self.task.cancelled() and caller is not None and not caller.cancelling():
                # The task was stopped by shutdown, not this caller: say so politely.
                raise ShuttingDown() from None
            raise
        finally:
            self._callers -= 1
            if self._callers == 0 and not self.task.done():
                self.abandoned = True
                self.task.cancel()
