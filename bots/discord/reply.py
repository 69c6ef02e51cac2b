"""Replies to a Discord message, quietly skipping channels that refused the bot recently.

A channel that denies the bot Send Messages would otherwise cost a failed request (and a log
line) for every image posted there; `MutedChannels` turns that into one warning per ttl.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import discord
from cachetools import TTLCache

log = logging.getLogger(__name__)


class Replier:
    """Sends the bot's replies; a channel that answered 403 is skipped for `muted_channel_s`."""

    def __init__(self, muted_channel_s: float) -> None:
        self._muted_channel_s = muted_channel_s
        self._muted = MutedChannels(muted_channel_s)

    async def reply(
        self, message: discord.Message, text: str, view: discord.ui.View | None = None
    ) -> None:
        """Reply unless the channel refused recently (it is still moderated)."""
        if self._muted.muted(message.channel.id):
            return
        reference = message.to_reference(fail_if_not_exists=False)
        try:
            await message.channel.send(
                text, reference=reference, mention_author=False, view=view or discord.utils.MISSING
            )
        except discord.Forbidden as error:
            if self._muted.mute(message.channel.id):
                log.warning(
                    "cannot reply in channel %s (%s); skipping it for %.0f s",
                    message.channel.id,
                    error.text or error.status,
                    self._muted_channel_s,
                )
        except discord.RateLimited as error:
            log.warning("dropped a reply: rate limited for %.0f s", error.retry_after)


class MutedChannels:
    """Channels where the bot may not reply, skipped until the permission may be back.

    At most `capacity` are remembered; past that, the least recently muted is tried again early.
    """

    def __init__(
        self,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 10_000,
    ) -> None:
        self._muted: TTLCache[int, bool] = TTLCache(capacity, ttl_s, timer=clock)

    def muted(self, channel_id: int) -> bool:
        return channel_id in self._muted

    def mute(self, channel_id: int) -> bool:
        """Mute a channel; True only if it was not muted already (so log just once)."""
        if self.muted(channel_id):
            return False
        self._muted[channel_id] = True
        return True
