"""`/check image:<file>` and the message menu "Check for AI image": private answers.

Both run the chat pipeline as a request: always answered, and a checked server message is
flagged if its server's policy says so. Discord drops an interaction that gets no response
within 3 seconds, so the answer is deferred ("thinking...") up front when the queue is already
long, and otherwise as soon as it is not ready within `answer_within_s`. Both answers are
ephemeral: only the asker sees them, in their own language (`interaction.locale`). The menu's
verdict carries a "Why?" button whose id names the checked message (`why_data`); `/check`'s file
is in no message, so its answer has none (`/explain` explains a file).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bots.delivery import InFlight, SeenMessages
from bots.discord.answers import DiscordCalls, InteractionPort, why_data
from bots.discord.inputs import Collector, DiscordEvent
from bots.i18n import N_, Catalogs, slash_name
from bots.pipeline import Pipeline
from bots.replies import UNEXPECTED, error_text
from config import DiscordSettings
from core.detector import Judge
from core.errors import ShuttingDown

log = logging.getLogger(__name__)

CHECK_NAME = slash_name("check")
# TRANSLATORS: a Discord command's description: at most 100 characters.
CHECK_DESCRIPTION = N_(
    "Check whether an image or video is likely AI-generated (only you see the answer)"
)
IMAGE_NAME = slash_name("image")
# TRANSLATORS: a Discord command option's description: at most 100 characters.
IMAGE_DESCRIPTION = N_("The image, GIF or video to check")
# TRANSLATORS: the name of a Discord message menu (right-click a message, Apps): at most 32
# characters, spaces and capitals allowed.
MENU_NAME = N_("Check for AI image")

Collect = Callable[[], Awaitable[DiscordEvent]]


class Commands:
    """The app commands, answering through the same pipeline as replies in channels."""

    def __init__(
        self,
        settings: DiscordSettings,
        detector: Judge,
        pipeline: Pipeline,
        collect: Collector,
        calls: DiscordCalls,
        seen: SeenMessages,
        in_flight: InFlight,
        catalogs: Catalogs,
    ) -> None:
        self._settings = settings
        self._catalogs = catalogs
        self._detector = detector
        self._pipeline = pipeline
        self._collect = collect
        self._calls = calls
        self._seen = seen
        self._in_flight = in_flight

    def install(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        """Add both commands to `tree` and route their unexpected errors to `on_error`."""

        @tree.command(name=CHECK_NAME, description=CHECK_DESCRIPTION)
        @app_commands.rename(image=IMAGE_NAME)
        @app_commands.describe(image=IMAGE_DESCRIPTION)
        async def check(interaction: discord.Interaction, image: discord.Attachment) -> None:
            async def collect() -> DiscordEvent:
                return self._collect.checked_file(interaction, image)

            await self.answer(interaction, collect)

        @tree.context_menu(name=MENU_NAME)
        async def check_message(
            interaction: discord.Interaction, message: discord.Message
        ) -> None:
            async def collect() -> DiscordEvent:
                return await self._collect.checked_message(interaction, message)

            await self.answer(interaction, collect, why=why_data(message))

        tree.error(self.on_error)

    async def answer(
        self, interaction: discord.Interaction, collect: Collect, why: str | None = None
    ) -> None:
        """Answer privately; a verdict gets a "Why?" button of id `why`, if given."""
        if not await self._seen.claim(f"discord:interaction:{interaction.id}"):
            return  # replayed by a gateway RESUME: it was answered already
        port = InteractionPort(self._calls, interaction, why)
        if self._in_flight.stopping:
            words = self._catalogs.words(str(interaction.locale))
            await port.reply(error_text(words, ShuttingDown()), None, words)
            return
        with self._in_flight.track():
            if self._detector.depth > self._settings.defer_when_queue_over:
                await port.defer()
            work = asyncio.create_task(self._run(collect, port))
            try:
                done, _ = await asyncio.wait({work}, timeout=self._settings.answer_within_s)
                if not done:
                    await port.defer()
                await work
            finally:
                work.cancel()

    async def _run(self, collect: Collect, port: InteractionPort) -> None:
        await self._pipeline.run(await collect(), port)

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Log a bug once with its traceback and still give the asker an answer."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        log.error("unexpected error in /%s", _command_name(interaction), exc_info=cause)
        words = self._catalogs.words(str(interaction.locale))
        await InteractionPort(self._calls, interaction).reply(
            words.gettext(UNEXPECTED), None, words
        )


def _command_name(interaction: discord.Interaction) -> str:
    command = interaction.command
    return command.name if command is not None else "unknown command"
