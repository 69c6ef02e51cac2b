"""A moderation database outage, as the bots ride it out: noticed once, over by itself.

The store raises `StoreUnavailable` when its database cannot be reached. `Outage.attempt` makes
such a call give a fallback instead, so the caller can carry on with what needs no database (a
private chat's answer, an explicit request), and logs the outage once, when it starts, not per
message. Every call still tries the database, so the first that succeeds ends the outage, and
that is logged once too: service resumes without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

from core.errors import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


class Outage:
    """Whether the moderation database answers, as the last call found it."""

    def __init__(self) -> None:
        self._since: float | None = None

    async def attempt(self, call: Awaitable[T], fallback: T) -> T:
        """The store call's result; `fallback` when the database cannot be reached."""
        try:
            result = await call
        except StoreUnavailable as error:
            self.failed(error)
            return fallback
        self.answered()
        return result

    def failed(self, error: StoreUnavailable) -> None:
        """A call found the database unreachable: logged if it is the first to."""
        if self._since is not None:
            return
        self._since = time.monotonic()
        cause = error.__cause__ or error
        log.error(
            "the moderation database cannot be reached (%s: %s): groups get no answers, "
            "private chats and requests still do, until it is back",
            type(cause).__name__,
            cause,
        )

    def answered(self) -> None:
        """A call reached the database: the end of an outage, if there was one."""
        if self._since is None:
            return
        log.warning(
            "the moderation database is reachable again after %.0f s",
            time.monotonic() - self._since,
        )
        self._since = None
