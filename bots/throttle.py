"""Per-user token buckets, so one user flooding images cannot starve everyone else.

Where every image must be scanned (a moderated chat), `wait` defers an image over the rate
instead of refusing it: the image reserves its token now and waits until the bucket has
refilled, so a flood is slowed down rather than let through unscanned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from enum import Enum

from cachetools import LRUCache

from config import ThrottleSettings

log = logging.getLogger(__name__)


class Admission(Enum):
    ALLOW = "allow"
    REFUSE_AND_NOTIFY = "refuse-and-notify"  # the first refusal of a burst: tell the user once
    REFUSE_SILENTLY = "refuse-silently"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    notified: bool = False
    waiting: int = 0


class Throttle:
    """`admit(user)` spends a token; a refused user is told once until a token is back."""

    def __init__(
        self,
        settings: ThrottleSettings,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 10_000,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._capacity = float(settings.burst)
        self._per_second = settings.per_minute / 60.0
        self._max_deferred = settings.max_deferred
        self._clock = clock
        self._sleep = sleep
        # Bounded memory: past `max_users`, the user heard from least recently is forgotten.
        self._buckets: LRUCache[Hashable, _Bucket] = LRUCache(max_users)
        self.dropped = 0  # deferrable images dropped because too many waited already

    def admit(self, user: Hashable, cost: float = 1.0) -> Admission:
        bucket = self._bucket(user)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            bucket.notified = False
            return Admission.ALLOW
        if bucket.notified:
            return Admission.REFUSE_SILENTLY
        bucket.notified = True
        return Admission.REFUSE_AND_NOTIFY

    async def wait(self, user: Hashable, cost: float = 1.0) -> Admission:
        """Spend `cost` tokens, waiting for them if need be; ALLOW once they are the user's.

        At most `max_deferred` calls of one user wait at a time; past that the call is refused
        like `admit` (told once per burst) and the first drop of a burst is logged. A token
        reserved by a wait that is cancelled (a stop) is not given back: the flood paid for it.
        `cost` must not exceed the burst, or the wait could never end.
        """
        bucket = self._bucket(user)
        if bucket.tokens >= cost:
            return self.admit(user, cost)
        if bucket.waiting >= self._max_deferred:
            self.dropped += 1
            if bucket.notified:
                return Admission.REFUSE_SILENTLY
            log.warning(
                "%s has %d images waiting for their rate; dropping more unscanned (%d so far)",
                user,
                bucket.waiting,
                self.dropped,
            )
            bucket.notified = True
            return Admission.REFUSE_AND_NOTIFY
        bucket.tokens -= cost  # reserved now, so waiters are served in the order they came
        bucket.waiting += 1
        try:
            await self._sleep(-bucket.tokens / self._per_second)
        finally:
            bucket.waiting -= 1
        return Admission.ALLOW

    def _bucket(self, user: Hashable) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(user)
        if bucket is None:
            bucket = self._buckets[user] = _Bucket(self._capacity, now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self._capacity, bucket.tokens + elapsed * self._per_second)
            bucket.updated = now
        return bucket
