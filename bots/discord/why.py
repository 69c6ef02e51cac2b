"""The "Why?" button under verdict replies and `/explain image:`: the picture, privately.

The button works for as long as the reply exists, across restarts: its id under a reply in a
channel is fixed (`dg:why`), and pressing it finds the verdict's original message through the
reply's message reference; the message menu's private answer refers to nothing, so its button's
id names the checked message (`dg:why:<channel>:<message>`), which must be in the channel where
the button is pressed (a forged id is refused as expired). Either way the message is fetched
again (nothing is stored) and its first image explained. Whoever presses
(anyone may) spends a token like a check and gets the picture as an ephemeral file, after a
"thinking..." that covers the model's run, with its words in their language. `/explain image:`
does the same for an attachment.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bots.delivery import InFlight, SeenMessages
from bots.discord.answers import DiscordCalls, DiscordPort
from bots.discord.inputs import Collector, DiscordImage
from bots.explain_replies import (
    EXPLAIN_DESCRIPTION,
    EXPLAIN_IMAGE,
    WHY_DATA,
    WHY_PREFIX,
    ButtonExpired,
    OriginalGone,
    explain_caption,
)
from bots.i18n import Catalogs, Words, slash_name
from bots.moderation_replies import BUTTON_EXPIRED
from bots.replies import EXPLAIN_LEGEND, THROTTLED, UNEXPECTED, error_text
from bots.throttle import Admission, Throttle
from core.detector import Judge
from core.errors import DeepGuardError, ShuttingDown

log = logging.getLogger(__name__)

PICTURE_NAME = "why.png"
EXPLAIN_NAME = slash_name("explain")
IMAGE_NAME = slash_name("image")
UNKNOWN_MESSAGE = 10008  # Discord's error code for a message that does not exist (any more)
SNOWFLAKE_DIGITS = 20  # a Discord id is a 64-bit number

Find = Callable[[], Awaitable[DiscordImage]]


class Explanations:
    """Answers the "Why?" button and `/explain`, through the judge and the shared throttle."""

    def __init__(
        self,
        detector: Judge,
        throttle: Throttle,
        collect: Collector,
        calls: DiscordCalls,
        seen: SeenMessages,
        in_flight: InFlight,
        catalogs: Catalogs,
    ) -> None:
        self._detector = detector
        self._catalogs = catalogs
        self._throttle = throttle
        self._collect = collect
        self._calls = calls
        self._seen = seen
        self._in_flight = in_flight

    def install(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        @tree.command(name=EXPLAIN_NAME, description=EXPLAIN_DESCRIPTION)
        @app_commands.rename(image=IMAGE_NAME)
        @app_commands.describe(image=EXPLAIN_IMAGE)
        async def explain(interaction: discord.Interaction, image: discord.Attachment) -> None:
            async def attached() -> DiscordImage:
                return image

            await self.answer(interaction, attached)

    @staticmethod
    def pressed(interaction: discord.Interaction) -> bool:
        """Whether `interaction` is a press of the "Why?" button."""
        data = _custom_id(interaction)
        return interaction.type is discord.InteractionType.component and (
            data == WHY_DATA or data.startswith(WHY_PREFIX)
        )

    async def on_press(self, interaction: discord.Interaction) -> None:
        data = _custom_id(interaction)

        async def original() -> DiscordImage:
            if data == WHY_DATA:
                return await self._original(interaction)
            return await self._named(interaction, data.removeprefix(WHY_PREFIX))

        await self.answer(interaction, original)

    async def answer(self, interaction: discord.Interaction, find: Find) -> None:
        if not await self._seen.claim(f"discord:interaction:{interaction.id}"):
            return  # replayed by a gateway RESUME: it was answered already
        words = self._catalogs.words(str(interaction.locale))
        try:
            if self._in_flight.stopping:
                await _tell(interaction, error_text(words, ShuttingDown()))
                return
            with self._in_flight.track():
                await self._answer(interaction, words, find)
        except discord.HTTPException as error:
            log.warning("answer to interaction %s failed: %s", interaction.id, error)
        except Exception:
            log.exception("unexpected error explaining for interaction %s", interaction.id)
            if not interaction.response.is_done():
                await _tell(interaction, words.gettext(UNEXPECTED))

    async def _answer(self, interaction: discord.Interaction, words: Words, find: Find) -> None:
        if self._throttle.admit(interaction.user.id) is not Admission.ALLOW:
            await _tell(interaction, words.gettext(THROTTLED))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            data = await DiscordPort(self._calls).fetch(await find())
            # The picture's font draws Latin letters only: its legend stays English, and the
            # caption says it in the presser's language (`explain_caption`).
            explanation = await self._detector.explain(data, legend=EXPLAIN_LEGEND)
        except ButtonExpired:
            await interaction.followup.send(words.gettext(BUTTON_EXPIRED), ephemeral=True)
            return
        except DeepGuardError as error:
            await interaction.followup.send(error_text(words, error), ephemeral=True)
            return
        if explanation.png is None:  # a judge that ignored the legend: a bug
            raise RuntimeError("an explanation asked with a legend came without its picture")
        picture = discord.File(io.BytesIO(explanation.png), PICTURE_NAME)
        await interaction.followup.send(
            explain_caption(words, explanation), file=picture, ephemeral=True
        )

    async def _original(self, interaction: discord.Interaction) -> DiscordImage:
        """The first image of the message the pressed reply answered, fetched again."""
        reply = interaction.message
        reference = reply.reference if reply is not None else None
        if reference is None or reference.message_id is None:
            raise OriginalGone()
        channel = self._calls.client.get_partial_messageable(reference.channel_id)
        try:
            original = await channel.fetch_message(reference.message_id)
        except (discord.NotFound, discord.Forbidden):
            raise OriginalGone() from None
        return self._first_image(original)

    async def _named(self, interaction: discord.Interaction, named: str) -> DiscordImage:
        """The first image of the message a private answer's button names, fetched again.

        The answer was shown where the checked message is, so a press elsewhere, an id that is
        not two Discord ids, or a channel the bot cannot read is a forgery: refused as expired.
        Only a message that no longer exists is "gone".
        """
        ids = named.split(":")
        if len(ids) != 2 or not all(_is_snowflake(part) for part in ids):
            raise ButtonExpired()
        channel_id, message_id = (int(part) for part in ids)
        if channel_id != interaction.channel_id:
            raise ButtonExpired()
        channel = self._calls.client.get_partial_messageable(
            channel_id, guild_id=interaction.guild_id
        )
        try:
            original = await channel.fetch_message(message_id)
        except discord.NotFound as error:
            if error.code == UNKNOWN_MESSAGE:
                raise OriginalGone() from None
            raise ButtonExpired() from None  # an unknown channel
        except discord.Forbidden:
            raise ButtonExpired() from None
        return self._first_image(original)

    def _first_image(self, original: discord.Message) -> DiscordImage:
        images = self._collect.images(original)
        if not images:
            raise OriginalGone()
        return images[0].ref


def _custom_id(interaction: discord.Interaction) -> str:
    data: dict[str, object] = dict(interaction.data or {})
    custom_id = data.get("custom_id")
    return custom_id if isinstance(custom_id, str) else ""


def _is_snowflake(text: str) -> bool:
    return (
        text.isascii()
        and text.isdigit()
        and len(text) <= SNOWFLAKE_DIGITS
        and 0 < int(text) < 2**64
    )


async def _tell(interaction: discord.Interaction, text: str) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)
