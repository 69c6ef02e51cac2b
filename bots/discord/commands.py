"""`/check image:<file>` and the message menu "Check for AI image": private answers.

Discord drops an interaction that gets no response within 3 seconds, so the answer is deferred
("thinking...") up front when the queue is already long, and otherwise as soon as it is not
ready within `answer_within_s`. Both answers are ephemeral: only the asker sees them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress

import discord
from discord import app_commands

from bots.delivery import InFlight, SeenMessages
from bots.discord.answers import Assessment, Checker
from bots.discord.inputs import ImageSource, MessageImages
from bots.replies import NO_IMAGE_FOUND, UNEXPECTED, error_text
from config import DiscordSettings, ReplySettings
from core.detector import Judge
from core.errors import ShuttingDown
from core.result import Judgement

log = logging.getLogger(__name__)

CHECK_DESCRIPTION = "Check whether an image is likely AI-generated (only you see the answer)"
IMAGE_DESCRIPTION = "The image to check"
MENU_NAME = "Check for AI image"

# Told about a message someone checked from its menu, e.g. to flag it (moderation).
OnChecked = Callable[[discord.Message, Sequence[Judgement]], Awaitable[None]]
# A server's own reply bands for an interaction there; None for the operator's.
BandsOf = Callable[[discord.Interaction], Awaitable[ReplySettings | None]]


class Commands:
    """The app commands, answering through the same `Checker` as replies in channels."""

    def __init__(
        self,
        settings: DiscordSettings,
        detector: Judge,
        checker: Checker,
        images: MessageImages,
        seen: SeenMessages,
        in_flight: InFlight,
        *,
        on_checked: OnChecked | None = None,
        bands_of: BandsOf | None = None,
    ) -> None:
        self._settings = settings
        self._detector = detector
        self._checker = checker
        self._images = images
        self._seen = seen
        self._in_flight = in_flight
        self._on_checked = on_checked
        self._bands_of = bands_of

    def install(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        """Add both commands to `tree` and route their unexpected errors to `on_error`."""

        @tree.command(name="check", description=CHECK_DESCRIPTION)
        @app_commands.describe(image=IMAGE_DESCRIPTION)
        async def check(interaction: discord.Interaction, image: discord.Attachment) -> None:
            source = self._images.attachment(image, explicit=True)
            await self.answer(interaction, [source] if source else [])

        @tree.context_menu(name=MENU_NAME)
        async def check_message(
            interaction: discord.Interaction, message: discord.Message
        ) -> None:
            await self.answer(interaction, self._images.sources(message), target=message)

        tree.error(self.on_error)

    async def answer(
        self,
        interaction: discord.Interaction,
        sources: Sequence[ImageSource],
        *,
        target: discord.Message | None = None,
    ) -> None:
        if not await self._seen.claim(f"discord:interaction:{interaction.id}"):
            return  # replayed by a gateway RESUME: it was answered already
        if self._in_flight.stopping:
            await _send(interaction, error_text(ShuttingDown()))
            return
        with self._in_flight.track():
            if self._detector.depth > self._settings.defer_when_queue_over:
                await interaction.response.defer(ephemeral=True, thinking=True)
            assessment = await self._within_deadline(interaction, sources)
            await _send(interaction, assessment.text or NO_IMAGE_FOUND)
            if target is not None and self._on_checked is not None:
                await self._on_checked(target, assessment.judgements)

    async def _within_deadline(
        self, interaction: discord.Interaction, sources: Sequence[ImageSource]
    ) -> Assessment:
        work = asyncio.create_task(self._assess(interaction, sources))
        try:
            if not interaction.response.is_done():
                done, _ = await asyncio.wait({work}, timeout=self._settings.answer_within_s)
                if not done:
                    await interaction.response.defer(ephemeral=True, thinking=True)
            return await work
        finally:
            work.cancel()

    async def _assess(
        self, interaction: discord.Interaction, sources: Sequence[ImageSource]
    ) -> Assessment:
        bands = await self._bands_of(interaction) if self._bands_of is not None else None
        return await self._checker.assess(
            interaction.user.id, sources, must_answer=True, bands=bands
        )

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Log a bug once with its traceback and still give the asker an answer."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        log.error("unexpected error in /%s", _command_name(interaction), exc_info=cause)
        with suppress(discord.HTTPException):
            await _send(interaction, UNEXPECTED)


async def _send(interaction: discord.Interaction, text: str) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


def _command_name(interaction: discord.Interaction) -> str:
    command = interaction.command
    return command.name if command is not None else "unknown command"
