"""The discord.py client: gateway events handed to DeepGuard's collaborators.

Everything it uses is built here from the settings and the injected Detector, store, throttle
and duplicate filter; `bots.discord.bot.run` owns its start, the intent fallback and the stop.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bots.delivery import InFlight, SeenMessages
from bots.discord.answers import Checker
from bots.discord.commands import Commands
from bots.discord.inputs import MessageImages
from bots.discord.links import LinkFetcher
from bots.discord.mod import Moderator
from bots.discord.mod_actions import FlagActions
from bots.discord.mod_commands import ModCommands
from bots.discord.mod_review import Reviews
from bots.discord.options import client_options
from bots.discord.reply import Replier
from bots.throttle import Throttle
from config import Settings
from core.detector import Judge
from core.moderation.types import ModerationStore

log = logging.getLogger(__name__)

_ANSWERED_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


class DeepGuardClient(discord.AutoShardedClient):
    """A discord.py client whose collaborators are all handed in.

    It runs the shards `settings.discord` names, or as many as Discord recommends, over one
    connection each; several processes can split a large bot's shards between them.
    """

    def __init__(
        self,
        settings: Settings,
        detector: Judge,
        throttle: Throttle,
        seen: SeenMessages,
        *,
        store: ModerationStore,
        message_content: bool = True,
    ) -> None:
        super().__init__(**client_options(settings, message_content=message_content))
        self.settings = settings
        self._seen = seen
        self.store = store
        self._links = LinkFetcher(settings.discord, settings.images.max_bytes)
        self._images = MessageImages(settings.discord, self._links, settings.images.max_bytes)
        self._checker = Checker(settings, detector, throttle)
        self._in_flight = InFlight()
        replier = Replier(settings.discord.muted_channel_s)
        self._moderator = Moderator(store, self._checker, FlagActions(self, store), replier.reply)
        self._reviews = Reviews(self, store, seen)
        self._mod_commands = ModCommands(store)
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self)
        self._install_commands(detector)

    def _install_commands(self, detector: Judge) -> None:
        """`/check` and the message menu first, then the moderators' `/deepguard` group."""
        Commands(
            self.settings.discord,
            detector,
            self._checker,
            self._images,
            self._seen,
            self._in_flight,
            on_checked=self._moderator.requested,
            bands_of=self._moderator.bands_of,
        ).install(self.tree)
        self._mod_commands.install(self.tree)

    async def setup_hook(self) -> None:
        await self._links.open()
        guild_id = self.settings.discord.test_guild_id
        if guild_id is None:
            await self.tree.sync()
            return
        guild = discord.Object(guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    async def close(self) -> None:
        await super().close()
        await self._links.close()

    async def finish(self) -> None:
        """Close the gateway, let the answers in flight finish, then close the HTTP session.

        Call it after the task running `connect()` was cancelled, or it would reconnect.
        """
        self._in_flight.stopping = True
        for shard in self.shards.values():
            await shard.disconnect()  # code 1000 ends the session: no RESUME will follow
        grace = self.settings.discord.stop_grace_s
        if not await self._in_flight.drain(grace):
            log.warning("stopping with answers still in flight after %.0f s", grace)
        await self.close()

    async def on_ready(self) -> None:
        intent = "on" if self.intents.message_content else "OFF (only /check and the menu work)"
        shards = sorted(self.shards)  # this process's slice when several share the bot
        log.info(
            "connected to Discord as %s on shards %s of %s; message content %s",
            self.user,
            shards,
            self.shard_count,
            intent,
        )

    async def on_message(self, message: discord.Message) -> None:
        await self._consider(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._consider(payload.message)  # only images not answered before are new

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self._reviews.on_interaction(interaction)  # flag buttons; commands go to the tree

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await self._mod_commands.forget_guild(guild.id)
        log.info("left server %s; its moderation data is deleted", guild.id)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("unexpected error while handling %s", event_method)

    async def _consider(self, message: discord.Message) -> None:
        if self._in_flight.stopping or message.author.bot or message.type not in _ANSWERED_TYPES:
            return
        with self._in_flight.track():
            sources = [
                source
                for source in self._images.sources(message)
                if await self._seen.claim(f"discord:{message.id}:{source.key}")
            ]
            await self._moderator.handle(message, sources)
