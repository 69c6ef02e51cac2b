"""Remember which platform messages were handled, so a redelivered one is answered once.

Telegram redelivers unconfirmed updates after a restart and Discord replays events on a gateway
RESUME. This in-memory store covers one process; a persistent one can replace it behind the same
`claim` call.
"""

from __future__ import annotations

from collections import OrderedDict


class SeenMessages:
    """A bounded set of message keys; `claim` is true the first time only."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def claim(self, key: str) -> bool:
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True
