"""Platform events across a stop and a restart: each answered once, none cut off or left hanging.

Both platforms deliver an event at least once: Telegram redelivers unconfirmed updates after a
restart and Discord replays events on a gateway RESUME, so `SeenMessages` lets a message be
claimed once. A stop must neither drop the answers already started nor wait for them forever:
`InFlight` tracks the tasks handling events, lets them finish within a grace period and cancels
what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from cachetools import LRUCache


class SeenMessages:
    """The last `capacity` message keys claimed; `claim` is true the first time only.

    In memory, so it covers one process; a persistent store can replace it behind `claim`.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self._seen: LRUCache[str, bool] = LRUCache(capacity)

    async def claim(self, key: str) -> bool:
        if self._seen.get(key):  # a repeat also makes the key the last to be forgotten
            return False
        self._seen[key] = True
        return True


class InFlight:
    """The tasks handling events now, so that a stop can wait for them, then cancel them.

    Wrap a handler's body in `track()`. `drain(grace)` refuses new work (callers check
    `stopping`), waits for the tracked work and cancels what still runs after `grace` (e.g. an
    image waiting for its sender's rate), so nothing outlives the client it answers through.
    Where the platform library waits for its handlers itself (PTB's `Application.stop()`),
    `cancel_all()` ends that wait once the grace is over.
    """

    def __init__(self) -> None:
        self.stopping = False
        self._tasks: Counter[asyncio.Task[Any]] = Counter()  # a handler may track nested work
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("InFlight.track() is used outside a task; this is a bug")
        self._tasks[task] += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._tasks[task] -= 1
            if not self._tasks[task]:
                del self._tasks[task]
            if not self._tasks:
                self._idle.set()

    async def drain(self, timeout_s: float) -> bool:
        """Refuse new work and wait for the current work; False if time ran out first.

        Work still running then is cancelled.
        """
        self.stopping = True
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            self.cancel_all()
            return False
        return True

    def cancel_all(self) -> int:
        """Cancel every tracked task but the caller's own; how many were cancelled."""
        others = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        return len(others)
