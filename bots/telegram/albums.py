"""Gather the messages of one Telegram album, so it gets one reply instead of one per image.

Telegram sends an album as separate messages sharing a `media_group_id`, usually in one batch
of updates but with no marker for the last one. The first message to arrive waits until no
further one has come for a quiet period, then takes the whole album.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Album(Generic[T]):
    items: list[T]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class Albums(Generic[T]):
    """`gather` returns every item of an album to its first caller, and None to the others."""

    def __init__(self, quiet_s: float) -> None:
        self._quiet_s = quiet_s
        self._open: dict[Hashable, _Album[T]] = {}

    async def gather(self, key: Hashable, item: T) -> list[T] | None:
        album = self._open.get(key)
        if album is not None:
            album.items.append(item)
            album.arrived.set()
            return None
        album = self._open[key] = _Album([item])
        try:
            while True:
                try:
                    await asyncio.wait_for(album.arrived.wait(), self._quiet_s)
                except TimeoutError:
                    return album.items
                album.arrived.clear()
        finally:
            del self._open[key]
