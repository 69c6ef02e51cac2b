"""A moderation database outage, as the bots ride it out: noticed once, over by itself.

The store raises `StoreUnavailable` when its database cannot be reached. `Outage.attempt` makes
such a call give a fallback instead, so the caller can carry on with what needs no database (a
private chat's answer, an explicit request), and logs the outage once, when it starts, not per
message. Every call still tries the database, so the first that succeeds ends the outage, and
that is logged once too: service resumes without a restart.

A chat that removes the bot during an outage must still be forgotten: `Outage.forget` deletes
its data at once, or, while the database cannot be reached, as soon as a later call through
`attempt` finds it back (kept in memory: a restart meanwhile loses the pending deletions, which
the log names).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

from core.errors import StoreUnavailable
from core.moderation.types import ChatKey, ModerationStore

log = logging.getLogger(__name__)

T = TypeVar("T")


class Outage:
    """Whether the moderation database answers, as the last call found it."""

    def __init__(self, store: ModerationStore) -> None:
        self._store = store
        self._since: float | None = None
        self._departed: set[ChatKey] = set()  # to forget once the database answers

    async def attempt(self, call: Awaitable[T], fallback: T) -> T:
        """The store call's result; `fallback` when the database cannot be reached."""
        try:
            result = await call
        except StoreUnavailable as error:
            self.failed(error)
            return fallback
        self.answered()
        if self._departed:
            await self._forget_departed()
        return result

    async def forget(self, chat: ChatKey) -> bool:
        """Delete everything stored about `chat` (the bot was removed from it): now, or, during
        an outage, once the database answers again. Whether it was done now."""
        try:
            await self._store.forget(chat)
        except StoreUnavailable as error:
            self.failed(error)
            self._departed.add(chat)
            log.warning(
                "%s chat %s removed the bot while the database is unreachable; its data is "
                "deleted when the database is back",
                chat.platform,
                chat.chat,
            )
            return False
        self.answered()
        self._departed.discard(chat)
        return True

    async def _forget_departed(self) -> None:
        for chat in sorted(self._departed, key=lambda key: (key.platform, key.chat)):
            try:
                await self._store.forget(chat)
            except StoreUnavailable as error:
                self.failed(error)
                return
            self._departed.discard(chat)
            log.info(
                "%s chat %s: its data is deleted now the database is back",
                chat.platform,
                chat.chat,
            )

    @property
    def pending(self) -> frozenset[ChatKey]:
        """The chats waiting to be forgotten."""
        return frozenset(self._departed)

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
