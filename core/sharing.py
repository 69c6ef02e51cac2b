"""Work shared between identical requests: an LRU of past answers, and single-flight.

Chat users repost the same picture, and several people ask about the same one at once; both
are keyed by the SHA-256 of the bytes. A finished answer comes from `LRU`; an unfinished one
is awaited through `SingleFlight`, which runs one task per key for every caller and cancels
it only when the last caller has left.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, Generic, TypeVar

from core.errors import ShuttingDown

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most `size` entries; reading one makes it the last to be evicted; size 0 keeps none."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self._size == 0:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


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
