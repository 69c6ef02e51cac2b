"""The buttons on flags: Confirm and Dismiss for moderators, "Report a mistake" for the poster.

The buttons carry the flag id in their custom ids (`deepguard:confirm:<id>`) and every click
arrives as a component interaction; everything else is read from the store, so buttons posted
before a restart still work after it, and no view is kept in memory. A custom id is a claim
anyone can forge: one that does not parse, or names another server's flag, has "expired", and
the right to review is checked where the flagged message is, not where the button was pressed.
Whoever presses is answered in their own language (`interaction.locale`); what is posted to the
mod-log (a report, the line a review adds to the flag) is in the server's.
"""

from __future__ import annotations

import logging
import re
from contextlib import suppress

import discord

from bots.delivery import SeenMessages
from bots.i18n import Catalogs, Words
from bots.moderation_replies import (
    ALREADY_REVIEWED,
    BUTTON_EXPIRED,
    CONFIRM_BUTTON,
    DISMISS_BUTTON,
    MARKER_EMOJI,
    REPORT_ALREADY,
    REPORT_BUTTON,
    REPORT_MODLOG_FAILED,
    REPORT_NOT_YOURS,
    REPORT_THANKS,
    REVIEW_ADMINS_ONLY,
    UNKNOWN_FLAG,
    report_after_review,
    report_notice,
    report_without_modlog,
    review_line,
)
from bots.replies import UNEXPECTED
from core.moderation.policy import usable_modlog
from core.moderation.types import (
    FLAG_ID_MAX,
    Action,
    ChatKey,
    ChatPolicy,
    Flag,
    FlagStatus,
    ModerationStore,
)

log = logging.getLogger(__name__)

CUSTOM_ID_PREFIX = "deepguard"
_CUSTOM_ID = re.compile(rf"{CUSTOM_ID_PREFIX}:(confirm|dismiss|report):([1-9][0-9]{{0,9}})")


def buttons(words: Words, flag_id: int, *kinds: str) -> discord.ui.View:
    """A view of review buttons labelled in `words`; stopped, so discord.py does not keep it
    (custom ids route)."""
    labels = {"confirm": CONFIRM_BUTTON, "dismiss": DISMISS_BUTTON, "report": REPORT_BUTTON}
    styles = {"confirm": discord.ButtonStyle.danger}
    view = discord.ui.View(timeout=None)
    for kind in kinds:
        view.add_item(
            discord.ui.Button(
                label=words.gettext(labels[kind]),
                style=styles.get(kind, discord.ButtonStyle.secondary),
                custom_id=f"{CUSTOM_ID_PREFIX}:{kind}:{flag_id}",
            )
        )
    view.stop()
    return view


class Reviews:
    """Answers clicks on the bot's flag buttons."""

    def __init__(
        self,
        client: discord.Client,
        store: ModerationStore,
        seen: SeenMessages,
        catalogs: Catalogs,
    ) -> None:
        self._client = client
        self._store = store
        self._seen = seen
        self._catalogs = catalogs

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.component:
            return
        if not await self._seen.claim(f"discord:interaction:{interaction.id}"):
            return  # replayed by a gateway RESUME
        data: dict[str, object] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        words = self._catalogs.words(str(interaction.locale))
        try:
            parsed = _parse(custom_id)
            if parsed is None:  # forged, or a button of a version that is gone
                await _tell(interaction, words.gettext(BUTTON_EXPIRED))
                return
            await self._answer(interaction, words, *parsed)
        except Exception:
            log.exception("unexpected error on the flag button %s", custom_id)
            if not interaction.response.is_done():
                with suppress(discord.HTTPException):
                    await _tell(interaction, words.gettext(UNEXPECTED))

    async def _answer(
        self, interaction: discord.Interaction, words: Words, kind: str, flag_id: int
    ) -> None:
        flag = await self._store.get_flag(flag_id)
        here = ChatKey("discord", str(interaction.guild_id))
        if flag is None:
            await _tell(interaction, words.gettext(UNKNOWN_FLAG))
        elif flag.flag.chat != here:
            await _tell(interaction, words.gettext(BUTTON_EXPIRED))
        elif kind == "report":
            await self._report(interaction, words, flag)
        elif not _may_review(interaction, flag):
            await _tell(interaction, words.gettext(REVIEW_ADMINS_ONLY))
        else:
            await self._review(interaction, words, flag, confirm=kind == "confirm")

    def _server_words(self, interaction: discord.Interaction, policy: ChatPolicy) -> Words:
        """The server's language: its saved choice, else its own Discord language."""
        server = str(interaction.guild_locale) if interaction.guild_locale else None
        return self._catalogs.words(policy.language or server)

    async def _review(
        self, interaction: discord.Interaction, words: Words, flag: Flag, *, confirm: bool
    ) -> None:
        status = FlagStatus.CONFIRMED if confirm else FlagStatus.DISMISSED
        reviewed = await self._store.review(flag.id, status, str(interaction.user.id))
        if reviewed is None:
            await _tell(interaction, words.gettext(ALREADY_REVIEWED))
            return
        deleted = await self._delete(flag) if confirm else None
        if not confirm and Action.REACT in flag.flag.actions:
            await self._unmark(flag)
        # The line joins the mod-log post, so it is in the post's language: the server's.
        policy = await self._store.policy(flag.flag.chat, private=False)
        server = self._server_words(interaction, policy)
        line = review_line(server, status, interaction.user.mention, deleted=deleted)
        before = interaction.message.content if interaction.message else ""
        await interaction.response.edit_message(content=f"{before}\n{line}", view=None)

    async def _delete(self, flag: Flag) -> bool:
        """Delete the flagged message if it still exists; False if gone or not allowed."""
        try:
            await self._message(flag).delete()
        except discord.HTTPException as error:
            log.info("flag %d: not deleted (%s)", flag.id, error.status)
            return False
        return True

    async def _unmark(self, flag: Flag) -> None:
        me = self._client.user
        if me is not None:
            with suppress(discord.HTTPException):  # gone already, or the reaction was removed
                await self._message(flag).remove_reaction(MARKER_EMOJI, me)

    def _message(self, flag: Flag) -> discord.PartialMessage:
        channel = self._client.get_partial_messageable(int(flag.flag.channel))
        return channel.get_partial_message(int(flag.flag.message))

    async def _report(self, interaction: discord.Interaction, words: Words, flag: Flag) -> None:
        """Record the poster's report, tell the moderators if there are any, and say which."""
        if str(interaction.user.id) != flag.flag.author:
            await _tell(interaction, words.gettext(REPORT_NOT_YOURS))
            return
        if flag.status is not FlagStatus.OPEN:
            await _tell(interaction, report_after_review(words, flag.status))
            return
        if not await self._store.report(flag.id):
            await _tell(interaction, words.gettext(REPORT_ALREADY))
            return
        policy = await self._store.policy(flag.flag.chat, private=False)
        modlog = usable_modlog(policy)
        if modlog is None:
            await _tell(interaction, report_without_modlog(words, "server"))
            return
        server = self._server_words(interaction, policy)
        notice = report_notice(server, flag.id, interaction.user.mention)
        channel = self._client.get_partial_messageable(int(modlog))
        try:
            await channel.send(
                f"{notice}\n{self._message(flag).jump_url}",
                view=buttons(server, flag.id, "confirm", "dismiss"),
            )
        except discord.HTTPException as error:
            log.warning("flag %d: report not posted to the mod-log: %s", flag.id, error)
            await _tell(interaction, words.gettext(REPORT_MODLOG_FAILED))
            return
        await _tell(interaction, words.gettext(REPORT_THANKS))


def _parse(custom_id: str) -> tuple[str, int] | None:
    """The kind of button and its flag id; None for an id this bot never made."""
    match = _CUSTOM_ID.fullmatch(custom_id)
    if match is None or int(match[2]) > FLAG_ID_MAX:
        return None
    return match[1], int(match[2])


def _may_review(interaction: discord.Interaction, flag: Flag) -> bool:
    """Whether the member may manage messages where the flagged message is.

    Not where the button was pressed: the mod-log may grant rights the flagged channel does
    not. A channel the bot no longer knows falls back to the member's server-wide rights.
    """
    member, guild = interaction.user, interaction.guild
    if not isinstance(member, discord.Member) or guild is None:
        return False
    channel = guild.get_channel_or_thread(int(flag.flag.channel))
    permissions = (
        channel.permissions_for(member) if channel is not None else member.guild_permissions
    )
    return permissions.administrator or permissions.manage_messages or permissions.manage_guild


async def _tell(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True)
