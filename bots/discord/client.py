"""The Discord bot: the discord.py client, its gateway events, and `run()` until a stop.

Everything the client uses is built here from the settings and the injected judge, store,
throttle and duplicate filter; a posted or edited message goes through the chat pipeline, the
commands and buttons to their own modules. `run()` is what `deepguard run` starts. The Message
Content intent is privileged: without it Discord hides attachments and embeds of server messages
from the bot. If the application has not been granted it, the gateway closes with 4014; the bot
then says so and reconnects without it, so `/check` and the message menu keep working. The
commands are synced with their names and descriptions in every catalog language
(`bots.discord.translator`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import discord
from aiohttp.abc import AbstractResolver
from discord import app_commands

from bots.delivery import InFlight, SeenMessages
from bots.discord.answers import ChannelPort, DiscordCalls
from bots.discord.commands import Commands
from bots.discord.inputs import Collector
from bots.discord.links import LinkFetcher
from bots.discord.review import Reviews
from bots.discord.settings import ModCommands
from bots.discord.translator import Translator
from bots.discord.why import Explanations
from bots.i18n import Catalogs
from bots.pipeline import Pipeline
from bots.throttle import Throttle
from config import Settings
from core.backlog import Backlog
from core.detector import Judge
from core.moderation.types import ModerationStore

log = logging.getLogger(__name__)

NO_MESSAGE_CONTENT = (
    "Discord refused the Message Content intent (enable it under Bot > Privileged Gateway "
    "Intents in the developer portal). Reconnecting without it: images posted in servers "
    "won't be seen, but /check and the 'Check for AI image' message menu still work."
)

_ANSWERED_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


async def run(
    settings: Settings,
    detector: Judge,
    stop: asyncio.Event,
    *,
    store: ModerationStore,
    catalogs: Catalogs,
    resolver: AbstractResolver | None = None,
) -> None:
    """Serve Discord until `stop` is set; answers in flight are finished first.

    `catalogs` hold the bot's words in every language; `resolver` resolves the hosts of image
    links (the system's DNS when None).
    """
    token = settings.discord.token.get_secret_value() if settings.discord.token else ""
    throttle, seen = Throttle(settings.throttle), SeenMessages()
    message_content = True
    while True:
        client = DeepGuardClient(
            settings,
            detector,
            throttle,
            seen,
            store=store,
            catalogs=catalogs,
            message_content=message_content,
            resolver=resolver,
        )
        try:
            await _serve(client, token, stop)
            return
        except discord.PrivilegedIntentsRequired:
            if not message_content:
                raise
            log.warning(NO_MESSAGE_CONTENT)
            message_content = False


async def _serve(client: DeepGuardClient, token: str, stop: asyncio.Event) -> None:
    async with client:
        await client.login(token)
        gateway = asyncio.create_task(client.connect(), name="discord-gateway")
        stopped = asyncio.create_task(stop.wait(), name="discord-stop")
        try:
            await asyncio.wait({gateway, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if gateway.done():
                return gateway.result()  # raises what ended it, e.g. PrivilegedIntentsRequired
            gateway.cancel()
            await asyncio.wait({gateway})
            await client.finish()
        finally:
            for task in (gateway, stopped):
                task.cancel()
            await asyncio.wait({gateway, stopped})


def client_options(settings: Settings, *, message_content: bool) -> dict[str, Any]:
    """Keyword arguments for `discord.AutoShardedClient`: intents, mentions, limits, shards."""
    intents = discord.Intents.default()
    intents.message_content = message_content
    return {
        "intents": intents,
        "allowed_mentions": discord.AllowedMentions.none(),
        "max_ratelimit_timeout": settings.discord.max_ratelimit_timeout_s,
        "chunk_guilds_at_startup": False,
        "max_messages": None,  # edits arrive as raw events; no message cache is needed
        **_shards(settings),
    }


def _shards(settings: Settings) -> dict[str, Any]:
    """Shard options for discord.py; none at all lets it ask Discord (GET /gateway/bot)."""
    count, ids = settings.discord.shard_count, settings.discord.shard_ids
    options: dict[str, Any] = {} if count is None else {"shard_count": count}
    if ids is not None:
        options["shard_ids"] = list(ids)
    return options


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
        catalogs: Catalogs,
        message_content: bool = True,
        resolver: AbstractResolver | None = None,
    ) -> None:
        super().__init__(**client_options(settings, message_content=message_content))
        self.settings = settings
        self.store = store
        self._catalogs = catalogs
        self._links = LinkFetcher(settings.discord, settings.images.max_bytes, resolver)
        self._collect = Collector(settings.discord)
        self._calls = DiscordCalls(
            self,
            self._links,
            settings.discord,
            settings.images.max_bytes,
            settings.video.max_bytes,
        )
        self._pipeline = Pipeline(
            detector,
            store,
            throttle,
            seen,
            catalogs,
            bands=settings.replies,
            burst=settings.throttle.burst,
            max_images=settings.discord.max_images_per_message,
            retention=timedelta(days=settings.moderation.retention_days),
            backlog=Backlog(settings.queue.max_admitted),
            declared_ai_is_fake=settings.provenance.declared_ai_is_fake,
        )
        self._in_flight = InFlight()
        self._reviews = Reviews(self, store, seen, catalogs)
        self._mod_commands = ModCommands(store, catalogs, self._pipeline.outage)
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self)
        # `/check` and the message menu first, then the moderators' `/deepguard` group.
        Commands(
            settings.discord,
            detector,
            self._pipeline,
            self._collect,
            self._calls,
            seen,
            self._in_flight,
            catalogs,
        ).install(self.tree)
        self._mod_commands.install(self.tree)
        self._explanations = Explanations(
            detector, throttle, self._collect, self._calls, seen, self._in_flight, catalogs
        )
        self._explanations.install(self.tree)

    async def setup_hook(self) -> None:
        await self._links.open()
        # Names and descriptions in every language the catalogs speak, sent with the sync.
        await self.tree.set_translator(Translator(self._catalogs))
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
        if Explanations.pressed(interaction):
            await self._explanations.on_press(interaction)
            return
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
            event = self._collect.posted(message)
            await self._pipeline.run(event, ChannelPort(self._calls, message))
