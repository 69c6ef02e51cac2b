"""How much upload work may be in hand at once, before the model: downloads, decodes, the queue.

The model's queue is bounded (`QueueSettings.max_pending`), but an upload is held long before it
reaches the queue: while it downloads, and while it waits for a decode thread. Without a bound
there, a flood from many accounts grows memory by an upload's bytes (up to the byte cap) for
every image in hand, and nobody is told "busy". `Backlog` counts each upload from the start
of its download to its answer, and refuses one past the limit with `Overloaded`, which the bots
answer as they answer a full queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import Overloaded


class Backlog:
    """At most `limit` uploads in hand at once; `admit()` raises `Overloaded` past it."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a backlog limit must be at least 1")
        self.limit = limit
        self.in_hand = 0
        self.refused = 0

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold one place for the block (fetch and judge one upload), or refuse at once."""
        if self.in_hand >= self.limit:
            self.refused += 1
            raise Overloaded()
        self.in_hand += 1
        try:
            yield
        finally:
            self.in_hand -= 1
