"""Per-user token buckets, so one user flooding images cannot starve everyone else."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum

from config import ThrottleSettings


class Admission(Enum):
    ALLOW = "allow"
    REFUSE_AND_NOTIFY = "refuse-and-notify"  # the first refusal of a burst: tell the user once
    REFUSE_SILENTLY = "refuse-silently"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    notified: bool = False


class Throttle:
    """`admit(user)` spends a token; a refused user is told once until a token is back."""

    def __init__(
        self,
        settings: ThrottleSettings,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 10_000,
    ) -> None:
        self._capacity = float(settings.burst)
        self._per_second = settings.per_minute / 60.0
        self._clock = clock
        self._max_users = max_users
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

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

    def _bucket(self, user: Hashable) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(user)
        if bucket is None:
            bucket = self._buckets[user] = _Bucket(self._capacity, now)
            while len(self._buckets) > self._max_users:  # bounded memory; the oldest forget first
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(user)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self._capacity, bucket.tokens + elapsed * self._per_second)
            bucket.updated = now
        return bucket
