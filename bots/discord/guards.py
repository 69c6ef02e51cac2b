"""Small pieces of state that keep the Discord bot polite under stress.

`InFlight` lets a stop finish the answers already started; `MutedChannels` turns a missing
permission into one log line instead of a failed request per message.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any


class InFlight:
    """Counts answers being worked on; once stopping, callers must not start new ones."""

    def __init__(self) -> None:
        self.stopping = False
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        self._count += 1
        self._idle.clear()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def drain(self, timeout_s: float) -> bool:
        """Refuse new work and wait for the current work; False if time ran out first.

        Work still running then (e.g. an image waiting for its sender's rate) is cancelled,
        so it does not outlive the client it answers through.
        """
        self.stopping = True
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            for task in self._tasks - {asyncio.current_task()}:
                task.cancel()
            return False
        return True


class MutedChannels:
    """Channels where the bot may not reply, skipped until the permission may be back."""

    def __init__(
        self,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 10_000,
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._capacity = capacity
        self._until: OrderedDict[int, float] = OrderedDict()

    def muted(self, channel_id: int) -> bool:
        until = self._until.get(channel_id)
        if until is None:
            return False
        if self._clock() < until:
            return True
        del self._until[channel_id]
        return False

    def mute(self, channel_id: int) -> bool:
        """Mute a channel; True only if it was not muted already (so log just once)."""
        if self.muted(channel_id):
            return False
        self._until[channel_id] = self._clock() + self._ttl_s
        while len(self._until) > self._capacity:
            self._until.popitem(last=False)
        return True
