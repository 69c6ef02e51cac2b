"""Carry out a flag's actions on Discord, and switch an action off where Discord refuses it.

The review buttons carry the flag id in their custom ids (`deepguard:confirm:<id>`), so they
keep working after a restart: `discord_mod_review.Reviews` answers them from the store, and no
view is kept in memory.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import discord

from bots.replies import (
    CONFIRM_BUTTON,
    DISMISS_BUTTON,
    MARKER_EMOJI,
    REPORT_BUTTON,
    flag_notice,
    permission_missing,
    warning_text,
)
from core.moderation.policy import without_action
from core.moderation.types import Action, ChatPolicy, Flag, ModerationStore

log = logging.getLogger(__name__)

CUSTOM_ID_PREFIX = "deepguard"
_ORDER = (Action.REACT, Action.WARN, Action.MODLOG, Action.TIMEOUT, Action.DELETE)


def buttons(flag_id: int, *kinds: str) -> discord.ui.View:
    """A view of review buttons; stopped, so discord.py does not keep it (custom ids route)."""
    labels = {"confirm": CONFIRM_BUTTON, "dismiss": DISMISS_BUTTON, "report": REPORT_BUTTON}
    styles = {"confirm": discord.ButtonStyle.danger}
    view = discord.ui.View(timeout=None)
    for kind in kinds:
        view.add_item(
            discord.ui.Button(
                label=labels[kind],
                style=styles.get(kind, discord.ButtonStyle.secondary),
                custom_id=f"{CUSTOM_ID_PREFIX}:{kind}:{flag_id}",
            )
        )
    view.stop()
    return view


class FlagActions:
    """Reacts, warns, posts to the mod-log, times out and deletes, as a flag says."""

    def __init__(self, client: discord.Client, store: ModerationStore) -> None:
        self._client = client
        self._store = store
        self._refusals = asyncio.Lock()  # two refusals at once must not both tell

    async def take(
        self, message: discord.Message, flag: Flag, policy: ChatPolicy, channel: str
    ) -> None:
        """Take the flag's actions; `channel` is where the policy applies (a thread's parent)."""
        for action in _ORDER:
            if action not in flag.flag.actions:
                continue
            try:
                await self._take(action, message, flag, policy)
            except discord.Forbidden:
                place = policy.modlog if action is Action.MODLOG else None
                await self.refused(message.guild, action, place or channel, flag)
            except discord.NotFound as error:
                if action is Action.MODLOG and policy.modlog is not None:  # channel deleted
                    await self.refused(message.guild, action, policy.modlog, flag)
                else:  # the message or member went away meanwhile
                    log.info("flag %d: %s found nothing: %s", flag.id, action, error.text)
            except discord.HTTPException as error:
                log.warning("flag %d: %s failed: %s", flag.id, action, error.text or error.status)

    async def _take(
        self, action: Action, message: discord.Message, flag: Flag, policy: ChatPolicy
    ) -> None:
        probability = flag.flag.fake_probability
        if action is Action.REACT:
            await message.add_reaction(MARKER_EMOJI)
        elif action is Action.WARN:
            reference = message.to_reference(fail_if_not_exists=False)
            view = buttons(flag.id, "report")
            await message.channel.send(warning_text(probability), reference=reference, view=view)
        elif action is Action.MODLOG and policy.modlog is not None:
            await self.post_flag(message, flag, policy.modlog)
        elif action is Action.TIMEOUT and isinstance(message.author, discord.Member):
            until = timedelta(minutes=policy.timeout_minutes)
            await message.author.timeout(until, reason="DeepGuard: likely AI-generated image")
        elif action is Action.DELETE:
            await message.delete()

    async def post_flag(self, message: discord.Message, flag: Flag, modlog: str) -> None:
        channel = self._client.get_partial_messageable(int(modlog))
        where = getattr(message.channel, "mention", f"<#{message.channel.id}>")
        text = flag_notice(
            flag.id, message.author.mention, where, flag.flag.fake_probability, message.jump_url
        )
        posted = await channel.send(text, view=buttons(flag.id, "confirm", "dismiss"))
        await self._store.set_modlog_message(flag.id, str(posted.id))

    async def refused(
        self, guild: discord.Guild | None, action: Action, channel: str, flag: Flag
    ) -> None:
        """Switch `action` off in `channel` and say so once (mod-log, else the owner)."""
        async with self._refusals:
            policy = await self._store.policy(flag.flag.chat, private=False)
            if (channel, action) in policy.disabled:
                return  # told already
            policy = without_action(policy, channel, action)
            await self._store.save_policy(flag.flag.chat, policy)
        log.warning(
            "flag %d: Discord refused %s in channel %s; switched off", flag.id, action, channel
        )
        await self.tell(guild, policy, permission_missing(action, f"<#{channel}>"))

    async def tell(self, guild: discord.Guild | None, policy: ChatPolicy, text: str) -> None:
        """Post to the mod-log if the bot still may, otherwise DM the server's owner."""
        if policy.modlog is not None and (policy.modlog, Action.MODLOG) not in policy.disabled:
            try:
                await self._client.get_partial_messageable(int(policy.modlog)).send(text)
                return
            except discord.HTTPException as error:
                log.warning("cannot post to the mod-log: %s", error.text or error.status)
        if guild is None or guild.owner_id is None:
            return
        try:
            owner = await self._client.create_dm(discord.Object(guild.owner_id))
            await owner.send(text)
        except discord.HTTPException as error:
            log.warning("cannot tell the owner of %s: %s", guild.id, error.text or error.status)
